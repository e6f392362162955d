"""Run an engine: the guide's chapter 3.5 on today's TensorRT API, behind one runner interface.

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

Runners (the shape follows Polygraphy's ``BaseRunner``): one small interface, :class:`Runner` —
``specs``, ``infer``, ``submit``/``wait``, ``label``, ``close`` — and two implementations:

* :class:`TensorRTRunner` runs the engine: buffers from cuda-python (default) or pycuda
  (``memory="pycuda"``, the guide's own calls), several execution contexts ("lanes"), each on its
  own stream, each with two sets of buffers so that two requests per lane can be in flight;
  completion is a CUDA event per request. ``infer_device`` takes torch/CuPy GPU arrays.
* :class:`ReferenceRunner` evaluates the ONNX model the engine was built from (named in its
  sidecar) with ``trtlab.reference`` on the CPU. Nothing it computes is TensorRT output.

:func:`open_runner` picks one and says why (``runner.why``); each runner carries its label
(``runner.label``: ``"TensorRT"`` or ``"CPU reference"``), so callers print the label instead of
branching on the kind. ``Session`` is the old name of :func:`open_runner` and still works.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from . import backend, engine_file, parse, reference
from .common import UserError, sha256_file
from .compat import dims, np_dtype, parse_dtype
from .compat import is_input as compat_is_input
from .cuda_memory import memory as _make_memory  # the parameter named memory shadows it below
from .cuda_memory import (MEMORY_KINDS, CudaError, CudaPythonMemory, Memory, PyCudaMemory,  # noqa: F401
                          cuda_check, memory, stream_handle)

if TYPE_CHECKING:  # the tensorrt-stubs package types these; at run time any backend works
    import tensorrt as trt

CPU_REFERENCE = "CPU reference"
TENSORRT = "TensorRT"
DEPTH = 2  # requests in flight per lane (sets of I/O buffers per execution context)
REFERENCE_MEMORY_LIMIT = 8 << 30  # bytes of one input or output the CPU reference will allocate


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




def _list(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _dtype_of(array: Any) -> np.dtype:
    dt = array.dtype
    if isinstance(dt, np.dtype):
        return dt
    text = str(dt).replace("torch.", "")  # torch.float32 -> float32; CuPy already uses NumPy dtypes
    return np.dtype(text)


def specs_from_engine(engine: "trt.ICudaEngine", profile: int = 0) -> list[TensorSpec]:
    """Every I/O tensor of a deserialized engine, by name (TensorRT 10's API, no bindings)."""
    specs = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = compat_is_input(engine.get_tensor_mode(name))
        shape = dims(engine.get_tensor_shape(name))
        spec = TensorSpec(name, "input" if is_input else "output", shape, np_dtype(engine.get_tensor_dtype(name)))
        if is_input and any(d < 0 for d in shape):
            lo, opt, hi = engine.get_tensor_profile_shape(name, profile)
            spec.min_shape, spec.opt_shape, spec.max_shape = dims(lo), dims(opt), dims(hi)
        specs.append(spec)
    return specs


def specs_from_sidecar(sidecar: Any) -> list[TensorSpec]:
    """The I/O tensors as the engine's sidecar records them (without deserializing).

    ``sidecar`` is an ``engine_file.Sidecar`` (or the dict of one, validated here)."""
    if not sidecar:
        return []
    side = sidecar if isinstance(sidecar, engine_file.Sidecar) else engine_file.Sidecar.from_dict(dict(sidecar))
    first = side.profiles[0] if side.profiles else {}
    specs = []
    for t in side.io:
        spec = TensorSpec(t["name"], t["mode"], tuple(t["shape"]), parse_dtype(t["dtype"]))
        rng = first.get(spec.name)
        if spec.is_input and rng:
            spec.min_shape, spec.opt_shape, spec.max_shape = (tuple(rng["min"]), tuple(rng["opt"]),
                                                              tuple(rng["max"]))
        specs.append(spec)
    return specs


def source_model(engine_path: Path, sidecar: Any) -> Path:
    """The ONNX model an engine was built from, as its sidecar names it (relative to the engine).

    Used only when it is a regular file whose sha256 matches the sidecar's: a missing or empty
    hash is a refusal (the sidecar could otherwise make trtlab read any file)."""
    if not sidecar:
        raise UserError(f"{engine_path}: it has no sidecar, so its sidecar names no source model and it cannot be "
                        "evaluated on the CPU reference (rebuild it with trtlab build, which records the model)")
    side = sidecar if isinstance(sidecar, engine_file.Sidecar) else engine_file.Sidecar.from_dict(dict(sidecar))
    return side.source_path(Path(engine_path))


# --- the interface ----------------------------------------------------------------------------------
@dataclass
class Stage:
    """One thing ``bench`` can time: ``fn`` enqueues (on ``stream``: CUDA events time it) or runs
    (``stream`` None: wall-clock time). ``host_bound`` marks work whose time is the host's."""

    what: str
    fn: Callable[[], Any]
    stream: int | None = None
    host_bound: bool = False


class Pending:
    """A request in flight: ``done()`` asks its CUDA event, ``wait()`` returns the outputs (NumPy, host)."""

    __slots__ = ("_mem", "_slot", "_stream", "_outputs")

    def __init__(self, mem: Memory | None, slot: "Slot | None", stream: int, outputs: dict[str, np.ndarray]) -> None:
        self._mem, self._slot, self._stream, self._outputs = mem, slot, stream, outputs

    def done(self) -> bool:
        if self._slot is None or self._mem is None:
            return True
        return self._mem.event_done(self._slot.event, self._stream)

    def block(self) -> None:
        """Wait for the request's event without touching Python state (safe from a worker thread)."""
        if self._slot is not None and self._mem is not None:
            self._mem.event_wait(self._slot.event, self._stream)

    def wait(self) -> dict[str, np.ndarray]:
        self._detach()
        return self._outputs

    def _detach(self) -> None:
        """Finish, and copy the results out of the slot's buffers so the slot can be reused."""
        slot = self._slot
        if slot is not None:
            if self._mem is not None:
                self._mem.event_wait(slot.event, self._stream)
            self._outputs = {k: v.copy() for k, v in self._outputs.items()}
            if slot.pending is self:
                slot.pending = None
            self._slot = None


class Runner:
    """What every runner offers (modelled on Polygraphy's ``BaseRunner``).

    ``label`` names what computes the results ("TensorRT", "CPU reference", a stand-in's name),
    ``why`` says why this runner was chosen over TensorRT (empty when it is TensorRT)."""

    label: str = "abstract"
    why: str = ""
    path: Path
    sidecar: Any = None
    specs: list[TensorSpec]
    memory_kind: str | None = None
    on_gpu: bool = False  # the work runs on a GPU (CUDA streams and events time it)
    caveat: str = ""  # what a reader must know about figures from this runner (printed beside them)
    _closed: bool = False

    # -- what it runs ---------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The label (the old name)."""
        return self.label

    @property
    def on_device(self) -> bool:
        """The old name of ``on_gpu``."""
        return self.on_gpu

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

    @property
    def fixed_batch(self) -> int | None:
        """The batch of an engine without an optimization profile on its first input (else None)."""
        first = self.inputs[0]
        return int(first.shape[0]) if first.max_shape is None and first.shape and first.shape[0] >= 0 else None

    def batches(self) -> list[int]:
        """The batch sizes worth measuring: the fixed batch, or min (1 for most profiles), opt and max of
        the profile."""
        first = self.inputs[0]
        if first.max_shape is None:
            return [self.fixed_batch or 1]
        low = int(first.min_shape[0]) if first.min_shape is not None else 1
        opt = int(first.opt_shape[0]) if first.opt_shape is not None else int(first.max_shape[0])
        return sorted({max(low, 1), opt, int(first.max_shape[0])})

    @property
    def lane_count(self) -> int:
        return 1

    @property
    def activation_bytes(self) -> int | None:
        return None

    @property
    def engine(self) -> Any:
        return None

    # -- running --------------------------------------------------------------------------------
    def submit(self, x: Any, lane: int | None = None) -> Pending:
        raise NotImplementedError

    def infer_all(self, x: Any, lane: int | None = None) -> dict[str, np.ndarray]:
        """Every output by name."""
        return self.submit(x, lane).wait()

    def infer(self, x: Any, lane: int | None = None) -> Any:
        """Run once and wait: the output array (a dict when the engine has several outputs)."""
        outs = self.infer_all(x, lane)
        return next(iter(outs.values())) if len(outs) == 1 else outs

    async def infer_async(self, x: Any, lane: int | None = None) -> Any:
        """``await runner.infer_async(x)``: enqueue, then wait for the request's CUDA event in a worker
        thread (the event loop runs on meanwhile; no polling)."""
        pending = self.submit(x, lane)
        if not pending.done():
            await asyncio.get_running_loop().run_in_executor(None, pending.block)
        outs = pending.wait()
        return next(iter(outs.values())) if len(outs) == 1 else outs

    def infer_batches(self, x: np.ndarray, batch: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def infer_device(self, x: Any, lane: int | None = None, stream: Any = None) -> Any:
        raise UserError(f"infer_device needs the engine on a GPU; this runner is {self.label} ({self.why})")

    def synchronize(self) -> None:
        """Wait for everything this runner has enqueued."""

    def stages(self, x: np.ndarray) -> list[Stage]:
        """What ``bench`` times for input ``x``."""
        return [Stage("end to end", lambda: self.infer(x))]

    # -- checks shared by both ------------------------------------------------------------------
    def _feeds(self, x: Any) -> dict[str, Any]:
        self._check_open()
        inputs = self.inputs
        if isinstance(x, Mapping):
            unknown = sorted(set(x) - {s.name for s in inputs})
            if unknown:
                raise UserError(f"unknown input {str(unknown[0])[:80]!r}: the engine's inputs are "
                                f"{', '.join(repr(s.name) for s in inputs)}")
            feeds = dict(x)
        else:
            if len(inputs) != 1:
                raise UserError(f"the engine has {len(inputs)} inputs "
                                f"({', '.join(repr(s.name) for s in inputs)}): pass a dict name -> array")
            feeds = {inputs[0].name: x}
        for spec in inputs:
            if spec.name not in feeds:
                raise UserError(f"input {spec.name!r} is missing: allowed {spec.allowed()}")
            if not hasattr(feeds[spec.name], "shape") or not hasattr(feeds[spec.name], "dtype"):
                raise UserError(f"input {spec.name!r}: {type(feeds[spec.name]).__name__} given, "
                                f"an array is needed: allowed {spec.allowed()}")
            spec.check(feeds[spec.name])
        return feeds

    def _check_open(self) -> None:
        if self._closed:
            raise UserError(f"this runner on {self.path} is closed")

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def describe(self) -> dict[str, Any]:
        """What this runner runs, for tables and records."""
        return {"engine": str(self.path), "mode": self.label, "label": self.label, "why": self.why,
                "memory": self.memory_kind, "contexts": self.lane_count,
                "tensors": [s.as_dict() for s in self.specs], "max_batch": self.max_batch}

    def __repr__(self) -> str:
        why = f" — {self.why}" if self.why else ""
        return f"{type(self).__name__}({str(self.path)!r}, label={self.label!r}{why})"


# --- the CPU reference --------------------------------------------------------------------------------
class ReferenceRunner(Runner):
    """The engine's source ONNX model evaluated by ``trtlab.reference`` (NumPy), labelled as such."""

    label = CPU_REFERENCE
    memory_kind = None
    caveat = ("The 'CPU reference' rows time trtlab.reference, a NumPy interpreter of the network: they show "
              "the reference works, not how fast TensorRT is.")

    def __init__(self, engine_path: str | Path, sidecar: Any = None, why: str = "", *,
                 reference_batch: int = 512) -> None:
        self.path = Path(engine_path)
        self.sidecar = sidecar if sidecar is not None else engine_file.read_sidecar(self.path)
        self.why = why
        self.reference_batch = reference_batch
        self._network: Any = None
        self.source = source_model(self.path, self.sidecar)
        self._network = parse.parse_onnx(self.source, quiet=True)  # (builder, network, parser) kept alive
        network = self._network[1]
        specs = specs_from_sidecar(self.sidecar)
        if not any(s.is_input for s in specs):  # no usable I/O table in the sidecar: the parsed network's
            specs = []
            for i in range(network.num_inputs):
                t = network.get_input(i)
                specs.append(TensorSpec(t.name, "input", dims(t.shape), np_dtype(t.dtype)))
            for i in range(network.num_outputs):
                t = network.get_output(i)
                specs.append(TensorSpec(t.name, "output", dims(t.shape), np_dtype(t.dtype)))
        self.specs = specs
        for s in specs:  # refuse now what NumPy could never allocate (a 4 TiB static input)
            shape = s.max_shape if s.max_shape is not None else s.shape
            count = math.prod(max(int(d), 1) for d in shape)
            if count * s.dtype.itemsize > REFERENCE_MEMORY_LIMIT:
                raise UserError(f"{self.path.name}: {s.mode} {s.name[:60]!r} {tuple(shape)} {s.dtype} needs "
                                f"{count * s.dtype.itemsize / 2**30:,.0f} GiB; the CPU reference stops at "
                                f"{REFERENCE_MEMORY_LIMIT >> 30} GiB per tensor")

    def _lane(self, lane: int | None) -> None:
        if lane not in (None, 0):
            raise UserError(f"lane {lane} does not exist: the CPU reference has one lane (0); "
                            "lanes are execution contexts of an engine running on a GPU")

    def submit(self, x: Any, lane: int | None = None) -> Pending:
        self._lane(lane)
        return Pending(None, None, 0, self._evaluate(self._feeds(x)))

    def _evaluate(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        network = self._network[1]
        try:
            got = reference.evaluate(network, {k: np.asarray(v) for k, v in feeds.items()})
        except UserError:
            raise
        except (ValueError, IndexError, TypeError, KeyError, MemoryError, OverflowError, NotImplementedError) as exc:
            text = " ".join(str(exc).split())[:200]
            raise UserError(f"the CPU reference could not evaluate {self.source.name}: "
                            f"{type(exc).__name__}: {text}") from None
        names = [s.name for s in self.outputs]
        if names and all(n in got for n in names):
            return {n: np.asarray(got[n]) for n in names}
        return {k: np.asarray(v) for k, v in got.items()}

    def infer_batches(self, x: np.ndarray, batch: int | None = None) -> np.ndarray:
        """The first output for every row of ``x``, in chunks of ``reference_batch`` rows (the profile
        limits the engine, not the NumPy interpreter; each row is computed independently either way).
        Each chunk is still checked against the input's dtype and non-batch dimensions; an engine with
        a static batch gets chunks of exactly that batch, the last one padded."""
        given = len(x)
        fixed = self.fixed_batch
        if fixed and given % fixed:
            x = np.concatenate([x, np.zeros((fixed - given % fixed, *x.shape[1:]), dtype=x.dtype)])
        self._feeds(x[:fixed or 1])  # same checks as infer(), on one row (one fixed batch)
        rows = fixed or max(batch or 0, self.reference_batch)
        name = self.inputs[0].name
        outs = [next(iter(self._evaluate({name: x[i:i + rows]}).values())) for i in range(0, len(x), rows)]
        return np.concatenate(outs)[:given]

    def close(self) -> None:
        self._closed = True
        self._network = None


# --- TensorRT ---------------------------------------------------------------------------------------
class Slot:
    """One set of I/O buffers of a lane (pinned host + device) and the event of its last request."""

    __slots__ = ("host", "device", "event", "pending", "views")

    def __init__(self) -> None:
        self.views: dict[tuple, Any] = {}  # input shapes -> (input views, output views, outputs by name)
        self.host: dict[str, np.ndarray] = {}  # flat pinned arrays, sized for the max shape
        self.device: dict[str, int] = {}
        self.event: Any = None
        self.pending: Pending | None = None


@dataclass
class Lane:
    """One ``IExecutionContext`` on its own stream, with ``DEPTH`` slots of buffers."""

    index: int
    context: Any
    stream: int
    slots: list[Slot] = field(default_factory=list)
    bound: int = -1  # the slot whose addresses the context holds now
    turn: int = 0  # the next slot submit() takes
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # input shapes set on the context
    out_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    key: tuple = ()  # the input shapes, in input order: the slots' view cache key
    sync: Callable[[], None] = lambda: None  # the stream's synchronize, prepared
    fast_shape: tuple[int, ...] | None = None  # the one ndarray input's shape when nothing needs checking

    @property
    def host(self) -> dict[str, np.ndarray]:
        return self.slots[0].host

    @property
    def device(self) -> dict[str, int]:
        return self.slots[0].device

    @property
    def pending(self) -> Pending | None:
        return next((s.pending for s in self.slots if s.pending is not None), None)


class TensorRTRunner(Runner):
    """An engine on this machine's GPU: ``contexts`` execution contexts ("lanes"), each on its own
    stream with ``depth`` sets of buffers (requests in flight per lane)."""

    on_gpu = True
    caveat = ("Engine rows are TensorRT on this GPU: 'with copies' includes H2D and D2H, 'compute only' is "
              "execute_async_v3 alone; a row flagged host-bound measures the host's enqueue, not GPU time.")

    def __init__(self, engine: Any, *, contexts: int = 1, memory: "str | Memory" = "cuda-python", device: int = 0,
                 depth: int = DEPTH, label: str = TENSORRT, path: str | Path = "<engine>", sidecar: Any = None,
                 why: str = "") -> None:
        if contexts < 1:
            raise UserError(f"contexts must be at least 1, not {contexts}")
        if depth < 1:
            raise UserError(f"depth must be at least 1, not {depth}")
        self.path, self.sidecar, self.label, self.why = Path(path), sidecar, label, why
        self.lanes: list[Lane] = []
        self._engine: Any = None
        self._mem: Memory | None = None
        self.memory_kind = memory if isinstance(memory, str) else getattr(memory, "name", type(memory).__name__)
        self._mem = _make_memory(memory, device) if isinstance(memory, str) else memory
        try:
            engine = engine() if callable(engine) and not hasattr(engine, "create_execution_context") else engine
            self._engine = engine
            self.specs = specs_from_engine(engine)
            self._in_names = [s.name for s in self.specs if s.is_input]
            self._fast_dtype = next(s.dtype for s in self.specs if s.is_input)
            for i in range(contexts):
                context: trt.IExecutionContext = engine.create_execution_context()
                lane = Lane(i, context, self._mem.stream())
                lane.sync = self._mem.prepare_sync(lane.stream)
                for _ in range(depth):
                    slot = Slot()
                    slot.event = self._mem.event()
                    for spec in self.specs:
                        shape = spec.max_shape if spec.max_shape is not None else spec.shape
                        if any(d < 0 for d in shape):  # an output whose size depends on the inputs
                            shape = self._max_output_shape(context, spec)
                        count = int(np.prod(shape, dtype=np.int64))
                        slot.host[spec.name] = self._mem.pinned((count,), spec.dtype)
                        slot.device[spec.name] = self._mem.device(count * spec.dtype.itemsize)
                    lane.slots.append(slot)
                self._bind(lane, 0)
                self.lanes.append(lane)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_engine(cls, engine: "trt.ICudaEngine", *, contexts: int = 1, memory: "str | Memory" = "cuda-python",
                    device: int = 0, name: str = "<engine>", mode: str = TENSORRT, depth: int = DEPTH,
                    label: str | None = None) -> "TensorRTRunner":
        """A runner over an ``ICudaEngine`` already deserialized (no file, no sidecar, no checks).

        ``memory`` may also be a ``Memory`` instance; ``label`` (old name ``mode``) is the label its
        results carry (a test double says it is not TensorRT)."""
        return cls(engine, contexts=contexts, memory=memory, device=device, depth=depth,
                   label=label or mode, path=name)

    def _max_output_shape(self, context: Any, spec: TensorSpec) -> tuple[int, ...]:
        for s in self.specs:
            if s.is_input and s.max_shape is not None:
                context.set_input_shape(s.name, s.max_shape)
        shape = dims(context.get_tensor_shape(spec.name))
        if any(d < 0 for d in shape):
            raise UserError(f"output {spec.name!r} has a data-dependent shape {shape}; this runner "
                            "needs shapes known from the inputs")
        return shape

    def _bind(self, lane: Lane, index: int) -> None:
        slot = lane.slots[index]
        for name, ptr in slot.device.items():
            lane.context.set_tensor_address(name, ptr)
        lane.bound = index

    @property
    def engine(self) -> Any:
        """The deserialized ``ICudaEngine``."""
        return self._engine

    @property
    def lane_count(self) -> int:
        return len(self.lanes)

    @property
    def activation_bytes(self) -> int | None:
        """Device memory one execution context needs (``device_memory_size_v2``)."""
        return None if self._engine is None else int(self._engine.device_memory_size_v2)

    def _lane(self, lane: int | None) -> Lane:
        index = 0 if lane is None else lane
        if not (isinstance(index, int) and 0 <= index < len(self.lanes)):
            raise UserError(f"lane {index} does not exist: this runner has {len(self.lanes)} execution context(s)")
        return self.lanes[index]

    # the hot path: every line here is paid per request
    def _enqueue(self, ln: Lane, index: int, x: Any) -> tuple[Slot, dict[str, np.ndarray]]:
        mem = self._mem
        if mem is None:
            raise UserError(f"this runner on {self.path} is closed")
        if type(x) is np.ndarray and x.shape == ln.fast_shape and x.dtype == self._fast_dtype:
            feeds = None  # one input, the same shape and dtype as last time: checked and set already
        else:
            feeds = self._set_shapes(ln, x)
        slot = ln.slots[index]
        if slot.pending is not None:  # an earlier request still owns these buffers: finish it first
            slot.pending._detach()
        if ln.bound != index:
            self._bind(ln, index)
        views = slot.views.get(ln.key)
        if views is None:
            views = slot.views[ln.key] = self._views(slot, ln)
        ins, outs, outputs = views
        if feeds is None:
            staging, h2d = ins[0]
            np.copyto(staging, x, casting="no")
            h2d()
        else:
            for name, (staging, h2d) in zip(self._in_names, ins):
                np.copyto(staging, feeds[name], casting="no")
                h2d()
        if not ln.context.execute_async_v3(ln.stream):
            raise RuntimeError(f"execute_async_v3 failed on lane {ln.index} (see TensorRT's log)")
        for d2h in outs:
            d2h()
        return slot, outputs

    def _set_shapes(self, ln: Lane, x: Any) -> dict[str, Any]:
        """Check the inputs, set new shapes on the context; remember the fast case (one ndarray input)."""
        feeds = self._feeds(x)
        ctx = ln.context
        changed = False
        for name, array in feeds.items():
            shape = tuple(int(d) for d in array.shape)
            if ln.shapes.get(name) != shape:
                if not ctx.set_input_shape(name, shape):
                    raise UserError(f"input {name!r}: TensorRT refused shape {shape}")
                ln.shapes[name] = shape
                changed = True
        if changed:
            ln.out_shapes = {s.name: dims(ctx.get_tensor_shape(s.name)) for s in self.outputs}
            ln.key = tuple(ln.shapes[n] for n in self._in_names)
        single = len(self._in_names) == 1 and type(x) is np.ndarray
        ln.fast_shape = ln.shapes[self._in_names[0]] if single else None
        return feeds

    def _views(self, slot: Slot, ln: Lane) -> tuple[list[tuple[np.ndarray, Callable[[], None]]],
                                                    list[Callable[[], None]], dict[str, np.ndarray]]:
        """The slot's buffers shaped for the lane's current shapes, with their copies prepared
        (made once per shape, then reused by every request of that shape)."""
        mem = self._mem
        assert mem is not None
        ins = []
        for name in self._in_names:
            shape = ln.shapes[name]
            view = slot.host[name][: math.prod(shape)].reshape(shape)
            ins.append((view, mem.prepare_htod(slot.device[name], view, ln.stream)))
        outs, outputs = [], {}
        for name, shape in ln.out_shapes.items():
            view = slot.host[name][: math.prod(shape)].reshape(shape)
            outs.append(mem.prepare_dtoh(view, slot.device[name], ln.stream))
            outputs[name] = view
        return ins, outs, outputs

    def submit(self, x: Any, lane: int | None = None) -> Pending:
        """Enqueue one inference (H2D, execute_async_v3, D2H, an event) on a lane's stream; don't wait.

        A lane takes ``depth`` requests before a submit has to finish the oldest."""
        ln = self._lane(lane)
        index = ln.turn
        ln.turn = (index + 1) % len(ln.slots)
        slot, outputs = self._enqueue(ln, index, x)
        assert self._mem is not None
        self._mem.record(slot.event, ln.stream)
        slot.pending = Pending(self._mem, slot, ln.stream, outputs)
        return slot.pending

    def _run(self, x: Any, lane: int | None) -> dict[str, np.ndarray]:
        """Enqueue on the slot the context is bound to (when free) and wait: the outputs as views."""
        ln = self.lanes[0] if lane is None and self.lanes else self._lane(lane)
        index = ln.bound if ln.slots[ln.bound].pending is None else ln.turn
        _, outputs = self._enqueue(ln, index, x)
        ln.sync()
        return outputs

    def infer_all(self, x: Any, lane: int | None = None) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._run(x, lane).items()}

    def infer(self, x: Any, lane: int | None = None) -> Any:
        outputs = self._run(x, lane)
        if len(outputs) == 1:
            for view in outputs.values():
                return view.copy()
        return {k: v.copy() for k, v in outputs.items()}

    def infer_batches(self, x: np.ndarray, batch: int | None = None) -> np.ndarray:
        """Run a large array in chunks of ``batch`` (default: the profile's max), spread round-robin
        over the lanes, ``depth`` requests in flight per lane; returns the first output, concatenated.
        An engine with a static batch gets chunks of exactly that batch, the last one padded."""
        given = len(x)
        fixed = self.fixed_batch
        if fixed and given % fixed:
            x = np.concatenate([x, np.zeros((fixed - given % fixed, *x.shape[1:]), dtype=x.dtype)])
        batch = fixed or batch or self.max_batch or len(x)
        n = len(self.lanes)
        pend = [self.submit(x[i:i + batch], lane=k % n) for k, i in enumerate(range(0, len(x), batch))]
        name = self.outputs[0].name
        return np.concatenate([p.wait()[name] for p in pend])[:given]

    def synchronize(self) -> None:
        if self._mem is not None:
            for ln in self.lanes:
                self._mem.synchronize(ln.stream)

    def stages(self, x: np.ndarray) -> list[Stage]:
        """"with copies" (H2D, execute_async_v3, D2H), "compute only" (execute_async_v3 alone) on lane 0."""
        lane = self.lanes[0]
        self.infer(x, 0)  # leaves the input shape set and the input on the device, slot bound
        ctx = lane.context
        return [Stage("with copies", lambda: self.submit(x, 0), lane.stream),
                Stage("compute only", lambda: ctx.execute_async_v3(lane.stream), lane.stream)]

    # -- torch / CuPy arrays already on the GPU ----------------------------------------------------
    def infer_device(self, x: Any, lane: int | None = None, stream: Any = None) -> Any:
        """Run on torch or CuPy arrays already on the GPU, zero-copy: their ``data_ptr()`` /
        ``.data.ptr`` go straight to ``set_tensor_address``; outputs are allocated by the same
        library; the work goes on ``stream`` (default: the library's current stream)."""
        feeds = self._feeds(x)
        first = next(iter(feeds.values()))
        lib = _array_library(first)
        handle = stream_handle(stream) if stream is not None else lib.current_stream()
        ln = self._lane(lane)
        ctx = ln.context
        for name, array in feeds.items():
            if not lib.is_contiguous(array):
                raise UserError(f"input {name!r} is not contiguous; call .contiguous() / cupy.ascontiguousarray")
            shape = tuple(int(d) for d in array.shape)
            ctx.set_input_shape(name, shape)
            ln.shapes[name] = shape
            ctx.set_tensor_address(name, lib.pointer(array))
        ln.out_shapes = {s.name: dims(ctx.get_tensor_shape(s.name)) for s in self.outputs}
        ln.key = tuple(ln.shapes[n] for n in self._in_names)
        ln.fast_shape = None
        outputs = {}
        for spec in self.outputs:
            out = lib.empty(ln.out_shapes[spec.name], spec.dtype)
            ctx.set_tensor_address(spec.name, lib.pointer(out))
            outputs[spec.name] = out
        try:
            if not ctx.execute_async_v3(handle):
                raise RuntimeError(f"execute_async_v3 failed on lane {ln.index}")
        finally:  # give the lane its own buffers back for submit()
            self._bind(ln, ln.bound if ln.bound >= 0 else 0)
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

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
        if self._mem is not None:
            self._mem.close()
            self._mem = None


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


# --- choosing a runner -----------------------------------------------------------------------------
@dataclass
class Choice:
    """Which runner :func:`open_runner` takes for an engine, and why."""

    kind: str  # TENSORRT | CPU_REFERENCE
    why: str  # empty for TensorRT; else why the engine itself cannot run here
    verdict: Any = None


def choose(engine_path: str | Path, *, force_reference: bool = False) -> Choice:
    """TensorRT when this machine can run the engine (``backend.probe`` and ``engine_file.check``),
    else the CPU reference with the reason. A damaged engine is refused (UserError), not evaluated."""
    path = Path(engine_path)
    verdict = engine_file.check(path)
    if not verdict.intact:  # truncated, corrupt, not an engine: nothing to run, not even its model
        raise UserError(verdict.reason)
    if force_reference:
        return Choice(CPU_REFERENCE, "the CPU reference was asked for", verdict)
    caps = backend.probe()
    if not caps.can_run:
        return Choice(CPU_REFERENCE, caps.run_reason, verdict)
    if not verdict.can_run:
        return Choice(CPU_REFERENCE, "; ".join(verdict.reasons), verdict)
    return Choice(TENSORRT, "", verdict)


def open_runner(engine_path: str | Path, *, contexts: int = 1, memory: str = "cuda-python", device: int = 0,
                force_reference: bool = False, depth: int = DEPTH) -> Runner:
    """The runner for an engine file on this machine: ``with open_runner("lenet.engine") as r: r.infer(x)``.

    ``r.label`` says what computes the results and ``r.why`` why it is not TensorRT."""
    path = Path(engine_path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an engine file")
    if not path.exists():
        raise UserError(f"{path}: no such engine file")
    if not isinstance(contexts, int) or contexts < 1:
        raise UserError(f"contexts must be at least 1, not {contexts}")
    if memory not in MEMORY_KINDS:
        raise UserError(f"memory must be one of {', '.join(MEMORY_KINDS)}, not {str(memory)[:40]!r}")
    choice = choose(path, force_reference=force_reference)
    sidecar = choice.verdict.sidecar if choice.verdict is not None and choice.verdict.sidecar is not None \
        else engine_file.read_sidecar(path)
    if choice.kind == TENSORRT:
        return TensorRTRunner(lambda: engine_file.load(path), contexts=contexts, memory=memory, device=device,
                              depth=depth, path=path, sidecar=sidecar)
    return ReferenceRunner(path, sidecar, choice.why)


def Session(engine_path: str | Path, *, contexts: int = 1, memory: str = "cuda-python", device: int = 0,
            force_reference: bool = False) -> Runner:
    """The old name of :func:`open_runner` (``Session.from_engine`` is ``TensorRTRunner.from_engine``)."""
    return open_runner(engine_path, contexts=contexts, memory=memory, device=device, force_reference=force_reference)


Session.from_engine = TensorRTRunner.from_engine  # type: ignore[attr-defined]


# --- several contexts on several streams ---------------------------------------------------------
def overlap_demo(runner: Runner, x: np.ndarray, requests: int = 32) -> dict[str, Any]:
    """Time ``requests`` inferences of ``x`` on one lane, then spread over all lanes.

    With several execution contexts each on its own stream, copies and kernels of different
    requests can overlap on the GPU: the spread run takes less wall time. A runner with one lane
    (the CPU reference) has nothing to overlap, and the result says so instead of timing anything.
    """
    if runner.lane_count < 2 and not runner.on_gpu:
        return {"mode": runner.label, "ran": False,
                "why": f"overlap needs the engine on a GPU ({runner.why or 'not available'})"}
    lanes = runner.lane_count
    for i in range(lanes):  # warm-up every lane
        runner.submit(x, i).wait()

    def run(n: int) -> float:
        t0 = time.perf_counter()
        pend = [runner.submit(x, lane=i % n) for i in range(requests)]
        for p in pend:
            p.wait()
        return time.perf_counter() - t0

    one = min(run(1) for _ in range(3))
    many = min(run(lanes) for _ in range(3))
    return {"mode": runner.label, "ran": True, "requests": requests, "lanes": lanes,
            "one_lane_s": one, "all_lanes_s": many, "speedup": one / many if many > 0 else math.nan}
