"""Stand-ins shared by the tests and the benchmarks (import ``trtlab.testing``; no ``sys.path`` edits).

* :class:`FakeEngine` — a stand-in for a TensorRT engine, to exercise the TensorRT runner's own code
  (tensor discovery by name, input validation, buffers, copies, streams, events, several contexts)
  where no TensorRT engine can run: on the CPU (NumPy, with :class:`HostMemory` as "device" memory)
  and on a GPU without TensorRT (one CuPy kernel per ``execute_async_v3``, optionally spinning
  ``sleep_cycles`` clocks so streams can be seen to overlap). It implements the part of
  ``ICudaEngine``/``IExecutionContext`` the runner calls, for ``y = 2 * x + 1`` with input ``x`` of
  shape (-1, 4), float32, profile 1/8/64 — and what ``trtlab.engine_tools`` calls on top:
  ``execute_v2(bindings)``, a ``profiler`` told the time of its two "layers" (``scale``: 2*x,
  ``shift``: +1; ``perf_counter`` on the CPU, CuPy events on a GPU) after each synchronous run, and
  ``create_engine_inspector()`` answering in the layout of ``LayerInformationFormat.JSON``. This is
  not TensorRT and nothing measured with it is a TensorRT figure.
* :func:`make_engine` — a tiny engine really built by the installed backend:
  ``y = relu(x @ W + b)``, x (-1, 4) float32, profile 1..8 (or a static batch), saved with its
  sidecar, so runners take the same path as with LeNet; :func:`expected` is its exact answer.
"""
from __future__ import annotations

import ctypes
import json
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import build, engine_file
from .cuda_memory import Memory

STANDIN_LABEL = "stand-in engine, not TensorRT"


class TensorIOMode(Enum):
    INPUT = 1
    OUTPUT = 2


class DataType(Enum):
    FLOAT = 0


FEATURES = 4
PROFILE = ((1, FEATURES), (8, FEATURES), (64, FEATURES))


class FakeEngine:
    def __init__(self, device: str = "numpy", sleep_cycles: int = 0) -> None:
        self.device = device  # "numpy": pointers are host addresses; "cupy": device pointers
        self.sleep_cycles = sleep_cycles  # on CuPy: a busy kernel per call, to see streams overlap
        self.num_io_tensors = 2
        self.device_memory_size_v2 = 1024
        self.contexts: list[FakeContext] = []

    def get_tensor_name(self, i: int) -> str:
        return ["x", "y"][i]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name == "x" else TensorIOMode.OUTPUT

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (-1, FEATURES)

    def get_tensor_dtype(self, name: str) -> DataType:
        return DataType.FLOAT

    def get_tensor_profile_shape(self, name: str, profile: int) -> tuple[tuple[int, ...], ...]:
        assert name == "x" and profile == 0
        return PROFILE

    def create_execution_context(self) -> "FakeContext":
        ctx = FakeContext(self)
        self.contexts.append(ctx)
        return ctx

    def create_engine_inspector(self) -> "FakeInspector":
        return FakeInspector()


class FakeContext:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.shape: tuple[int, ...] | None = None
        self.addresses: dict[str, int] = {}
        self.calls = 0
        self.streams: list[int] = []
        self.profiler: Any = None  # an IProfiler: told each "layer"'s time after execute_v2

    def set_input_shape(self, name: str, shape: Sequence[int]) -> bool:
        shape = tuple(int(d) for d in shape)
        lo, _, hi = PROFILE
        if name != "x" or len(shape) != 2 or not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            return False
        self.shape = shape
        return True

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = int(ptr)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shape if self.shape is not None else (-1, FEATURES)

    def execute_async_v3(self, stream: int) -> bool:
        if self.shape is None or set(self.addresses) != {"x", "y"}:
            return False
        self.calls += 1
        self.streams.append(int(stream))
        n = int(np.prod(self.shape))
        if self.engine.device == "numpy":
            x = np.ctypeslib.as_array((ctypes.c_float * n).from_address(self.addresses["x"]))
            y = np.ctypeslib.as_array((ctypes.c_float * n).from_address(self.addresses["y"]))
            y[:] = 2 * x + 1
            return True
        _gpu_kernel(int(stream), self.addresses["x"], self.addresses["y"], n, self.engine.sleep_cycles)
        return True


    def execute_v2(self, bindings: Sequence[int]) -> bool:
        """Synchronous: pointers in I/O order (x, y); returns when done, then tells the profiler."""
        if self.shape is None or len(bindings) != self.engine.num_io_tensors:
            return False
        x_ptr, y_ptr = (int(b) for b in bindings)
        n = int(np.prod(self.shape))
        if self.engine.device == "numpy":
            x = np.ctypeslib.as_array((ctypes.c_float * n).from_address(x_ptr))
            y = np.ctypeslib.as_array((ctypes.c_float * n).from_address(y_ptr))
            t0 = time.perf_counter()
            np.multiply(x, 2, out=y)
            t1 = time.perf_counter()
            y += 1
            t2 = time.perf_counter()
            times = [(t1 - t0) * 1e3, (t2 - t1) * 1e3]
        else:
            times = _gpu_layers(x_ptr, y_ptr, n)
        self.calls += 1
        if self.profiler is not None:
            for name, ms in zip(("scale", "shift"), times):
                self.profiler.report_layer_time(name, ms)
        return True


