"""Looking inside a running engine, as trtexec's ``--dumpProfile`` / ``--dumpLayerInfo`` do (chapter 6).

* :func:`sync_vs_async` — ``IExecutionContext.execute_v2(bindings)`` (synchronous: returns when the
  work is done, one pointer per I/O tensor in engine order) beside ``execute_async_v3(stream)``
  (addresses set by name with ``set_tensor_address``, returns once the work is queued);
* :class:`LayerTimes` / :func:`layer_profiler` — an ``IProfiler`` whose ``report_layer_time``
  TensorRT calls once per layer after each synchronous run: per-layer times;
* :func:`layer_information` — ``IEngineInspector.get_engine_information(LayerInformationFormat.JSON)``
  as rows (name, type, inputs, outputs, tactic). Full rows need an engine built with
  ``config.profiling_verbosity = ProfilingVerbosity.DETAILED``; otherwise only layer names.

All three need a deserialized engine, i.e. a GPU the backend runs on; :func:`why_not_here` gives
the one-line reason when there is none. Each takes an ``ICudaEngine`` or a runner from
``trtlab.runtime.open_runner`` (its ``runner.engine``; the CPU reference has none and is refused
with its ``runner.why``). The functions only call the TensorRT interface, so
any object with it (the stand-in engine ``trtlab.testing.FakeEngine``) exercises them too.
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Any, Mapping

import numpy as np

from . import backend
from .common import UserError


def why_not_here() -> str:
    """'' when this machine can run engines, else why not (one line, from the probe)."""
    caps = backend.probe()
    return "" if caps.can_run else caps.run_reason


def engine_of(obj: Any) -> Any:
    """The ``ICudaEngine`` to look into: ``obj`` itself, or a runner's ``runner.engine``.

    A runner without an engine (``ReferenceRunner``: no GPU here) is a UserError saying why."""
    if hasattr(obj, "create_execution_context"):
        return obj
    if hasattr(obj, "label") and hasattr(obj, "engine"):  # a trtlab.runtime runner
        if obj.engine is not None:
            return obj.engine
        raise UserError(f"the {obj.label} runs no TensorRT engine to look into"
                        + (f": {obj.why}" if obj.why else ""))
    raise TypeError(f"expected an ICudaEngine or a trtlab runner, not {type(obj).__name__}")


def io_names(engine: Any) -> list[str]:
    """I/O tensor names in the engine's order (the order ``execute_v2``'s bindings follow)."""
    return [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]


class Buffers:
    """Host staging arrays and device buffers for one context at fixed input shapes.

    ``feeds``: input name -> array. Shapes are set on the context first (``set_input_shape``),
    so output shapes are known; ``memory`` is a ``trtlab.runtime.Memory`` (cuda-python by default).
    """

    def __init__(self, engine: Any, context: Any, feeds: Mapping[str, np.ndarray], memory: Any) -> None:
        from .compat import dims, np_dtype

        self.memory, self.context = memory, context
        self.stream = memory.stream()
        self.host: dict[str, np.ndarray] = {}
        self.device: dict[str, int] = {}
        for name, array in feeds.items():
            if not context.set_input_shape(name, tuple(array.shape)):
                raise ValueError(f"set_input_shape({name!r}, {tuple(array.shape)}) refused: outside the profile")
        self.names = io_names(engine)
        for name in self.names:
            shape = dims(context.get_tensor_shape(name))
            dtype = feeds[name].dtype if name in feeds else np_dtype(engine.get_tensor_dtype(name))
            host = memory.pinned(shape, dtype)
            if name in feeds:
                host[...] = feeds[name]
            self.host[name] = host
            self.device[name] = memory.device(max(host.nbytes, 1))
        self.outputs = [n for n in self.names if n not in feeds]

    def bindings(self) -> list[int]:
        """``execute_v2``'s argument: one device pointer per I/O tensor, in engine order."""
        return [self.device[n] for n in self.names]

    def upload(self) -> None:
        for name in self.names:
            if name not in self.outputs:
                self.memory.htod(self.device[name], self.host[name], self.stream)
        self.memory.synchronize(self.stream)

    def download(self) -> dict[str, np.ndarray]:
        for name in self.outputs:
            self.memory.dtoh(self.host[name], self.device[name], self.stream)
        self.memory.synchronize(self.stream)
        return {n: self.host[n].copy() for n in self.outputs}


def sync_vs_async(engine: Any, feeds: Mapping[str, np.ndarray], memory: Any = None, iters: int = 50,
                  warmup: int = 5) -> dict[str, Any]:
    """Run the same inputs through ``execute_v2`` and ``execute_async_v3``; same outputs, timed.

    Returns medians in ms: ``execute_v2`` (the call returns when the GPU is done), and for
    ``execute_async_v3`` the time until the call returns (work queued) and until the stream is done.
    """
    from .cuda_memory import memory as make_memory

    engine = engine_of(engine)
    mem = memory if memory is not None else make_memory("cuda-python")
    try:
        return _sync_vs_async(engine, feeds, mem, iters, warmup)
    finally:
        if memory is None:  # ours: free the buffers and streams
            mem.close()


