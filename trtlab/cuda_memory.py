"""CUDA buffers, streams and events for the TensorRT runner: one small interface (``Memory``),
two implementations — cuda-python (``cuda.bindings.runtime``, the default) and pycuda (the guide's
own library: ``pagelocked_empty``, ``mem_alloc``, ``memcpy_htod_async``, ``Stream``, ``Event``).

Completion is signalled by CUDA events (``record`` after the last copy of a request, then
``event_done`` / ``event_wait``), never by sleeping and polling.
"""
from __future__ import annotations

import ctypes
import functools
from types import ModuleType
from typing import Any, Callable, Sequence, cast

import numpy as np

from .common import UserError

MEMORY_KINDS = ("cuda-python", "pycuda")


# --- cuda-python: (err, value) tuples -----------------------------------------------------------
class CudaError(RuntimeError):
    """A CUDA call failed (the message names the call and CUDA's error)."""


def cuda_check(result: Any, what: str = "CUDA call") -> Any:
    """Unpack what a cuda-python call returns: ``(err,)``, ``(err, value)`` or ``(err, v1, v2…)``.

    Raises ``CudaError`` unless ``err`` is success (0 for both ``cudaError_t`` and ``CUresult``);
    returns None, the one value, or the tuple of values.
    """
    if not isinstance(result, tuple):
        result = (result,)
    err, *values = result
    if int(err) != 0:
        name = getattr(err, "name", str(err))
        detail = ""
        try:
            from cuda.bindings import runtime as cudart

            if isinstance(err, cudart.cudaError_t):
                detail = ": " + cudart.cudaGetErrorString(err)[1].decode()
        except Exception:
            pass
        raise CudaError(f"{what} failed with {name}{detail}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _cudart() -> ModuleType:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError as exc:  # cuda-python < 12.6 spelled it `from cuda import cudart`
        raise UserError(f"cuda-python is not importable ({exc}); pip install 'cuda-python>=13'") from exc
    return cudart


def stream_handle(stream: Any) -> int:
    """The ``cudaStream_t`` as an int, from an int, a cuda-python stream, a torch or a CuPy stream."""
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    if hasattr(stream, "cuda_stream"):  # torch.cuda.Stream
        return int(stream.cuda_stream)
    if hasattr(stream, "ptr"):  # cupy.cuda.Stream
        return int(stream.ptr)
    if hasattr(stream, "handle"):  # pycuda.driver.Stream
        return int(stream.handle)
    return int(stream)  # cuda.bindings cudaStream_t / CUstream support int()


# --- buffers: one small interface, two implementations ------------------------------------------
class Memory:
    """Pinned host arrays, device allocations, streams and async copies; frees all on ``close``."""

    name = "abstract"

    def pinned(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        raise NotImplementedError

    def device(self, nbytes: int) -> int:
        raise NotImplementedError

    def stream(self) -> int:
        raise NotImplementedError

    def htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        raise NotImplementedError

    def dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        raise NotImplementedError

    def synchronize(self, stream: int) -> None:
        raise NotImplementedError

    def query(self, stream: int) -> bool:
        """True when all work queued on ``stream`` has finished."""
        raise NotImplementedError

    # prepared copies: the runner makes them once per buffer and shape, then calls them per request
    def prepare_htod(self, dst: int, src: np.ndarray, stream: int) -> Callable[[], None]:
        """A call that copies ``src`` (pinned) to ``dst`` on ``stream``, arguments bound once."""
        return functools.partial(self.htod, dst, src, stream)

    def prepare_dtoh(self, dst: np.ndarray, src: int, stream: int) -> Callable[[], None]:
        return functools.partial(self.dtoh, dst, src, stream)

    def prepare_sync(self, stream: int) -> Callable[[], None]:
        return functools.partial(self.synchronize, stream)

    # events: where an implementation has none (a test double), a stream query/sync stands in
    def event(self) -> Any:
        """A CUDA event without timing (cheapest to record), freed on ``close``."""
        return None

    def record(self, event: Any, stream: int) -> None:
        """Record ``event`` on ``stream``: it completes when the work queued before it has."""

    def event_done(self, event: Any, stream: int) -> bool:
        return self.query(stream)

    def event_wait(self, event: Any, stream: int) -> None:
        """Block until ``event`` completes (the GIL is released while waiting)."""
        self.synchronize(stream)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CudaPythonMemory(Memory):
    """cuda-python (``cuda.bindings.runtime``): cudaMallocHost, cudaMalloc, cudaMemcpyAsync, streams."""

    name = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        self.rt = _cudart()
        cuda_check(self.rt.cudaSetDevice(device), "cudaSetDevice")
        self._host: list[int] = []
        self._device: list[int] = []
        self._streams: list[Any] = []
        self._events: list[Any] = []
        self._h2d = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._d2h = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._not_ready = self.rt.cudaError_t.cudaErrorNotReady

    def pinned(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = max(count * dtype.itemsize, 1)
        ptr = int(cuda_check(self.rt.cudaMallocHost(nbytes), "cudaMallocHost"))
        self._host.append(ptr)
        raw = (ctypes.c_byte * nbytes).from_address(ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(tuple(shape))

    def device(self, nbytes: int) -> int:
        ptr = int(cuda_check(self.rt.cudaMalloc(max(int(nbytes), 1)), "cudaMalloc"))
        self._device.append(ptr)
        return ptr

    def stream(self) -> int:
        s = cuda_check(self.rt.cudaStreamCreateWithFlags(self.rt.cudaStreamNonBlocking), "cudaStreamCreate")
        self._streams.append(s)
        return int(s)

    def htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        (err,) = self.rt.cudaMemcpyAsync(dst, src.__array_interface__["data"][0], src.nbytes, self._h2d, stream)
        if err:
            cuda_check((err,), "cudaMemcpyAsync(host to device)")

    def dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        (err,) = self.rt.cudaMemcpyAsync(dst.__array_interface__["data"][0], src, dst.nbytes, self._d2h, stream)
        if err:
            cuda_check((err,), "cudaMemcpyAsync(device to host)")

    def synchronize(self, stream: int) -> None:
        (err,) = self.rt.cudaStreamSynchronize(stream)
        if err:
            cuda_check((err,), "cudaStreamSynchronize")

    def query(self, stream: int) -> bool:
        (err,) = self.rt.cudaStreamQuery(stream)
        if err == self._not_ready:
            return False
        cuda_check((err,), "cudaStreamQuery")
        return True

    def _checked(self, call: Callable[..., Any], what: str, *args: Any) -> Callable[[], None]:
        bound = functools.partial(call, *args)

        def run() -> None:
            (err,) = bound()
            if err:
                cuda_check((err,), what)
        return run

    def prepare_htod(self, dst: int, src: np.ndarray, stream: int) -> Callable[[], None]:
        return self._checked(self.rt.cudaMemcpyAsync, "cudaMemcpyAsync(host to device)",
                             dst, src.ctypes.data, src.nbytes, self._h2d, stream)

    def prepare_dtoh(self, dst: np.ndarray, src: int, stream: int) -> Callable[[], None]:
        return self._checked(self.rt.cudaMemcpyAsync, "cudaMemcpyAsync(device to host)",
                             dst.ctypes.data, src, dst.nbytes, self._d2h, stream)

    def prepare_sync(self, stream: int) -> Callable[[], None]:
        return self._checked(self.rt.cudaStreamSynchronize, "cudaStreamSynchronize", stream)

    def event(self) -> Any:
        ev = cuda_check(self.rt.cudaEventCreateWithFlags(self.rt.cudaEventDisableTiming), "cudaEventCreate")
        self._events.append(ev)
        return ev

    def record(self, event: Any, stream: int) -> None:
        (err,) = self.rt.cudaEventRecord(event, stream)
        if err:
            cuda_check((err,), "cudaEventRecord")

    def event_done(self, event: Any, stream: int) -> bool:
        (err,) = self.rt.cudaEventQuery(event)
        if err == self._not_ready:
            return False
        cuda_check((err,), "cudaEventQuery")
        return True

    def event_wait(self, event: Any, stream: int) -> None:
        (err,) = self.rt.cudaEventSynchronize(event)
        if err:
            cuda_check((err,), "cudaEventSynchronize")

    def close(self) -> None:
        for ev in self._events:
            cuda_check(self.rt.cudaEventDestroy(ev), "cudaEventDestroy")
        self._events = []
        for s in self._streams:
            cuda_check(self.rt.cudaStreamSynchronize(s), "cudaStreamSynchronize")
            cuda_check(self.rt.cudaStreamDestroy(s), "cudaStreamDestroy")
        for p in self._device:
            cuda_check(self.rt.cudaFree(p), "cudaFree")
        for p in self._host:
            cuda_check(self.rt.cudaFreeHost(p), "cudaFreeHost")
        self._streams, self._device, self._host = [], [], []


class PyCudaMemory(Memory):
    """pycuda, the guide's own calls: pagelocked_empty, mem_alloc, memcpy_htod_async, Stream.

    It works in the device's *primary* context, the one the CUDA runtime (and TensorRT) use,
    instead of ``import pycuda.autoinit``'s private context.
    """

    name = "pycuda"

    def __init__(self, device: int = 0) -> None:
        try:
            import pycuda.driver as cuda
        except ImportError as exc:
            raise UserError(f"pycuda is not importable ({exc}); pip install pycuda "
                            "(it builds against the CUDA toolkit) or use memory='cuda-python'") from exc
        self.cuda = cuda
        cuda.init()
        self._ctx = cuda.Device(device).retain_primary_context()
        self._ctx.push()
        self._host: list[np.ndarray] = []
        self._device: list[Any] = []
        self._streams: dict[int, Any] = {}

    def pinned(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        array = self.cuda.pagelocked_empty(tuple(shape), dtype=np.dtype(dtype))
        self._host.append(array)
        return array

    def device(self, nbytes: int) -> int:
        alloc = self.cuda.mem_alloc(max(int(nbytes), 1))
        self._device.append(alloc)
        return int(alloc)

    def stream(self) -> int:
        s = self.cuda.Stream()
        self._streams[int(s.handle)] = s
        return int(s.handle)

    def htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        self.cuda.memcpy_htod_async(dst, src, self._streams[stream])

    def dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        self.cuda.memcpy_dtoh_async(dst, src, self._streams[stream])

    def synchronize(self, stream: int) -> None:
        self._streams[stream].synchronize()

    def query(self, stream: int) -> bool:
        return bool(self._streams[stream].is_done())

    def prepare_htod(self, dst: int, src: np.ndarray, stream: int) -> Callable[[], None]:
        return functools.partial(self.cuda.memcpy_htod_async, dst, src, self._streams[stream])

    def prepare_dtoh(self, dst: np.ndarray, src: int, stream: int) -> Callable[[], None]:
        return functools.partial(self.cuda.memcpy_dtoh_async, dst, src, self._streams[stream])

    def prepare_sync(self, stream: int) -> Callable[[], None]:
        return self._streams[stream].synchronize

    def event(self) -> Any:
        return self.cuda.Event(self.cuda.event_flags.DISABLE_TIMING)

    def record(self, event: Any, stream: int) -> None:
        event.record(self._streams[stream])

    def event_done(self, event: Any, stream: int) -> bool:
        return bool(event.query())

    def event_wait(self, event: Any, stream: int) -> None:
        event.synchronize()

    def close(self) -> None:
        for s in self._streams.values():
            s.synchronize()
        for alloc in self._device:
            alloc.free()
        for array in self._host:
            cast(Any, array.base).free()  # the HostAllocation behind pagelocked_empty
        self._streams, self._device, self._host = {}, [], []
        if self._ctx is not None:
            self._ctx.pop()
            self._ctx = None


def memory(kind: str = "cuda-python", device: int = 0) -> Memory:
    """A ``Memory`` of ``kind`` (``"cuda-python"`` or ``"pycuda"``)."""
    if kind == "cuda-python":
        return CudaPythonMemory(device)
    if kind == "pycuda":
        return PyCudaMemory(device)
    raise UserError(f"memory must be one of {', '.join(MEMORY_KINDS)}, not {kind!r}")