class FakeInspector:
    """``IEngineInspector`` of the stand-in: its two "layers" in the JSON layout of DETAILED verbosity."""

    def get_engine_information(self, fmt: Any) -> str:
        def tensor(name: str) -> dict[str, Any]:
            return {"Name": name, "Dimensions": [-1, FEATURES], "Format/Datatype": "Row major linear FP32"}

        return json.dumps({"Layers": [
            {"Name": "scale", "LayerType": "ElementWise", "Inputs": [tensor("x")], "Outputs": [tensor("t")],
             "TacticName": "stand-in (CuPy/NumPy multiply)"},
            {"Name": "shift", "LayerType": "ElementWise", "Inputs": [tensor("t")], "Outputs": [tensor("y")],
             "TacticName": "stand-in (CuPy/NumPy add)"},
        ], "Bindings": ["x", "y"]})


def _gpu_layers(x_ptr: int, y_ptr: int, n: int) -> list[float]:
    """y = 2 * x, then y += 1, on CuPy's current stream, each timed by CUDA events (ms); synchronous."""
    import cupy as cp

    def view(ptr: int) -> Any:
        mem = cp.cuda.UnownedMemory(ptr, n * 4, owner=None)
        return cp.ndarray((n,), dtype=cp.float32, memptr=cp.cuda.MemoryPointer(mem, 0))

    events = [cp.cuda.Event() for _ in range(3)]
    events[0].record()
    y = view(y_ptr)
    cp.multiply(view(x_ptr), 2, out=y)
    events[1].record()
    y += 1
    events[2].record()
    events[2].synchronize()
    return [cp.cuda.get_elapsed_time(events[0], events[1]), cp.cuda.get_elapsed_time(events[1], events[2])]


_KERNEL = None
_STREAMS: dict[int, Any] = {}


def _gpu_kernel(stream: int, x: int, y: int, n: int, cycles: int) -> None:
    """One CuPy kernel on ``stream``: thread 0 spins ``cycles`` clocks, then y = 2 * x + 1."""
    global _KERNEL
    import cupy as cp

    if _KERNEL is None:
        _KERNEL = cp.RawKernel(r'''
        extern "C" __global__ void standin(const float* x, float* y, long long n, long long cycles) {
            if (cycles > 0 && threadIdx.x == 0 && blockIdx.x == 0) {
                long long start = clock64();
                while (clock64() - start < cycles) { }
            }
            __syncthreads();
            for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
                y[i] = 2.0f * x[i] + 1.0f;
        }''', "standin")
    ext = _STREAMS.get(stream)
    if ext is None:
        with warnings.catch_warnings():  # CuPy 14 deprecates ExternalStream; 13 lacks its successor
            warnings.simplefilter("ignore", DeprecationWarning)
            ext = _STREAMS[stream] = cp.cuda.ExternalStream(stream)
    blocks = 1 if cycles else max(1, min(1024, (n + 255) // 256))
    _KERNEL((blocks,), (256,), (np.uint64(x), np.uint64(y), np.int64(n), np.int64(cycles)), stream=ext)


_SLEEP = None


def _sleep(cycles: int) -> None:
    """A CuPy kernel that spins for ``cycles`` clock cycles on the current stream."""
    global _SLEEP
    import cupy as cp

    if _SLEEP is None:
        _SLEEP = cp.RawKernel(r'''
        extern "C" __global__ void spin(long long cycles) {
            long long start = clock64();
            while (clock64() - start < cycles) { }
        }''', "spin")
    _SLEEP((1,), (1,), (np.int64(cycles),))


class HostMemory(Memory):
    """``Memory`` with ordinary host arrays as "device" buffers and synchronous copies (CPU tests)."""

    name = "host (test double)"

    def __init__(self) -> None:
        self._keep: list[np.ndarray] = []
        self.copies = {"htod": 0, "dtoh": 0}
        self.closed = False

    def pinned(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        a = np.zeros(tuple(shape), dtype=dtype)
        self._keep.append(a)
        return a

    def device(self, nbytes: int) -> int:
        a = np.zeros(max(int(nbytes), 1), dtype=np.uint8)
        self._keep.append(a)
        return int(a.ctypes.data)

    def stream(self) -> int:
        return 1000 + len(self._keep)

    def htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        self.copies["htod"] += 1
        ctypes.memmove(dst, src.ctypes.data, src.nbytes)

    def dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        self.copies["dtoh"] += 1
        ctypes.memmove(dst.ctypes.data, src, dst.nbytes)

    def synchronize(self, stream: int) -> None:
        pass

    def query(self, stream: int) -> bool:
        return True

    def close(self) -> None:
        self._keep = []
        self.closed = True


# --- the tiny model ---------------------------------------------------------------------------------
W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5], [-1.0, 1.0, 1.0], [0.5, 0.5, 0.5]], dtype=np.float32)
B = np.array([0.1, -0.2, 0.3], dtype=np.float32)


def expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W + B, 0)


def make_onnx(path: Path, batch: int | str = "N") -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["z"]),
         helper.make_node("Relu", ["z"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def make_engine(folder: Path, max_batch: int = 8, batch: int | str = "N") -> Path:
    """The tiny model built and saved as ``folder/tiny.engine`` (+ sidecar).

    ``batch``: an int makes the ONNX batch dimension static (no optimization profile)."""
    onnx_path = make_onnx(folder / "tiny.onnx", batch)
    built = build.build_onnx(onnx_path, build.BuildOptions(max_batch=max_batch, opt_batch=max_batch))
    return engine_file.save(folder / "tiny.engine", built)