def _sync_vs_async(engine: Any, feeds: Mapping[str, np.ndarray], mem: Any, iters: int, warmup: int) -> dict[str, Any]:
    context = engine.create_execution_context()
    buf = Buffers(engine, context, feeds, mem)
    buf.upload()
    for name in buf.names:  # execute_async_v3 reads addresses set by name
        context.set_tensor_address(name, buf.device[name])

    def v2() -> None:
        if not context.execute_v2(buf.bindings()):
            raise RuntimeError("execute_v2 returned False (see TensorRT's log)")

    def v3() -> float:
        start = time.perf_counter()
        if not context.execute_async_v3(buf.stream):
            raise RuntimeError("execute_async_v3 returned False (see TensorRT's log)")
        queued = time.perf_counter() - start
        mem.synchronize(buf.stream)
        return queued

    v2()
    out_v2 = buf.download()
    for name in buf.outputs:  # so the second run cannot pass by reading the first one's results
        buf.host[name][...] = 0
        mem.htod(buf.device[name], buf.host[name], buf.stream)
    v3()
    out_v3 = buf.download()
    same = all(np.array_equal(out_v2[n], out_v3[n]) for n in buf.outputs)
    for _ in range(warmup):
        v2()
        v3()
    t_v2, t_q, t_v3 = [], [], []
    for _ in range(iters):
        start = time.perf_counter()
        v2()
        t_v2.append(time.perf_counter() - start)
        start = time.perf_counter()
        t_q.append(v3())
        t_v3.append(time.perf_counter() - start)
    ms = lambda xs: round(1000 * statistics.median(xs), 4)  # noqa: E731
    return {"outputs_equal": same, "outputs": out_v3, "iters": iters, "execute_v2_ms": ms(t_v2),
            "execute_async_v3_return_ms": ms(t_q), "execute_async_v3_done_ms": ms(t_v3)}


class LayerTimes:
    """What an ``IProfiler`` is told: ``report_layer_time(layer_name, ms)`` per layer per run."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        self.times.setdefault(layer_name, []).append(float(ms))

    def rows(self) -> list[dict[str, Any]]:
        """One row per layer, slowest first: mean ms, runs, share of the total."""
        total = sum(statistics.fmean(v) for v in self.times.values()) or 1.0
        rows = [{"layer": k, "mean_ms": statistics.fmean(v), "runs": len(v),
                 "share": statistics.fmean(v) / total} for k, v in self.times.items()]
        return sorted(rows, key=lambda r: -r["mean_ms"])


def layer_profiler(trt: Any = None) -> LayerTimes:
    """A ``LayerTimes`` that TensorRT accepts as ``context.profiler``: it must subclass
    ``trt.IProfiler`` (and call its ``__init__``), so the class is made per backend."""
    base = getattr(trt, "IProfiler", None) if trt is not None else None
    if base is None:
        return LayerTimes()

    class Profiler(LayerTimes, base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            LayerTimes.__init__(self)

    return Profiler()


def per_layer_times(engine: Any, feeds: Mapping[str, np.ndarray], trt: Any = None, runs: int = 10,
                    memory: Any = None) -> list[dict[str, Any]]:
    """Per-layer times from an ``IProfiler`` over ``runs`` synchronous ``execute_v2`` calls."""
    from .cuda_memory import memory as make_memory

    engine = engine_of(engine)
    mem = memory if memory is not None else make_memory("cuda-python")
    try:
        context = engine.create_execution_context()
        buf = Buffers(engine, context, feeds, mem)
        buf.upload()
        profiler = layer_profiler(trt)
        context.profiler = profiler
        for _ in range(runs):
            if not context.execute_v2(buf.bindings()):
                raise RuntimeError("execute_v2 returned False (see TensorRT's log)")
        return profiler.rows()
    finally:
        if memory is None:
            mem.close()


def layer_information(engine: Any, fmt: Any = None) -> list[dict[str, Any]]:
    """``IEngineInspector`` output as rows: name, type, inputs, outputs, tactic (where the build kept them).

    ``fmt`` is ``trt.LayerInformationFormat.JSON`` (the default, from the loaded backend)."""
    if fmt is None:
        fmt = backend.load().LayerInformationFormat.JSON
    inspector = engine_of(engine).create_engine_inspector()
    info = json.loads(inspector.get_engine_information(fmt))
    rows = []
    for layer in info.get("Layers", []):
        if isinstance(layer, str):  # ProfilingVerbosity.LAYER_NAMES_ONLY: a name and nothing else
            rows.append({"name": layer, "type": "", "inputs": "", "outputs": "", "tactic": ""})
            continue

        def tensors(key: str) -> str:
            return ", ".join(f"{t.get('Name')} {t.get('Dimensions')} {t.get('Format/Datatype', '')}".strip()
                             for t in layer.get(key, []))

        rows.append({"name": layer.get("Name", ""), "type": layer.get("LayerType", ""),
                     "inputs": tensors("Inputs"), "outputs": tensors("Outputs"),
                     "tactic": str(layer.get("TacticName") or layer.get("TacticValue") or "")})
    return rows
