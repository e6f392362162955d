"""trtlab.runtime on the CPU: the Session through the CPU reference (a tiny engine really built
by the installed backend), input validation messages, and the TensorRT-path plumbing
(tensors by name, staging buffers, lanes, pending results) on a stand-in engine whose
"device" is host memory. GPU tests of the same code are in test_gpu.py."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import pytest


from trtlab import testing as tiny_engine  # noqa: E402
from trtlab.testing import FakeEngine, HostMemory  # noqa: E402
from trtlab import runtime  # noqa: E402
from trtlab.common import UserError  # noqa: E402
from trtlab.runtime import CPU_REFERENCE, Session  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_engine.make_engine(tmp_path_factory.mktemp("tiny"))


# --- the CPU reference path ---------------------------------------------------------------------
def test_session_without_a_gpu_evaluates_the_source_model_and_says_so(tiny):
    with Session(tiny) as s:
        assert s.mode == CPU_REFERENCE == "CPU reference"
        assert s.why  # the reason the engine itself cannot run here
        assert not s.on_device and s.engine is None and s.activation_bytes is None
        assert s.source.name == "tiny.onnx"
        x = np.random.default_rng(0).standard_normal((5, 4), dtype=np.float32)
        np.testing.assert_allclose(s.infer(x), tiny_engine.expected(x), rtol=1e-5, atol=1e-6)
        assert set(s.infer_all(x)) == {"y"}
        assert s.max_batch == 8
        d = s.describe()
        assert d["mode"] == "CPU reference" and d["tensors"][0]["max"] == [8, 4]
        assert "CPU reference" in repr(s)


def test_reference_session_async_and_batches(tiny):
    with Session(tiny) as s:
        x = np.random.default_rng(1).standard_normal((20, 4), dtype=np.float32)
        np.testing.assert_allclose(s.infer_batches(x), tiny_engine.expected(x), rtol=1e-5, atol=1e-6)
        y = asyncio.run(s.infer_async(x[:3]))
        np.testing.assert_allclose(y, tiny_engine.expected(x[:3]), rtol=1e-5, atol=1e-6)
        assert s.submit(x[:2]).done()
        demo = runtime.overlap_demo(s, x[:2])
        assert demo["ran"] is False and "GPU" in demo["why"]
        with pytest.raises(UserError, match="infer_device needs the engine on a GPU"):
            s.infer_device(x[:2])


@pytest.mark.parametrize("bad, message", [
    (np.zeros((9, 4), np.float32), r"input 'x': batch 9 given in \(9, 4\), but the engine's optimization "
                                   r"profile allows 1 to 8: allowed \(N, 4\) float32 with N from 1 to 8"),
    (np.zeros((2, 4), np.float64), r"input 'x': dtype float64 given .*allowed \(N, 4\) float32"),
    (np.zeros((2, 5), np.float32), r"input 'x': dimension 1 is 5 in \(2, 5\), allowed \(N, 4\) float32"),
    (np.zeros((4,), np.float32), r"input 'x': 1-D shape \(4,\) given, allowed \(N, 4\)"),
    ([[1.0, 2.0, 3.0, 4.0]], r"input 'x': list given, an array is needed"),
    ({"z": np.zeros((1, 4), np.float32)}, r"unknown input 'z': the engine's inputs are 'x'"),
])
def test_wrong_inputs_name_the_tensor_what_was_given_and_what_is_allowed(tiny, bad, message):
    with Session(tiny) as s, pytest.raises(UserError, match=message):
        s.infer(bad)


def test_allowed_ranges_come_from_the_sidecar_without_deserializing(tiny):
    from trtlab import engine_file

    specs = runtime.specs_from_sidecar(engine_file.read_sidecar(tiny))
    x = next(s for s in specs if s.is_input)
    assert (x.min_shape, x.opt_shape, x.max_shape) == ((1, 4), (8, 4), (8, 4))
    assert x.allowed() == "(N, 4) float32 with N from 1 to 8"
    y = next(s for s in specs if not s.is_input)
    assert y.shape == (-1, 3) and y.dtype == np.float32


def test_changed_or_missing_source_model_is_refused(tmp_path):
    engine = tiny_engine.make_engine(tmp_path)
    onnx_path = tmp_path / "tiny.onnx"
    onnx_path.write_bytes(onnx_path.read_bytes() + b"\0")
    with pytest.raises(UserError, match="changed since the engine was built"):
        Session(engine)
    onnx_path.unlink()
    with pytest.raises(UserError, match="source model .* is missing"):
        Session(engine)
    side = engine.with_suffix(".engine.json")
    data = json.loads(side.read_text())
    data["source_model"] = None
    side.write_text(json.dumps(data))
    with pytest.raises(UserError, match="names no source model"):
        Session(engine)


def test_bad_engine_files_and_options(tmp_path, tiny):
    with pytest.raises(UserError, match="no such engine file"):
        Session(tmp_path / "missing.engine")
    junk = tmp_path / "junk.engine"
    junk.write_bytes(b"not an engine")
    with pytest.raises(UserError, match=r"junk.engine: not a TensorRT-RTX engine \(no plan header\)"):
        Session(junk)  # refused before anything else: not even its model is run
    bare = tmp_path / "bare.engine"  # an intact engine without its sidecar
    bare.write_bytes(tiny.read_bytes())
    with pytest.raises(UserError, match="sidecar names no source model"):
        Session(bare)
    with pytest.raises(UserError, match="memory must be one of"):
        Session(tiny, memory="numba")
    with pytest.raises(UserError, match="contexts must be at least 1"):
        Session(tiny, contexts=0)


def test_closed_session_refuses(tiny):
    s = Session(tiny)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(UserError, match="closed"):
        s.infer(np.zeros((1, 4), np.float32))


# --- the TensorRT path's own code, on a stand-in engine with host "device" memory ----------------
def test_engine_path_stages_copies_and_runs_by_tensor_name():
    mem = HostMemory()
    engine = FakeEngine()
    s = Session.from_engine(engine, contexts=3, memory=mem, mode="stand-in, not TensorRT")
    assert s.on_device and len(s.lanes) == 3
    assert [(t.name, t.mode, t.shape) for t in s.specs] == [("x", "input", (-1, 4)), ("y", "output", (-1, 4))]
    assert s.activation_bytes == 1024
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for lane in range(3):
        np.testing.assert_array_equal(s.infer(x, lane=lane), 2 * x + 1)
    assert [c.calls for c in engine.contexts] == [1, 1, 1]
    assert len({c.streams[0] for c in engine.contexts}) == 3  # each context on its own stream
    assert mem.copies == {"htod": 3, "dtoh": 3}
    with pytest.raises(UserError, match="lane 3 does not exist"):
        s.infer(x, lane=3)
    with pytest.raises(UserError, match="batch 65 given"):
        s.infer(np.zeros((65, 4), np.float32))
    s.close()
    assert mem.closed and s.lanes == []


def test_a_lane_reused_before_wait_keeps_earlier_results():
    with Session.from_engine(FakeEngine(), memory=HostMemory(), mode="stand-in") as s:
        a = s.submit(np.zeros((2, 4), np.float32))
        b = s.submit(np.ones((2, 4), np.float32))
        np.testing.assert_array_equal(a.wait()["y"], np.ones((2, 4)))
        np.testing.assert_array_equal(b.wait()["y"], np.full((2, 4), 3.0))


def test_infer_batches_spreads_chunks_over_lanes():
    engine = FakeEngine()
    with Session.from_engine(engine, contexts=2, memory=HostMemory(), mode="stand-in") as s:
        x = np.random.default_rng(2).standard_normal((150, 4), dtype=np.float32)
        np.testing.assert_allclose(s.infer_batches(x), 2 * x + 1, rtol=1e-6)
        assert [c.calls for c in engine.contexts] == [2, 1]  # 64 + 64 + 22 rows


def test_cuda_check_unpacks_cuda_python_tuples():
    from cuda.bindings import runtime as cudart

    ok = cudart.cudaError_t.cudaSuccess
    assert runtime.cuda_check((ok,)) is None
    assert runtime.cuda_check((ok, 7)) == 7
    assert runtime.cuda_check((ok, 1, 2)) == (1, 2)
    with pytest.raises(runtime.CudaError, match="cudaMalloc failed with cudaErrorMemoryAllocation"):
        runtime.cuda_check((cudart.cudaError_t.cudaErrorMemoryAllocation, None), "cudaMalloc")


def test_stream_handles_from_every_library():
    class TorchLike:
        cuda_stream = 42

    class CupyLike:
        ptr = 43

    assert runtime.stream_handle(None) == 0
    assert runtime.stream_handle(7) == 7
    assert runtime.stream_handle(TorchLike()) == 42
    assert runtime.stream_handle(CupyLike()) == 43


def test_pycuda_is_optional_and_says_how_to_get_it():
    try:
        import pycuda  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="pycuda is not importable"):
            runtime.memory("pycuda")
    else:
        pytest.skip("pycuda is installed: the GPU tests cover it")


def test_pycuda_memory_uses_the_guides_calls(monkeypatch):
    """PyCudaMemory with a stand-in ``pycuda.driver`` that records the guide's calls and moves
    bytes between host arrays (pycuda itself needs a GPU and a CUDA toolkit to install)."""
    import ctypes
    import types

    calls = []

    class Alloc:
        def __init__(self, n):
            self.buf = np.zeros(n, np.uint8)
            self.freed = False

        def __int__(self):
            return int(self.buf.ctypes.data)

        def free(self):
            self.freed = True

    class HostAlloc:
        def __init__(self):
            self.freed = False

        def free(self):
            self.freed = True

    class Stream:
        handle = 77

        def synchronize(self):
            calls.append("synchronize")

        def is_done(self):
            return True

    class Ctx:
        def push(self):
            calls.append("push")

        def pop(self):
            calls.append("pop")

    allocs, hosts = [], []

    def pagelocked_empty(shape, dtype):
        calls.append("pagelocked_empty")
        owner = HostAlloc()  # pycuda's pinned arrays keep their HostAllocation in .base
        hosts.append(owner)
        return _WithBase(np.zeros(shape, dtype), owner)

    class _WithBase(np.ndarray):
        def __new__(cls, arr, base):
            obj = arr.view(cls)
            obj._fake_base = base
            return obj

        @property
        def base(self):
            return self._fake_base

    def mem_alloc(n):
        calls.append("mem_alloc")
        a = Alloc(n)
        allocs.append(a)
        return a

    def memcpy_htod_async(dst, src, stream):
        calls.append("memcpy_htod_async")
        ctypes.memmove(int(dst), np.ascontiguousarray(src).ctypes.data, src.nbytes)

    def memcpy_dtoh_async(dst, src, stream):
        calls.append("memcpy_dtoh_async")
        ctypes.memmove(dst.ctypes.data, int(src), dst.nbytes)

    class Event:  # completion by events: record after the copies, then synchronize/query
        def __init__(self, flags=0):
            calls.append("Event")

        def record(self, stream):
            calls.append("Event.record")

        def query(self):
            return True

        def synchronize(self):
            calls.append("Event.synchronize")

    driver = types.SimpleNamespace(
        init=lambda: calls.append("init"), Device=lambda i: types.SimpleNamespace(retain_primary_context=Ctx),
        pagelocked_empty=pagelocked_empty, mem_alloc=mem_alloc, Stream=Stream, Event=Event,
        event_flags=types.SimpleNamespace(DISABLE_TIMING=2),
        memcpy_htod_async=memcpy_htod_async, memcpy_dtoh_async=memcpy_dtoh_async)
    pkg = types.ModuleType("pycuda")
    pkg.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)

    with Session.from_engine(FakeEngine(), memory=runtime.memory("pycuda"), mode="stand-in") as s:
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        np.testing.assert_array_equal(s.infer(x), 2 * x + 1)
        np.testing.assert_array_equal(s.submit(x + 1).wait()["y"], 2 * x + 3)
        assert s.memory_kind == "pycuda"
    for name in ("init", "push", "pagelocked_empty", "mem_alloc", "memcpy_htod_async", "memcpy_dtoh_async",
                 "synchronize", "Event", "Event.record", "Event.synchronize", "pop"):
        assert name in calls, name
    assert all(a.freed for a in allocs) and all(h.freed for h in hosts)


def test_turing_runner_falls_back_with_label_and_reason(tmp_path, monkeypatch):
    """On Turing (simulated 7.5) an FP32 dense layer builds the portable set (TensorRT-RTX compiles no FP32
    matrix multiply for 7.5), so the runner is the CPU reference, labelled, saying why; FP16 builds for 7.5."""
    from test_build import tiny_onnx

    from trtlab import backend, build, engine_file

    if backend.name_of(backend.load()) != "tensorrt_rtx":
        pytest.skip("the Turing fallback is TensorRT-RTX's: this machine's backend is enterprise TensorRT")
    monkeypatch.setenv(backend.SIMULATE_ENV, "7.5")
    model = tiny_onnx(tmp_path / "t.onnx", n=16, m=8)
    fp32 = build.build_onnx(model, build.BuildOptions(max_batch=4))
    assert fp32.targets["compute_capabilities"] == [f"{a}.{b}" for a, b in backend.RTX_DEFAULT_BUILD]
    assert any("FP32 GEMM" in n for n in fp32.notes)
    with runtime.open_runner(engine_file.save(tmp_path / "fp32.engine", fp32)) as r:
        assert r.label == CPU_REFERENCE and "is 7.5: rebuild with that target" in r.why and "--fp16" in r.why
        x = np.ones((2, 16), np.float32)
        assert r.infer(x).shape == (2, 8)
    fp16 = build.build_onnx(model, build.BuildOptions(max_batch=4, fp16=True))
    assert fp16.targets["compute_capabilities"] == ["7.5"] and not fp16.notes
    assert engine_file.check(engine_file.save(tmp_path / "fp16.engine", fp16)).can_run
