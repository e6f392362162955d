from __future__ import annotations

import sys
import types

import pytest

from trtlab import backend
from trtlab.common import UserError


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    backend.load.cache_clear()
    yield
    backend.load.cache_clear()


def test_loads_tensorrt_rtx_here():
    trt = backend.load()
    assert backend.name_of(trt) == "tensorrt_rtx"
    assert hasattr(trt, "Builder")


def test_prefers_tensorrt_when_importable(monkeypatch):
    fake = types.ModuleType("tensorrt")
    fake.Builder = object
    fake.__version__ = "10.13.0"
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    assert backend.load() is fake
    assert backend.name_of(fake) == "tensorrt"


def test_stub_namespace_package_is_not_tensorrt(monkeypatch):
    stub = types.ModuleType("tensorrt")  # what tensorrt-stubs' .pyi-only folder imports as
    monkeypatch.setitem(sys.modules, "tensorrt", stub)
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt")
    with pytest.raises(UserError, match="only type stubs are installed.*pip install --extra-index-url"):
        backend.load()


def test_env_var_forces_backend(monkeypatch):
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    assert backend.name_of(backend.load()) == "tensorrt_rtx"
    backend.load.cache_clear()
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorflow")
    with pytest.raises(UserError, match="TRTLAB_BACKEND must be one of tensorrt, tensorrt_rtx, not 'tensorflow'"):
        backend.load()


def test_no_backend_gives_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)  # import fails
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    caps = backend.probe()
    assert (caps.backend, caps.can_build, caps.can_run) == (None, False, False)
    assert caps.install == "pip install tensorrt-rtx"
    assert "pip install tensorrt-rtx" in caps.build_reason


def test_probe_builds_but_cannot_run_without_gpu(monkeypatch):
    monkeypatch.setattr(backend, "gpus", lambda: ())
    caps = backend.probe()
    assert caps.backend == "tensorrt_rtx" and caps.version.startswith("1.7")
    assert caps.can_build is True and caps.build_reason == ""
    assert caps.can_run is False and caps.run_reason == "no NVIDIA GPU or driver found: NVML could not start"


@pytest.mark.parametrize("cc, ok", [((9, 0), False), ((10, 0), False), ((8, 6), True), ((7, 5), True),
                                    ((12, 0), True), ((7, 0), False), ((8, 9), True)])
def test_rtx_compute_capabilities(cc, ok):
    assert backend.can_run_on("tensorrt_rtx", cc)[0] is ok


def test_hopper_reason_names_the_capability(monkeypatch):
    h100 = backend.GPU(0, "NVIDIA H100 80GB HBM3", (9, 0), 81559, "580.0")
    monkeypatch.setattr(backend, "gpus", lambda: (h100,))
    caps = backend.probe()
    assert caps.can_run is False
    assert caps.run_reason.startswith("TensorRT-RTX does not run engines on compute capability 9.0")
    assert backend.can_run_on("tensorrt", (9, 0)) == (True, "")
    assert backend.can_run_on("tensorrt", (6, 1))[0] is False
