"""Run an engine: the guide's chapter 3.5 on today's TensorRT API.

The guide allocated page-locked host buffers and device buffers with pycuda, copied the input
in, called ``context.execute_async(bindings=[...])`` and copied the output back. TensorRT 10
replaced bindings by *named tensors*, so the same steps now read::

    for i in range(engine.num_io_tensors):            # every input and output, by name
        name = engine.get_tensor_name(i)
        engine.get_tensor_mode(name)                  # TensorIOMode.INPUT / OUTPUT
        engine.get_tensor_shape(name)                 # -1 where the dimension is dynamic
        engine.get_tensor_dtype(name)
    context.set_input_shape(name, x.shape)            # pick the shape inside the profile
    context.set_tensor_address(name, device_pointer)  # once per tensor
    context.execute_async_v3(stream_handle)           # enqueue on a CUDA stream

``Session(engine_path)`` does all of that. Buffers come from cuda-python
(``cuda.bindings.runtime``, the default), from pycuda (``memory="pycuda"``, the guide's own
calls) or, with ``Session.infer_device``, from torch/CuPy arrays the caller already holds
on the GPU. A session can hold several execution contexts of one engine, each on its own
stream (the guide's last paragraph): ``session.submit(x, lane=i)`` enqueues without waiting.

On a machine that cannot run the engine (no GPU, or a GPU the backend does not support)
``Session`` evaluates the ONNX model the engine was built from (named in the engine's
sidecar) with ``trtlab.reference``, and says so: ``session.mode == "CPU reference"``.
Nothing computed that way is TensorRT output, and everything derived from it must carry
that label.
"""
from __future__ import annotations

import asyncio
import ctypes
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping, Sequence, cast

import numpy as np

from . import backend
from .common import UserError, sha256_file

if TYPE_CHECKING:  # the tensorrt-stubs package types these; at run time any backend works
    import tensorrt as trt

CPU_REFERENCE = "CPU reference"
TENSORRT = "TensorRT"
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
        cuda_check(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes,
                                           self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream),
                   "cudaMemcpyAsync(host to device)")

    def dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        cuda_check(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes,
                                           self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream),
                   "cudaMemcpyAsync(device to host)")

    def synchronize(self, stream: int) -> None:
        cuda_check(self.rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")

    def query(self, stream: int) -> bool:
        (err,) = self.rt.cudaStreamQuery(stream)
        if err == self.rt.cudaError_t.cudaErrorNotReady:
            return False
        cuda_check((err,), "cudaStreamQuery")
        return True

    def close(self) -> None:
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


# --- what an engine expects -------------------------------------------------------------------------
@dataclass
class TensorSpec:
    """One I/O tensor: its name, mode, shape (-1 for dynamic) and, for inputs, the profile's range."""

    name: str
    mode: str  # "input" | "output"
    shape: tuple[int, ...]
    dtype: np.dtype
    min_shape: tuple[int, ...] | None = None
    opt_shape: tuple[int, ...] | None = None
    max_shape: tuple[int, ...] | None = None

    @property
    def is_input(self) -> bool:
        return self.mode == "input"

    def allowed(self) -> str:
        """The shapes this tensor accepts, in words: ``(N, 1, 28, 28) float32 with N from 1 to 64``."""
        dims = []
        ranges = []
        for i, d in enumerate(self.shape):
            if d >= 0:
                dims.append(str(d))
                continue
            letter = "N" if i == 0 else f"d{i}"
            dims.append(letter)
            if self.min_shape is not None and self.max_shape is not None:
                ranges.append(f"{letter} from {self.min_shape[i]} to {self.max_shape[i]}")
        text = f"({', '.join(dims)}{',' if len(dims) == 1 else ''}) {self.dtype}"
        return text + (" with " + ", ".join(ranges) if ranges else "")

    def check(self, array: Any) -> None:
        """Raise ``UserError`` naming the tensor, what was given and what is allowed."""
        shape = tuple(int(d) for d in array.shape)
        dtype = _dtype_of(array)
        given = f"{shape} {dtype}"
        where = f"input {self.name!r}"
        if dtype != self.dtype:
            raise UserError(f"{where}: dtype {dtype} given ({given}), allowed {self.allowed()}")
        if len(shape) != len(self.shape):
            raise UserError(f"{where}: {len(shape)}-D shape {shape} given, allowed {self.allowed()}")
        for i, (g, want) in enumerate(zip(shape, self.shape)):
            if want >= 0 and g != want:
                raise UserError(f"{where}: dimension {i} is {g} in {shape}, allowed {self.allowed()}")
            if want < 0 and self.min_shape is not None and self.max_shape is not None:
                lo, hi = self.min_shape[i], self.max_shape[i]
                if not lo <= g <= hi:
                    what = "batch" if i == 0 else f"dimension {i}"
                    raise UserError(f"{where}: {what} {g} given in {shape}, but the engine's optimization "
                                    f"profile allows {lo} to {hi}: allowed {self.allowed()}")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "shape": list(self.shape), "dtype": str(self.dtype),
                "min": _list(self.min_shape), "opt": _list(self.opt_shape), "max": _list(self.max_shape)}


