"""Chapter 6 executed with papermill: accuracy against the labels and agreement with TensorFlow
on the shipped 2,000 test digits, the five metrics, and honest labels where no GPU runs it."""
from __future__ import annotations

import pytest

from trtlab import backend, engine_file

pytestmark = pytest.mark.notebook


def engine_runs_here(caps: backend.Capabilities, targets: dict) -> bool:
    """The expectation: the probe says this GPU runs engines and the engine's targets include it
    (a TensorRT-RTX build for Turing falls back to the portable set, which leaves 7.5 out)."""
    if not caps.can_run or caps.backend != "tensorrt_rtx" or targets.get("current"):
        return caps.can_run
    return caps.gpu.cc in (targets.get("compute_capabilities") or [])


def test_06_inference(run_notebook, shared_artifacts):
    rec = run_notebook("06_inference", BATCHES=[1, 8, 32], ITERS=10, TIME_PER_BATCH_S=0.5, EFFICIENCY_S=0.2,
                       DIGIT=5).records
    caps = backend.probe()
    runs = engine_runs_here(caps, engine_file.read_sidecar(shared_artifacts / rec["engine_file"])["targets"])
    mode = rec["session_mode"]
    assert mode == ("TensorRT" if runs else "CPU reference")
    assert rec["accuracy_mode"] == mode
    # accuracy: the shipped sample's 2,000 test digits
    assert rec["n_test"] == 2000
    assert rec["top1"] >= 0.97
    assert rec["tf_agreement"] >= 0.999
    assert 0 <= rec["max_logit_diff"] < 1e-2  # recorded; FP32 engine or reference vs TensorFlow
    # today's API present, the guide's gone
    api = rec["api_present"]
    assert api["IExecutionContext.execute_async_v3"] and api["IExecutionContext.set_tensor_address"]
    assert not api["IExecutionContext.execute_async"] and not api["ICudaEngine.get_binding_shape"]
    assert not api["IExecutionContext.execute_async_v2"]
    # wrong inputs refused with the tensor, what was given and what is allowed
    r = rec["refusals"]
    assert "Placeholder:0" in r["batch too large"] and f"allows 1 to {rec['max_batch']}" in r["batch too large"]
    assert "dtype float64 given" in r["float64"]
    assert "dimension 1 is 28" in r["NHWC instead of NCHW"] and "(N, 1, 28, 28) float32" in r["NHWC instead of NCHW"]
    # the five metrics: throughput/latency rows for the engine and both baselines at every batch
    rows = rec["bench_rows"]
    for who in (mode, "TensorFlow (CPU)", "ONNX Runtime (CPU)"):
        got = sorted({r["batch"] for r in rows if r["mode"] == who})
        assert got == [1, 8, 32], (who, got)
    assert all(r["p50_ms"] > 0 and r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["images_per_s"] > 0 for r in rows)
    # CPU figures: pinned threads, enough runs, the spread flagged, the machine's load beside them
    assert rec["threads"]["threads"] == 2 and rec["threads"]["tensorflow"] == "pinned before TensorFlow started"
    assert all(r["iters"] >= 20 for r in rows if r["method"] == "perf_counter")
    assert all(("unsteady" in r["flags"]) == (r["p99_ms"] > 3 * r["p50_ms"]) for r in rows)
    load = rec["machine_load"]
    assert load["after"]["cpus"] >= 1 and (not load["after"]["available"] or load["after"]["load_1m"] >= 0)
    eff = rec["efficiency"]
    assert set(eff) == {mode, "TensorFlow (CPU)", "ONNX Runtime (CPU)"}
    assert eff["TensorFlow (CPU)"]["unit"] == "images/s per CPU core"
    mem = rec["memory"]
    assert 1_000_000 < mem["weights_bytes"] < 2_500_000  # LeNet's 431k float32 parameters
    assert mem["process_rss_bytes"] > 0
    if runs:
        assert rec["today_api_ran"] and mem["activation_bytes"] > 0 and rec["overlap"]["ran"]
        assert {r["what"] for r in rows if r["mode"] == "TensorRT"} >= {"with copies", "compute only"}
    else:  # nothing here may pretend to be TensorRT
        assert rec["today_api_ran"] is False and mem["activation_bytes"] is None
        assert rec["overlap"]["ran"] is False
        assert all(r["what"] == "end to end" for r in rows if r["mode"] == "CPU reference")
        assert not any(r["mode"] == "TensorRT" for r in rows)
    d = rec["digit"]
    assert d["mode"] == mode and 0 <= d["predicted"] <= 9 and d["index"] == 5
    # the appended section (issue 14): execute_v2 / IProfiler / IEngineInspector, or one line why not
    tools = rec["engine_tools"]
    assert tools["ran"] is runs
    if runs:
        assert tools["outputs_equal"] is True and tools["profiled_layers"] > 0 and tools["inspected_layers"] > 0
    else:
        assert tools["why"] == caps.run_reason if not caps.can_run else "rebuild with that target" in tools["why"]
