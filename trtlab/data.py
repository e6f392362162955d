"""MNIST for the workbook: the full set through Keras when it can be downloaded, else the
10,000 real digits shipped in ``data/mnist-10k.npz`` (see ``data/README.md``).

    >>> ds = load_mnist()                     # doctest: +SKIP
    >>> ds.x_train.shape, ds.source           # doctest: +SKIP
    ((8000, 28, 28, 1), 'sample')

Images come as float32 in [0, 1], NHWC with one channel (TensorFlow's layout); labels as
int64. ``nchw`` gives the same images in TensorRT's layout.
"""
from __future__ import annotations

import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import UserError, atomic_write, repo_root

DATA_DIR = repo_root() / "data"
SAMPLE = DATA_DIR / "mnist-10k.npz"
FULL = DATA_DIR / "mnist-full.npz"  # the Keras download, cached (git-ignored)
KERAS_HOST = "storage.googleapis.com"
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class MNIST:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "full" (Keras download) or "sample" (the 10k digits shipped in data/)

    def __repr__(self) -> str:
        return (f"MNIST(source={self.source!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
                f"image={self.x_train.shape[1:]})")


def nchw(images: np.ndarray) -> np.ndarray:
    """NHWC → NCHW, contiguous: TensorFlow's layout to TensorRT's."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def is_offline(timeout: float = 2.0) -> bool:
    """True when ``TRTLAB_OFFLINE=1`` or the Keras download host cannot be reached quickly."""
    if os.environ.get("TRTLAB_OFFLINE", "") not in ("", "0"):
        return True
    try:
        socket.setdefaulttimeout(timeout)
        with socket.create_connection((KERAS_HOST, 443), timeout=timeout):
            return False
    except OSError:
        return True
    finally:
        socket.setdefaulttimeout(None)


def _scale(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., None]


def _load_full() -> MNIST:
    if not FULL.exists():
        from keras.datasets import mnist  # the download happens here

        (xa, ya), (xb, yb) = mnist.load_data()
        buf = io.BytesIO()
        np.savez_compressed(buf, x_train=xa, y_train=ya, x_test=xb, y_test=yb)
        atomic_write(FULL, buf.getvalue())
    with np.load(FULL) as z:
        return MNIST(_scale(z["x_train"]), z["y_train"].astype(np.int64),
                     _scale(z["x_test"]), z["y_test"].astype(np.int64), "full")


def load_sample(path: Path = SAMPLE) -> MNIST:
    """The shipped 10,000 digits, split 80/20 with a fixed seed (same split on every machine)."""
    if not path.exists():
        raise UserError(f"MNIST sample {path} is missing; run: python scripts/make_mnist_sample.py")
    with np.load(path) as z:
        images, labels = z["images"], z["labels"].astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    n_test = int(len(images) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return MNIST(_scale(images[train]), labels[train], _scale(images[test]), labels[test], "sample")


def load_mnist(prefer: str = "auto") -> MNIST:
    """MNIST as float32 NHWC images in [0, 1] and int64 labels.

    ``prefer="auto"``: the full set if it is cached or can be downloaded, else the sample.
    ``"sample"``: always the shipped sample (what tests use: same numbers everywhere).
    ``"full"``: the full set or an error.
    """
    if prefer not in ("auto", "sample", "full"):
        raise UserError(f"prefer must be 'auto', 'sample' or 'full', not {prefer!r}")
    if prefer == "sample":
        return load_sample()
    if FULL.exists() or not is_offline():
        try:
            return _load_full()
        except Exception as exc:  # network went away mid-download, bad cache …
            if prefer == "full":
                raise UserError(f"full MNIST could not be loaded: {exc}") from None
    elif prefer == "full":
        raise UserError(f"full MNIST needs a network connection to {KERAS_HOST} (or TRTLAB_OFFLINE is set)")
    return load_sample()
