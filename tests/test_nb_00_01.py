"""Chapters 0 and 1 executed with papermill; assertions on what they record."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook


def test_00_environment(run_notebook):
    rec = run_notebook("00_environment", SHOW_JSON=True).records
    assert rec["backend"] == "tensorrt_rtx"
    assert rec["backend_version"].startswith("1.7")
    assert rec["can_build"] is True
    assert rec["can_run"] is False
    assert rec["run_reason"] == "no NVIDIA GPU or driver found: NVML could not start"


def test_01_introduction(run_notebook):
    rec = run_notebook("01_introduction", HIDDEN=8).records
    # a real engine, built on this CPU by TensorRT-RTX: a header plus code for three targets
    assert 50_000 < rec["one_layer_engine_bytes"] < 5_000_000
    assert 0 < rec["one_layer_build_seconds"] < 30
    assert rec["engine_deserialized"] is False  # no GPU here
    assert rec["onnx_parsed"] is True


def test_unknown_parameter_is_refused(run_notebook):
    from trtlab import book
    from trtlab.common import UserError

    [path] = book.notebooks("00_environment")
    with pytest.raises(UserError, match=r"declares no parameter\(s\) \['EPOCHS'\]"):
        book.execute(path, path.parent / "never-written.ipynb", parameters={"EPOCHS": 1})