def dims(d: "trt.Dims | Sequence[int]") -> tuple[int, ...]:
    """A ``trt.Dims`` (or any sequence) as a tuple of ints."""
    return tuple(int(d[i]) for i in range(len(d)))


def _list(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _dtype_of(array: Any) -> np.dtype:
    dt = array.dtype
    if isinstance(dt, np.dtype):
        return dt
    text = str(dt).replace("torch.", "")  # torch.float32 -> float32; CuPy already uses NumPy dtypes
    return np.dtype(text)


_TRT_DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "BF16": None, "INT8": np.int8, "INT32": np.int32,
               "INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8, "FP8": None, "INT4": None}


def np_dtype(trt_dtype: Any) -> np.dtype:
    """NumPy dtype of a ``trt.DataType`` (by name, so it works for every backend)."""
    name = getattr(trt_dtype, "name", str(trt_dtype)).split(".")[-1].upper()
    found = _TRT_DTYPES.get(name)
    if found is None:
        raise UserError(f"TensorRT data type {name} has no NumPy equivalent here")
    return np.dtype(found)


def specs_from_engine(engine: "trt.ICudaEngine", profile: int = 0) -> list[TensorSpec]:
    """Every I/O tensor of a deserialized engine, by name (TensorRT 10's API, no bindings)."""
    specs = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        mode = engine.get_tensor_mode(name)  # trt.TensorIOMode.INPUT / OUTPUT, compared by name
        is_input = getattr(mode, "name", str(mode)).split(".")[-1] == "INPUT"
        shape = dims(engine.get_tensor_shape(name))
        spec = TensorSpec(name, "input" if is_input else "output", shape, np_dtype(engine.get_tensor_dtype(name)))
        if is_input and any(d < 0 for d in shape):
            lo, opt, hi = engine.get_tensor_profile_shape(name, profile)
            spec.min_shape, spec.opt_shape, spec.max_shape = dims(lo), dims(opt), dims(hi)
        specs.append(spec)
    return specs


def _shape_from(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(int(d) for d in value)


def _parse_dtype(text: Any) -> np.dtype:
    """``float32``, ``DataType.FLOAT``, ``FLOAT``, ``half`` … -> NumPy dtype."""
    name = str(text).split(".")[-1]
    if name.upper() in _TRT_DTYPES:
        return np_dtype(name)
    return np.dtype(name.lower())


def specs_from_sidecar(sidecar: Mapping[str, Any]) -> list[TensorSpec]:
    """The I/O tensors as the engine's JSON sidecar records them (without deserializing)."""
    io = sidecar.get("io") or sidecar.get("tensors") or sidecar.get("io_tensors") or []
    profiles = sidecar.get("profiles") or []
    first = profiles[0] if profiles else {}
    specs = []
    for t in io:
        mode = str(t.get("mode", "input")).lower().split(".")[-1]
        spec = TensorSpec(t["name"], "input" if mode.startswith("in") else "output",
                          tuple(int(d) for d in t["shape"]), _parse_dtype(t.get("dtype", "float32")))
        rng = first.get(spec.name) if isinstance(first, Mapping) else None
        if rng is None:
            rng = {k: t.get(k) for k in ("min", "opt", "max") if t.get(k) is not None} or None
        if spec.is_input and rng:
            spec.min_shape = _shape_from(rng.get("min"))
            spec.opt_shape = _shape_from(rng.get("opt"))
            spec.max_shape = _shape_from(rng.get("max"))
        specs.append(spec)
    return specs


# --- one execution context on its own stream ------------------------------------------------------
@dataclass
class Lane:
    """One ``IExecutionContext`` with its own stream and its own host/device buffers."""

    index: int
    context: Any
    stream: int
    host: dict[str, np.ndarray] = field(default_factory=dict)  # flat pinned arrays, sized for the max shape
    device: dict[str, int] = field(default_factory=dict)
    pending: "Pending | None" = None  # the request whose results still sit in this lane's buffers


class Pending:
    """Inference enqueued on a stream: ``wait()`` returns the outputs (NumPy, on the host)."""

    def __init__(self, session: "Session", lane: Lane | None, outputs: dict[str, np.ndarray]) -> None:
        self._session, self._lane, self._outputs = session, lane, outputs

    def done(self) -> bool:
        if self._lane is None or self._session._mem is None:
            return True
        return self._session._mem.query(self._lane.stream)

    def wait(self) -> dict[str, np.ndarray]:
        self._detach()
        return {k: v.copy() for k, v in self._outputs.items()}

    def _detach(self) -> None:
        """Finish, and copy the results out of the lane's buffers so the lane can be reused."""
        if self._lane is not None and self._session._mem is not None:
            self._session._mem.synchronize(self._lane.stream)
            self._outputs = {k: v.copy() for k, v in self._outputs.items()}
            if self._lane.pending is self:
                self._lane.pending = None
        self._lane = None


def source_model(engine_path: Path, sidecar: Mapping[str, Any]) -> Path:
    """The ONNX model an engine was built from, as its sidecar names it (relative to the engine)."""
    entry = sidecar.get("source_model")
    digest = None
    if isinstance(entry, Mapping):
        digest = entry.get("sha256")
        entry = entry.get("path")
    digest = digest or sidecar.get("source_model_sha256") or sidecar.get("source_sha256")
    if not entry:
        raise UserError(f"{engine_path}: its sidecar names no source model, so it cannot be evaluated "
                        "on the CPU reference (rebuild it with trtlab build, which records the model)")
    path = Path(entry)
    if not path.is_absolute():
        path = (engine_path.parent / path).resolve()
    if not path.exists():
        raise UserError(f"{engine_path}: its source model {path} is missing")
    if digest and sha256_file(path) != digest:
        raise UserError(f"{engine_path}: its source model {path} changed since the engine was built "
                        "(sha256 differs); rebuild the engine")
    return path


# --- the session ------------------------------------------------------------------------------------
class Session:
    """Load an engine and run it: ``with Session("lenet.engine") as s: logits = s.infer(x)``.

    ``mode`` is ``"TensorRT"`` when the engine runs on this machine's GPU, else
    ``"CPU reference"`` (the sidecar's source ONNX model evaluated by ``trtlab.reference``);
    ``why`` says why the engine itself cannot run. ``contexts`` execution contexts share the
    engine, each on its own stream (``lanes``).
    """

    def __init__(self, engine_path: str | Path, *, contexts: int = 1, memory: str = "cuda-python",
                 device: int = 0, force_reference: bool = False) -> None:
        from . import engine_file

        self.path = Path(engine_path)
        if self.path.is_dir():
            raise UserError(f"{self.path} is a folder, not an engine file")
        if not self.path.exists():
            raise UserError(f"{self.path}: no such engine file")
        if contexts < 1:
            raise UserError(f"contexts must be at least 1, not {contexts}")
        if memory not in MEMORY_KINDS:
            raise UserError(f"memory must be one of {', '.join(MEMORY_KINDS)}, not {memory!r}")
        self.sidecar: dict[str, Any] = dict(engine_file.read_sidecar(self.path) or {})
        self.memory_kind = memory
        self.lanes: list[Lane] = []
        self._mem: Memory | None = None
        self._engine: Any = None
        self._runtime: Any = None
        self._network: Any = None  # reference path: (builder, network, parser) kept alive together
        self._closed = False
        verdict = engine_file.check(self.path)
        if not verdict.intact:  # truncated, corrupt, not an engine: nothing to run, not even its model
            raise UserError(verdict.reason)
        caps = backend.probe()
        runnable, why = caps.can_run, caps.run_reason
        if runnable and not force_reference:
            runnable, why = bool(verdict.can_run), "; ".join(verdict.reasons)
        if force_reference:
            runnable, why = False, "the CPU reference was asked for"
        self.why = "" if runnable else why
        if runnable:
            self.mode = TENSORRT
            self._open_engine(engine_file, contexts, memory, device)
        else:
            self.mode = CPU_REFERENCE
            self._open_reference()

    @classmethod
    def from_engine(cls, engine: "trt.ICudaEngine", *, contexts: int = 1, memory: "str | Memory" = "cuda-python",
                    device: int = 0, name: str = "<engine>", mode: str = TENSORRT) -> "Session":
        """A session over an ``ICudaEngine`` already deserialized (no file, no sidecar, no checks).

        ``memory`` may also be a ``Memory`` instance (any object with its methods); ``mode`` is the
        label its results carry (a test double says it is not TensorRT)."""
        self = cls.__new__(cls)
        self.path, self.sidecar, self.lanes = Path(name), {}, []
        self.memory_kind = memory if isinstance(memory, str) else getattr(memory, "name", type(memory).__name__)
        self._mem, self._engine, self._runtime, self._network, self._closed = None, None, None, None, False
        self.mode, self.why = mode, ""
        self._setup(engine, contexts, memory, device)
        return self

    # -- TensorRT path --------------------------------------------------------------------------------
    def _open_engine(self, engine_file: ModuleType, contexts: int, memory_kind: str, device: int) -> None:
        self._setup(lambda: engine_file.load(self.path), contexts, memory_kind, device)

    def _setup(self, engine_or_loader: Any, contexts: int, memory_kind: "str | Memory", device: int) -> None:
        self._mem = memory(memory_kind, device) if isinstance(memory_kind, str) else memory_kind
        try:
            engine: trt.ICudaEngine = engine_or_loader() if callable(engine_or_loader) else engine_or_loader
            self._engine = engine
            self.specs = specs_from_engine(engine)
            for i in range(contexts):
                context: trt.IExecutionContext = engine.create_execution_context()
                lane = Lane(i, context, self._mem.stream())
                for spec in self.specs:
                    shape = spec.max_shape if spec.max_shape is not None else spec.shape
                    if any(d < 0 for d in shape):  # an output whose size depends on the inputs
                        shape = self._max_output_shape(context, spec)
                    count = int(np.prod(shape, dtype=np.int64))
                    lane.host[spec.name] = self._mem.pinned((count,), spec.dtype)
                    lane.device[spec.name] = self._mem.device(count * spec.dtype.itemsize)
                    context.set_tensor_address(spec.name, lane.device[spec.name])
                self.lanes.append(lane)
        except BaseException:
            self.close()
            raise

    def _max_output_shape(self, context: "trt.IExecutionContext", spec: TensorSpec) -> tuple[int, ...]:
        for s in self.specs:
            if s.is_input and s.max_shape is not None:
                context.set_input_shape(s.name, s.max_shape)
        shape = dims(context.get_tensor_shape(spec.name))
        if any(d < 0 for d in shape):
            raise UserError(f"output {spec.name!r} has a data-dependent shape {shape}; this session "
                            "needs shapes known from the inputs")
        return shape

    @property
    def on_device(self) -> bool:
        """True when an engine is loaded and runs through execute_async_v3 (not the CPU reference)."""
        return self._engine is not None

    @property
    def engine(self) -> Any:
        """The deserialized ``ICudaEngine`` (None on the CPU reference)."""
        return self._engine

    @property
    def activation_bytes(self) -> int | None:
        """Device memory one execution context needs (``device_memory_size_v2``), None without an engine."""
        return None if self._engine is None else int(self._engine.device_memory_size_v2)

    # -- reference path -------------------------------------------------------------------------------
    def _open_reference(self) -> None:
        from . import parse

        self.source = source_model(self.path, self.sidecar)
        self._network = parse.parse_onnx(self.source)
        network = self._network[1]
        specs = specs_from_sidecar(self.sidecar)
        if not specs:  # no I/O table in the sidecar: read it from the parsed network
            for i in range(network.num_inputs):
                t = network.get_input(i)
                specs.append(TensorSpec(t.name, "input", dims(t.shape), np_dtype(t.dtype)))
            for i in range(network.num_outputs):
                t = network.get_output(i)
                specs.append(TensorSpec(t.name, "output", dims(t.shape), np_dtype(t.dtype)))
        self.specs = specs

    # -- common ---------------------------------------------------------------------------------------
    @property
    def inputs(self) -> list[TensorSpec]:
        return [s for s in self.specs if s.is_input]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [s for s in self.specs if not s.is_input]

    @property
    def max_batch(self) -> int | None:
        """The largest batch the profile allows for the first input (None when the batch is fixed)."""
        first = self.inputs[0]
        if first.max_shape is not None:
            return int(first.max_shape[0])
        return int(first.shape[0]) if first.shape and first.shape[0] >= 0 else None

    def _feeds(self, x: Any) -> dict[str, Any]:
        self._check_open()
        if isinstance(x, Mapping):
            unknown = sorted(set(x) - {s.name for s in self.inputs})
            if unknown:
                raise UserError(f"unknown input {unknown[0]!r}: the engine's inputs are "
                                f"{', '.join(repr(s.name) for s in self.inputs)}")
            feeds = dict(x)
        else:
            if len(self.inputs) != 1:
                raise UserError(f"the engine has {len(self.inputs)} inputs "
                                f"({', '.join(repr(s.name) for s in self.inputs)}): pass a dict name -> array")
            feeds = {self.inputs[0].name: x}
        for spec in self.inputs:
            if spec.name not in feeds:
                raise UserError(f"input {spec.name!r} is missing: allowed {spec.allowed()}")
            if not hasattr(feeds[spec.name], "shape") or not hasattr(feeds[spec.name], "dtype"):
                raise UserError(f"input {spec.name!r}: {type(feeds[spec.name]).__name__} given, "
                                f"an array is needed: allowed {spec.allowed()}")
            spec.check(feeds[spec.name])
        return feeds

    def _lane(self, lane: int | None) -> Lane:
        index = 0 if lane is None else lane
        if not 0 <= index < len(self.lanes):
            raise UserError(f"lane {index} does not exist: this session has {len(self.lanes)} execution context(s)")
        return self.lanes[index]

    def submit(self, x: Any, lane: int | None = None) -> Pending:
        """Enqueue one inference (H2D, execute_async_v3, D2H) on a lane's stream; don't wait."""
        feeds = self._feeds(x)
        if not self.on_device:
            return Pending(self, None, self._reference(feeds))
        assert self._mem is not None
        ln = self._lane(lane)
        if ln.pending is not None:  # the previous request still owns this lane's buffers
            ln.pending._detach()
        ctx = ln.context
        for name, array in feeds.items():
            array = np.ascontiguousarray(array)
            ctx.set_input_shape(name, array.shape)
            staging = ln.host[name][: array.size]
            staging[...] = array.ravel()
            self._mem.htod(ln.device[name], staging, ln.stream)
        if not ctx.execute_async_v3(ln.stream):
            raise RuntimeError(f"execute_async_v3 failed on lane {ln.index} (see TensorRT's log)")
        outputs: dict[str, np.ndarray] = {}
        for spec in self.outputs:
            shape = dims(ctx.get_tensor_shape(spec.name))
            count = int(np.prod(shape, dtype=np.int64))
            view = ln.host[spec.name][:count]
            self._mem.dtoh(view, ln.device[spec.name], ln.stream)
            outputs[spec.name] = view.reshape(shape)
        ln.pending = Pending(self, ln, outputs)
        return ln.pending

    def infer_all(self, x: Any, lane: int | None = None) -> dict[str, np.ndarray]:
        """Every output by name."""
        return self.submit(x, lane).wait()

    def infer(self, x: Any, lane: int | None = None) -> Any:
        """Run once and wait: the output array (a dict when the engine has several outputs)."""
        outs = self.infer_all(x, lane)
        return next(iter(outs.values())) if len(outs) == 1 else outs

    async def infer_async(self, x: Any, lane: int | None = None, poll_s: float = 0.0002) -> Any:
        """``await session.infer_async(x)``: enqueue, then yield to the event loop until the stream is done."""
        pending = self.submit(x, lane)
        while not pending.done():
            await asyncio.sleep(poll_s)
        outs = pending.wait()
        return next(iter(outs.values())) if len(outs) == 1 else outs

    def infer_batches(self, x: np.ndarray, batch: int | None = None, reference_batch: int = 512) -> np.ndarray:
        """Run a large array through the engine in chunks of ``batch`` (default: the profile's max),
        spread round-robin over the lanes; returns the first output, concatenated.

        On the CPU reference the chunks are ``reference_batch`` rows (the profile limits the
        engine, not the NumPy interpreter, and every row is computed independently either way);
        each chunk is still checked against the input's dtype and non-batch dimensions. An engine
        with a static batch (no profile) gets chunks of exactly that batch, the last one padded."""
        given = len(x)
        fixed = self.max_batch if self.inputs[0].max_shape is None else None  # a static batch dimension
        if fixed and given % fixed:  # every chunk must be exactly that size: pad the last one, drop the padding after
            x = np.concatenate([x, np.zeros((fixed - given % fixed, *x.shape[1:]), dtype=x.dtype)])
        batch = fixed or batch or self.max_batch or len(x)
        if not self.on_device:
            self._feeds(x[:fixed or 1])  # same checks as infer(), on one row (one fixed batch)
            rows = fixed or max(batch, reference_batch)  # a static batch binds the reference too
            name = self.inputs[0].name
            outs = [next(iter(self._reference({name: x[i:i + rows]}).values())) for i in range(0, len(x), rows)]
            return np.concatenate(outs)[:given]
        chunks = [x[i:i + batch] for i in range(0, len(x), batch)]
        out: list[np.ndarray] = []
        n = len(self.lanes)
        for start in range(0, len(chunks), n):  # each lane keeps one request in flight
            pend = [self.submit(c, lane=i) for i, c in enumerate(chunks[start:start + n])]
            out.extend(next(iter(p.wait().values())) for p in pend)
        return np.concatenate(out)[:given]

    def _reference(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from . import reference

        network = self._network[1]
        got = reference.evaluate(network, {k: np.asarray(v) for k, v in feeds.items()})
        names = [s.name for s in self.outputs]
        if names and all(n in got for n in names):
            return {n: np.asarray(got[n]) for n in names}
        return {k: np.asarray(v) for k, v in got.items()}

    # -- torch / CuPy arrays already on the GPU ----------------------------------------------------
    def infer_device(self, x: Any, lane: int | None = None, stream: Any = None) -> Any:
        """Run on torch or CuPy arrays already on the GPU, zero-copy: their ``data_ptr()`` /
        ``.data.ptr`` go straight to ``set_tensor_address``; outputs are allocated by the same
        library; the work goes on ``stream`` (default: the library's current stream)."""
        feeds = self._feeds(x)
        if not self.on_device:
            raise UserError(f"infer_device needs the engine on a GPU; this session is {self.mode} ({self.why})")
        first = next(iter(feeds.values()))
        lib = _array_library(first)
        handle = stream_handle(stream) if stream is not None else lib.current_stream()
        ln = self._lane(lane)
        ctx = ln.context
        for name, array in feeds.items():
            if not lib.is_contiguous(array):
                raise UserError(f"input {name!r} is not contiguous; call .contiguous() / cupy.ascontiguousarray")
            ctx.set_input_shape(name, tuple(array.shape))
            ctx.set_tensor_address(name, lib.pointer(array))
        outputs = {}
        for spec in self.outputs:
            out = lib.empty(dims(ctx.get_tensor_shape(spec.name)), spec.dtype)
            ctx.set_tensor_address(spec.name, lib.pointer(out))
            outputs[spec.name] = out
        try:
            if not ctx.execute_async_v3(handle):
                raise RuntimeError(f"execute_async_v3 failed on lane {ln.index}")
        finally:  # give the lane its own buffers back for submit()
            for spec in self.specs:
                ctx.set_tensor_address(spec.name, ln.device[spec.name])
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    # -- lifetime -------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise UserError(f"this session on {self.path} is closed")

    def close(self) -> None:
        """Free contexts, engine, buffers and streams (in that order: contexts before the engine)."""
        if self._closed:
            return
        self._closed = True
        if self._mem is not None:
            for ln in self.lanes:
                self._mem.synchronize(ln.stream)
        for ln in self.lanes:
            ln.context = None
        self.lanes = []
        self._engine = None
        self._network = None
        if self._mem is not None:
            self._mem.close()
            self._mem = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def describe(self) -> dict[str, Any]:
        """What this session runs, for tables and records."""
        return {"engine": str(self.path), "mode": self.mode, "why": self.why, "memory": self.memory_kind,
                "contexts": len(self.lanes),
                "tensors": [s.as_dict() for s in self.specs], "max_batch": self.max_batch}

    def __repr__(self) -> str:
        why = f" — {self.why}" if self.why else ""
        return f"Session({str(self.path)!r}, mode={self.mode!r}{why})"


# --- torch / CuPy adapters --------------------------------------------------------------------------
class _ArrayLib:
    def __init__(self, kind: str, module: ModuleType) -> None:
        self.kind, self.m = kind, module

    def pointer(self, a: Any) -> int:
        return int(a.data_ptr()) if self.kind == "torch" else int(a.data.ptr)

    def is_contiguous(self, a: Any) -> bool:
        return bool(a.is_contiguous()) if self.kind == "torch" else bool(a.flags.c_contiguous)

    def current_stream(self) -> int:
        if self.kind == "torch":
            return int(self.m.cuda.current_stream().cuda_stream)
        return int(self.m.cuda.get_current_stream().ptr)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        if self.kind == "torch":
            tdtype = getattr(self.m, np.dtype(dtype).name)
            return self.m.empty(shape, dtype=tdtype, device="cuda")
        return self.m.empty(shape, dtype=dtype)


def _array_library(a: Any) -> _ArrayLib:
    mod = type(a).__module__.split(".")[0]
    if mod == "torch":
        import torch

        if not a.is_cuda:
            raise UserError("infer_device needs CUDA tensors; this torch tensor is on the CPU (use infer)")
        return _ArrayLib("torch", torch)
    if mod == "cupy":
        import cupy

        return _ArrayLib("cupy", cupy)
    raise UserError(f"infer_device takes torch or CuPy GPU arrays, not {type(a).__name__} (use infer for NumPy)")


# --- several contexts on several streams ---------------------------------------------------------
def overlap_demo(session: Session, x: np.ndarray, requests: int = 32) -> dict[str, Any]:
    """Time ``requests`` inferences of ``x`` on one lane, then spread over all lanes.

    With several execution contexts each on its own stream, copies and kernels of different
    requests can overlap on the GPU: the spread run takes less wall time. On the CPU reference
    there is nothing to overlap, and the result says so instead of timing anything.
    """
    if not session.on_device:
        return {"mode": session.mode, "ran": False,
                "why": f"overlap needs the engine on a GPU ({session.why or 'not available'})"}
    for ln in session.lanes:  # warm-up every lane
        session.submit(x, ln.index).wait()

    # a lane reuses its buffers, so keep at most one request per lane in flight
    def run_safe(lanes: int) -> float:
        t0 = time.perf_counter()
        for start in range(0, requests, lanes):
            pend = [session.submit(x, lane=i) for i in range(min(lanes, requests - start))]
            for p in pend:
                p.wait()
        return time.perf_counter() - t0

    one = min(run_safe(1) for _ in range(3))
    many = min(run_safe(len(session.lanes)) for _ in range(3))
    return {"mode": session.mode, "ran": True, "requests": requests, "lanes": len(session.lanes),
            "one_lane_s": one, "all_lanes_s": many, "speedup": one / many if many > 0 else math.nan}
