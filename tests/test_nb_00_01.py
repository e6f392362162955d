"""Chapters 0 and 1 executed with papermill; assertions on what they record. Every expectation
that depends on the machine comes from the probe (backend.probe(), backend.default_targets())."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


def test_00_environment(run_notebook):
    rec = run_notebook("00_environment", SHOW_JSON=True).records
    caps = backend.probe()
    assert rec["backend"] == caps.backend and caps.backend in backend.BACKENDS
    assert rec["backend_version"] == caps.version
    assert rec["can_build"] is caps.can_build
    assert rec["can_run"] is caps.can_run
    assert rec["run_reason"] == caps.run_reason
    assert (rec["run_reason"] == "") is caps.can_run  # a reason exactly when engines cannot run
    assert rec["simulated_gpu"] is caps.simulated
    # the one list, printed from trtlab.backend: Turing and the RTX generations, no Hopper or B200
    assert rec["rtx_compute_capabilities"] == ["7.5", "8.0", "8.6", "8.9", "12.0", "12.1"]
    assert rec["default_targets"] == list(backend.default_targets(caps.backend) or [])


def test_01_introduction(run_notebook):
    rec = run_notebook("01_introduction", HIDDEN=8).records
    # a real engine, built by this machine's backend (TensorRT-RTX builds one on a CPU)
    assert 50_000 < rec["one_layer_engine_bytes"] < 5_000_000
    assert 0 < rec["one_layer_build_seconds"] < 30
    caps = backend.probe()
    # TensorRT-RTX compiles no FP32 matrix multiply for Turing: the chapter builds the portable set there
    turing_fp32 = caps.backend == "tensorrt_rtx" and caps.gpu is not None and caps.gpu.compute_capability == (7, 5)
    assert rec["engine_deserialized"] is (caps.can_run and not turing_fp32)
    assert rec["strongly_typed"] is True
    assert rec["onnx_parsed"] is True


def test_unknown_parameter_is_refused(run_notebook):
    from trtlab import book
    from trtlab.common import UserError

    [path] = book.notebooks("00_environment")
    with pytest.raises(UserError, match=r"declares no parameter\(s\) \['EPOCHS'\]"):
        book.execute(path, path.parent / "never-written.ipynb", parameters={"EPOCHS": 1})
