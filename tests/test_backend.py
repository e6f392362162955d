from __future__ import annotations

import importlib
import os
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


def _real(name):
    try:
        return getattr(importlib.import_module(name), "Builder", None) is not None
    except ImportError:
        return False


def test_loads_the_first_real_backend():
    trt = backend.load()
    want = "tensorrt" if _real("tensorrt") and not os.environ.get("TRTLAB_BACKEND") else "tensorrt_rtx"
    assert backend.name_of(trt) == os.environ.get("TRTLAB_BACKEND", want)
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
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")  # TensorRT-RTX builds with no GPU
    monkeypatch.setattr(backend, "gpus", lambda: ())
    caps = backend.probe()
    assert caps.backend == "tensorrt_rtx" and caps.version == backend.load().__version__
    assert caps.can_build is True and caps.build_reason == ""
    assert caps.can_run is False and caps.run_reason == "no NVIDIA GPU or driver found: NVML could not start"


@pytest.mark.parametrize("cc, ok", [((9, 0), False), ((10, 0), False), ((8, 6), True), ((7, 5), True),
                                    ((12, 0), True), ((7, 0), False), ((8, 9), True), ((12, 1), True),
                                    ((8, 0), True), ((10, 3), False), ((12, 9), False), ((8, 7), False)])
def test_rtx_compute_capabilities(cc, ok):
    assert backend.can_run_on("tensorrt_rtx", cc)[0] is ok


def test_the_one_list_matches_the_library():
    """The list is NVIDIA's support matrix (7.5, 8.6, 8.9, 12.0, 12.1) plus 8.0, a target the
    library accepts and builds by default; every entry is a target TensorRT-RTX offers."""
    rtx = pytest.importorskip("tensorrt_rtx")
    offered = {m[2:] for m in rtx.ComputeCapability.__members__ if m.startswith("SM")}
    assert offered == {f"{a}{b}" for a, b in backend.RTX_COMPUTE_CAPABILITIES}
    assert backend.rtx_list() == "7.5, 8.0, 8.6, 8.9, 12.0 and 12.1"
    assert (7, 5) not in backend.RTX_DEFAULT_BUILD and set(backend.RTX_DEFAULT_BUILD) < set(backend.RTX_COMPUTE_CAPABILITIES)
    assert "support-matrix" in backend.RTX_SUPPORT_MATRIX


def test_default_build_covers_what_the_backend_says(tmp_path, monkeypatch):
    """A TensorRT-RTX build with no target (and no GPU to build for) gets RTX_DEFAULT_BUILD in its header."""
    monkeypatch.setattr(backend, "gpus", lambda: ())
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    from tiny_engine import make_onnx

    from trtlab import build

    built = build.build_onnx(make_onnx(tmp_path / "t.onnx"), build.BuildOptions(max_batch=2))
    assert built.header["compute_capabilities"] == [f"{a}.{b}" for a, b in backend.RTX_DEFAULT_BUILD]


@pytest.mark.parametrize("gpu_cc, simulated, want", [
    ((8, 9), False, ("current",)),   # an RTX 4090: build for this GPU
    ((7, 5), False, ("current",)),   # an RTX 2080: the portable default would not run on it
    ((9, 0), False, None),           # an H100: TensorRT-RTX cannot run there, keep the portable set
    ((8, 6), True, ("8.6",)),        # a simulated GPU cannot be asked: name its compute capability
])
def test_default_targets(monkeypatch, gpu_cc, simulated, want):
    gpu = backend.GPU(0, "test GPU", gpu_cc, 1024, "test")
    monkeypatch.setattr(backend, "gpus", lambda: (gpu,))
    monkeypatch.setattr(backend, "simulated", lambda: gpu_cc if simulated else None)
    assert backend.default_targets("tensorrt_rtx") == want
    assert backend.default_targets("tensorrt") is None  # enterprise TensorRT builds for its GPU anyway
    monkeypatch.setattr(backend, "gpus", lambda: ())
    assert backend.default_targets("tensorrt_rtx") is None


def test_simulation_switch(monkeypatch):
    monkeypatch.setenv("TRTLAB_SIMULATE_GPU", "9.0")
    [gpu] = backend.gpus()
    assert gpu.compute_capability == (9, 0) and "simulated" in gpu.name and gpu.driver == "simulated"
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    caps = backend.probe()
    assert caps.simulated and not caps.can_run and "[GPU simulated by TRTLAB_SIMULATE_GPU]" in str(caps)
    for bad in ("9", "nine", "9.x", "-1.0"):
        monkeypatch.setenv("TRTLAB_SIMULATE_GPU", bad)
        with pytest.raises(UserError, match="TRTLAB_SIMULATE_GPU must be a compute capability such as 8.9"):
            backend.gpus()
    monkeypatch.delenv("TRTLAB_SIMULATE_GPU")
    assert backend.gpus() == backend.real_gpus() and backend.simulated() is None


def test_hopper_reason_names_the_capability(monkeypatch):
    h100 = backend.GPU(0, "NVIDIA H100 80GB HBM3", (9, 0), 81559, "580.0")
    monkeypatch.setattr(backend, "gpus", lambda: (h100,))
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    caps = backend.probe()
    assert caps.can_run is False
    assert caps.run_reason.startswith("TensorRT-RTX does not run engines on compute capability 9.0")
    assert backend.can_run_on("tensorrt", (9, 0)) == (True, "")
    assert backend.can_run_on("tensorrt", (6, 1))[0] is False


def test_no_backend_still_reports_the_gpu(monkeypatch):
    """Seen on the lent H200 (no TensorRT wheel there): `trtlab env` said 'no NVIDIA GPU visible'."""
    h200 = backend.GPU(0, "NVIDIA H200", (9, 0), 143771, "580.159.04")
    monkeypatch.setattr(backend, "gpus", lambda: (h200,))
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    caps = backend.probe()
    assert caps.backend is None and caps.gpu == h200 and not caps.can_run


def test_readme_states_the_one_list():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    assert f"compute capability {backend.rtx_list()} |" in readme
    assert backend.RTX_SUPPORT_MATRIX in readme
    assert "portable set " + ", ".join(f"{a}.{b}" for a, b in backend.RTX_DEFAULT_BUILD) in readme


def test_turing_builds_fp16_for_itself_and_fp32_matmuls_for_the_portable_set(tmp_path, monkeypatch):
    """TensorRT-RTX 1.7 compiles no FP32 matrix multiply for 7.5 ("FP32 GEMM is not supported"):
    on an RTX 20xx (simulated) an FP32 model falls back to the portable set with a note saying why,
    and an FP16 one is built for the GPU."""
    monkeypatch.setenv("TRTLAB_SIMULATE_GPU", "7.5")
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    from tiny_engine import make_onnx

    from trtlab import build

    model = make_onnx(tmp_path / "t.onnx")
    fp32 = build.build_onnx(model, build.BuildOptions(max_batch=2))
    assert fp32.targets["default"] and "7.5" not in fp32.targets["compute_capabilities"]
    assert "FP32 GEMM is not supported" in fp32.notes[-1] and "portable set" in fp32.notes[-1]
    fp16 = build.build_onnx(model, build.BuildOptions(max_batch=2, fp16=True))
    assert fp16.targets["compute_capabilities"] == ["7.5"] and fp16.header["compute_capabilities"] == ["7.5"]
