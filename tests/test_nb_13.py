"""Chapter 13 executed with papermill: the failures made on purpose, the two loggers, and the
accuracy-debugging lab (golden outputs, tolerances, check lint, debug reduce, mark-all outputs)."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


def test_13_troubleshooting(run_notebook):
    rec = run_notebook("13_troubleshooting").records
    assert rec["no_profile_build_failed"] is True
    assert rec["bad_profile_build_failed"] is True
    assert rec["parser_errors"] == 1
    caps = backend.probe()  # a raw build (no target named) covers RTX_DEFAULT_BUILD on TensorRT-RTX: no Turing
    runs = caps.can_run and not caps.simulated and (
        caps.backend == "tensorrt" or caps.gpu.compute_capability in backend.RTX_DEFAULT_BUILD)
    assert rec["deserialized_here"] is runs
    assert rec["polygraphy_ok"] is True
    # each builder reports to its own logger (TensorRT 8.2+), not to the first logger of the process
    assert rec["loggers_per_builder"] == {"B fails": {"logger A errors": 0, "logger B errors": 1},
                                          "A fails": {"logger A errors": 1, "logger B errors": 0}}
    if backend.name_of(backend.load()) == "tensorrt_rtx":  # RTX 1.x still prints the 8.0-style warning
        assert rec["logger_warning_shown"] is True
    # golden outputs; FP16 against them fails at the default 1e-5 and passes at 1e-2
    assert rec["golden_exit_status"] == 0
    assert rec["fp16_vs_golden_exit_status"] == {"default": 1, "atol=rtol=1e-2": 0}
    rows = {(r["atol"], r["rtol"]): r for r in rec["tolerance_rows"]}
    strict, loose = rows[(1e-5, 1e-5)], rows[(1e-3, 1e-3)]
    assert 1e-6 < strict["max_abs"] < 1e-2 and strict["exit_status"] == 1 and 0 < strict["share_beyond"] <= 1
    assert loose["exit_status"] == 0 and loose["share_beyond"] == 0
    assert all(r["max_abs"] == strict["max_abs"] for r in rows.values())  # the errors do not depend on tolerance
    assert rec["compare_identical_exit_status"] == 0
    lint = rec["lint"]
    assert lint["exit_status"] != 0 and any("stray_add" in f and "Incompatible dimensions" in f for f in lint["findings"])
    # debug reduce finds the planted node, and only it
    red = rec["reduce"]
    assert red["faulty_exit_status"] != 0 and red["exit_status"] == 0
    assert red["nodes"] == ["gain2"] and red["nan_weights"] == 1
    mark = rec["mark_all"]
    assert mark["outputs"] == 9
    if backend.probe().can_build:
        assert mark["all_outputs.onnx"] > mark["good.onnx"] > 0
