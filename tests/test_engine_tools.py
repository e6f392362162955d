"""trtlab.engine_tools on the stand-in engine (trtlab.testing.FakeEngine): execute_v2 beside
execute_async_v3, an IProfiler's per-layer times, IEngineInspector rows. On the CPU with host
buffers; the `gpu` test runs the same code on CUDA buffers and CuPy kernels. The stand-in is not
TensorRT: these tests check trtlab's code, not TensorRT figures."""
from __future__ import annotations

import numpy as np
import pytest

from trtlab import UserError, backend, engine_tools, runtime
from trtlab.testing import STANDIN_LABEL, HostMemory, make_engine
from trtlab.testing import FakeEngine as StandInEngine

X = np.arange(32, dtype=np.float32).reshape(8, 4)


def test_why_not_here_is_the_probe():
    caps = backend.probe()
    assert engine_tools.why_not_here() == ("" if caps.can_run else caps.run_reason)


def test_sync_and_async_give_the_same_outputs():
    got = engine_tools.sync_vs_async(StandInEngine(), {"x": X}, memory=HostMemory(), iters=5, warmup=1)
    assert got["outputs_equal"] is True
    np.testing.assert_array_equal(got["outputs"]["y"], 2 * X + 1)
    assert got["iters"] == 5 and got["execute_v2_ms"] > 0 and got["execute_async_v3_done_ms"] > 0


def test_bindings_follow_the_engine_order():
    engine = StandInEngine()
    buf = engine_tools.Buffers(engine, engine.create_execution_context(), {"x": X}, HostMemory())
    assert engine_tools.io_names(engine) == ["x", "y"] and buf.bindings() == [buf.device["x"], buf.device["y"]]
    with pytest.raises(ValueError, match="outside the profile"):
        engine_tools.Buffers(engine, engine.create_execution_context(), {"x": np.zeros((65, 4), np.float32)},
                             HostMemory())


def test_profiler_collects_per_layer_times():
    rows = engine_tools.per_layer_times(StandInEngine(), {"x": X}, runs=4, memory=HostMemory())
    assert sorted(r["layer"] for r in rows) == ["scale", "shift"]
    assert all(r["runs"] == 4 and r["mean_ms"] >= 0 for r in rows)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def trt_or_skip():
    """The TensorRT backend, or a skip saying why (the GPU machine's image has none installed)."""
    try:
        return backend.load()
    except UserError as exc:
        pytest.skip(f"needs a TensorRT backend: {exc}")


def test_profiler_is_a_real_iprofiler_for_tensorrt():
    trt = trt_or_skip()
    p = engine_tools.layer_profiler(trt)
    assert isinstance(p, trt.IProfiler) and isinstance(p, engine_tools.LayerTimes)
    p.report_layer_time("conv1", 0.5)
    p.report_layer_time("conv1", 1.5)
    assert p.rows() == [{"layer": "conv1", "mean_ms": 1.0, "runs": 2, "share": 1.0}]


def test_inspector_rows():
    rows = engine_tools.layer_information(StandInEngine(), fmt="JSON")
    assert [(r["name"], r["type"]) for r in rows] == [("scale", "ElementWise"), ("shift", "ElementWise")]
    assert rows[0]["inputs"].startswith("x [-1, 4]") and "stand-in" in rows[0]["tactic"]


def test_a_runner_is_looked_into_through_its_engine():
    runner = runtime.TensorRTRunner.from_engine(StandInEngine(), memory=HostMemory(), label=STANDIN_LABEL)
    try:
        assert engine_tools.engine_of(runner) is runner.engine
        got = engine_tools.sync_vs_async(runner, {"x": X}, memory=HostMemory(), iters=2, warmup=0)
        np.testing.assert_array_equal(got["outputs"]["y"], 2 * X + 1)
        assert [r["name"] for r in engine_tools.layer_information(runner, fmt="JSON")] == ["scale", "shift"]
    finally:
        runner.close()
    with pytest.raises(TypeError, match="not str"):
        engine_tools.engine_of("lenet.engine")


def test_the_cpu_reference_has_no_engine_to_look_into(tmp_path):
    trt_or_skip()  # the CPU reference reads the model through TensorRT's parser
    with runtime.open_runner(make_engine(tmp_path), force_reference=True) as runner:
        with pytest.raises(UserError, match="^the CPU reference runs no TensorRT engine to look into: "
                                            "the CPU reference was asked for$"):
            engine_tools.per_layer_times(runner, {"x": X[:2]})


@pytest.mark.gpu
def test_engine_tools_on_cuda_buffers():
    cupy = pytest.importorskip("cupy")
    pytest.importorskip("cuda.bindings.runtime")
    engine = StandInEngine("cupy")
    got = engine_tools.sync_vs_async(engine, {"x": X}, iters=20)
    assert got["outputs_equal"] is True
    np.testing.assert_array_equal(got["outputs"]["y"], 2 * X + 1)
    rows = engine_tools.per_layer_times(StandInEngine("cupy"), {"x": X}, runs=5)
    assert sorted(r["layer"] for r in rows) == ["scale", "shift"] and all(r["mean_ms"] > 0 for r in rows)
    assert cupy.cuda.runtime.getDeviceCount() >= 1
