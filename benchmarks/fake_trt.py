"""A stand-in for a TensorRT engine, to exercise ``trtlab.runtime.Session``'s own code
(tensor discovery by name, input validation, buffers, copies, streams, several contexts)
where no TensorRT engine can run: on the CPU (NumPy) and on a GPU without TensorRT (CuPy).

It implements the part of ``ICudaEngine``/``IExecutionContext`` that ``Session`` calls —
``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``get_tensor_profile_shape``,
``create_execution_context``, ``device_memory_size_v2``, ``set_input_shape``,
``set_tensor_address``, ``get_tensor_shape``, ``execute_async_v3`` — for a one-layer
"network" ``y = 2 * x + 1`` with input ``x`` of shape (-1, 4), float32, profile 1/8/64.
This is not TensorRT and nothing measured with it is a TensorRT figure.
"""
from __future__ import annotations

import ctypes
import warnings
from enum import Enum
from typing import Any, Sequence

import numpy as np

from trtlab.runtime import Memory


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


class FakeContext:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.shape: tuple[int, ...] | None = None
        self.addresses: dict[str, int] = {}
        self.calls = 0
        self.streams: list[int] = []

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
        import cupy as cp

        def view(ptr: int) -> Any:
            mem = cp.cuda.UnownedMemory(ptr, n * 4, owner=None)
            return cp.ndarray((n,), dtype=cp.float32, memptr=cp.cuda.MemoryPointer(mem, 0))

        with warnings.catch_warnings():  # CuPy 14 deprecates ExternalStream; 13 lacks its successor
            warnings.simplefilter("ignore", DeprecationWarning)
            ext = cp.cuda.ExternalStream(int(stream))
        with ext:
            if self.engine.sleep_cycles:
                _sleep(self.engine.sleep_cycles)
            y = view(self.addresses["y"])
            cp.multiply(view(self.addresses["x"]), 2, out=y)
            y += 1
        return True


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
