from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from trtlab import backend, env


def test_report_has_every_component_with_a_verdict():
    rep = env.report()
    names = [i.name for i in rep.items]
    for wanted in ["CPU", "OS", "Python", "TensorFlow", "CUDA driver", "CUDA runtime", "cuDNN", "TensorRT",
                   "GPU", "cuda-python", "pycuda"]:
        assert wanted in names
    assert all(i.verdict in ("ok", "missing", "unsupported", "info") for i in rep.items)
    caps = backend.probe()
    flavour = "TensorRT-RTX" if caps.backend == "tensorrt_rtx" else "TensorRT"
    assert rep.get("TensorRT").value.startswith(f"{flavour} {caps.version}")
    assert rep.get("TensorFlow").value.startswith("2.21")


def test_gpu_items_follow_the_probe():
    rep = env.report()
    caps = rep.capabilities
    if caps.gpu is None:
        assert rep.get("GPU").verdict == "missing"
        assert "cannot run them here" in env.verdict_line(caps)
    else:
        assert rep.get("GPU").value == caps.gpu.name
        assert rep.get("Compute capability").value == caps.gpu.cc
        assert rep.get("Compute capability").verdict == ("ok" if caps.can_run else "unsupported")
        assert ("runs them on this GPU" in env.verdict_line(caps)) is caps.can_run
    if not backend.real_gpus():
        assert rep.get("CUDA driver").verdict == "missing"


def test_rtx_list_and_default_targets_come_from_backend():
    rep = env.report()
    if rep.capabilities.backend != "tensorrt_rtx":
        pytest.skip("the TensorRT-RTX rows appear only with TensorRT-RTX as the backend")
    assert rep.get("TensorRT-RTX GPUs").value == f"compute capability {backend.rtx_list()}"
    assert backend.RTX_SUPPORT_MATRIX in rep.get("TensorRT-RTX GPUs").why
    targets = backend.default_targets("tensorrt_rtx")
    want = ", ".join(targets) if targets else "the library's portable set: 8.0, 8.6, 8.9, 12.0, 12.1"
    assert rep.get("Default build targets").value == want


@pytest.mark.parametrize("cc, can_run, targets", [("8.9", True, ["8.9"]), ("9.0", False, []),
                                                   ("7.5", True, ["7.5"]), ("10.0", False, [])])
def test_simulated_gpu_is_labelled_and_judged(monkeypatch, cc, can_run, targets):
    """TRTLAB_SIMULATE_GPU (tests only): an RTX 4090 (8.9), an H100 (9.0), an RTX 2080 (7.5), a B200."""
    monkeypatch.setenv("TRTLAB_SIMULATE_GPU", cc)
    monkeypatch.setenv("TRTLAB_BACKEND", "tensorrt_rtx")
    backend.load.cache_clear()
    try:
        rep = env.report()
    finally:
        backend.load.cache_clear()
    caps = rep.capabilities
    assert caps.simulated and caps.gpu.cc == cc and caps.can_run is can_run
    assert rep.get("GPU").verdict == "info" and "SIMULATED" in rep.get("GPU").why
    assert "GPU simulated by TRTLAB_SIMULATE_GPU" in env.verdict_line(caps)
    assert list(backend.default_targets("tensorrt_rtx") or []) == targets
    if not can_run:
        assert caps.run_reason.startswith(f"TensorRT-RTX does not run engines on compute capability {cc}")


def _cli(*args, **env_extra):
    return subprocess.run([sys.executable, "-m", "trtlab.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env_extra})


def test_cli_json():
    out = _cli("env", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    caps = backend.probe()
    assert data["backend"] == caps.backend
    assert data["can_build"] is caps.can_build
    assert data["can_run"] is caps.can_run
    assert data["run_reason"] == caps.run_reason
    assert data["simulated"] is caps.simulated


def test_cli_text_ends_with_verdict():
    out = _cli("env")
    assert out.returncode == 0
    caps = backend.probe()
    assert out.stdout.strip().splitlines()[-1] == env.verdict_line(caps)
    assert out.stdout.strip().splitlines()[-1].startswith(f"This machine builds engines with {caps.backend} {caps.version}")


def test_cli_simulated_h100_and_a_bad_value():
    out = _cli("env", TRTLAB_SIMULATE_GPU="9.0", TRTLAB_BACKEND="tensorrt_rtx")
    assert out.returncode == 0, out.stderr
    assert "SIMULATED for tests by TRTLAB_SIMULATE_GPU" in out.stdout
    assert "does not run engines on compute capability 9.0" in out.stdout
    out = _cli("env", TRTLAB_SIMULATE_GPU="hopper")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == ("trtlab env: error: TRTLAB_SIMULATE_GPU must be a compute capability such as "
                                  "8.9 or 9.0, not 'hopper'")


def test_cli_usage_errors_are_one_line():
    out = _cli("env", "--bogus")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = _cli()
    assert out.returncode == 2 and "convert-to-uff" in out.stdout  # the help teaches the workflow
