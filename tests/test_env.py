from __future__ import annotations

import json
import subprocess
import sys

from trtlab import env


def test_report_has_every_component_with_a_verdict():
    rep = env.report()
    names = [i.name for i in rep.items]
    for wanted in ["CPU", "OS", "Python", "TensorFlow", "CUDA driver", "CUDA runtime", "cuDNN", "TensorRT",
                   "GPU", "cuda-python", "pycuda"]:
        assert wanted in names
    assert all(i.verdict in ("ok", "missing", "unsupported", "info") for i in rep.items)
    assert rep.get("TensorRT").value.startswith("TensorRT-RTX 1.7")
    assert rep.get("TensorFlow").value.startswith("2.21")


def test_no_gpu_here_is_reported_as_missing():
    rep = env.report()
    assert rep.get("GPU").verdict == "missing"
    assert rep.get("CUDA driver").verdict == "missing"
    assert "cannot run them here" in env.verdict_line(rep.capabilities)


def test_cli_json():
    out = subprocess.run([sys.executable, "-m", "trtlab.cli", "env", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["backend"] == "tensorrt_rtx"
    assert data["can_build"] is True
    assert data["can_run"] is False
    assert data["run_reason"] == "no NVIDIA GPU or driver found: NVML could not start"


def test_cli_text_ends_with_verdict():
    out = subprocess.run([sys.executable, "-m", "trtlab.cli", "env"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines()[-1].startswith("This machine builds engines with tensorrt_rtx 1.7")


def test_cli_usage_errors_are_one_line():
    out = subprocess.run([sys.executable, "-m", "trtlab.cli", "env", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "trtlab.cli"], capture_output=True, text=True)
    assert out.returncode == 2 and "convert-to-uff" in out.stdout  # the help teaches the workflow
