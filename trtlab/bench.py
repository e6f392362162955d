"""The five metrics of the guide's chapter 1 — throughput, efficiency, latency, accuracy,
memory — measured honestly.

Honest means: warm-up runs are thrown away; GPU work is timed with CUDA events recorded on
the stream that does the work (a host clock around asynchronous work measures the launch,
not the work); many repetitions, reported as percentiles (p50/p90/p99), not one number; the
method and the device are named next to every figure; and anything computed on the CPU
reference instead of TensorRT says "CPU reference".

The timing helpers take any callable, so they are checked against workloads of known
duration (a copy of known size, a torch/CuPy kernel) on a GPU machine, TensorRT or not:

    t = bench.time_cuda(lambda: torch.cuda._sleep(1_000_000), stream=torch.cuda.current_stream())
    t = bench.time_cpu(lambda: model(x))
    t.p50, t.p99, t.summary()
"""
from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import backend, data, runtime
from .common import UserError, atomic_write
from .cuda_memory import _cudart, cuda_check, stream_handle
from .runtime import open_runner

PERCENTILES = (50, 90, 99)
CPU_REFERENCE = "CPU reference"


# --- statistics ----------------------------------------------------------------------------------
def summarize(samples_ms: Sequence[float] | np.ndarray, percentiles: Sequence[float] = PERCENTILES) -> dict[str, float]:
    """p50/p90/p99, mean, std, min, max and n of timings in milliseconds."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no timings to summarize")
    out = {f"p{int(q) if float(q).is_integer() else q}": float(np.percentile(a, q)) for q in percentiles}
    out.update(mean=float(a.mean()), std=float(a.std(ddof=1)) if a.size > 1 else 0.0,
               min=float(a.min()), max=float(a.max()), n=int(a.size))
    return out


@dataclass
class Timing:
    """Per-iteration times (ms) of one workload, and how they were taken."""

    samples_ms: np.ndarray
    method: str  # "CUDA events", "CUDA events (CUDA graph)", "perf_counter"
    warmup: int
    label: str = ""
    items: int = 1  # images per iteration (the batch), for throughput
    host_p50_ms: float | None = None  # CUDA events: the median host time of one enqueue call

    @property
    def host_bound(self) -> bool:
        """The GPU interval is the host's enqueue time: the GPU waited for the host, so the figure
        measures how fast the host enqueues, not GPU time (CUDA events around a blocking call)."""
        return self.host_p50_ms is not None and self.host_p50_ms >= 0.8 * self.p50

    @property
    def p50(self) -> float:
        return float(np.percentile(self.samples_ms, 50))

    @property
    def p90(self) -> float:
        return float(np.percentile(self.samples_ms, 90))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.samples_ms, 99))

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples_ms))

    @property
    def total_s(self) -> float:
        return float(np.sum(self.samples_ms)) / 1e3

    @property
    def per_second(self) -> float:
        """Items per second over all timed iterations (total items / total time)."""
        return self.items * len(self.samples_ms) / self.total_s if self.total_s > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "method": self.method, "warmup": self.warmup, "items": self.items,
                **summarize(self.samples_ms), "per_second": self.per_second}

    def __repr__(self) -> str:
        return (f"Timing({self.label or 'workload'}: p50 {self.p50:.4f} ms, p90 {self.p90:.4f} ms, "
                f"p99 {self.p99:.4f} ms, n={len(self.samples_ms)}, {self.method})")


# --- timing: CPU ---------------------------------------------------------------------------------
def time_cpu(fn: Callable[[], Any], warmup: int = 10, iters: int = 100, *, label: str = "", items: int = 1,
             min_time_s: float = 0.0, max_time_s: float | None = None, min_iters: int = 5) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``iters`` times, each timed with
    ``time.perf_counter_ns``: at least ``min_time_s`` seconds, and at most ``max_time_s``
    seconds once ``min_iters`` calls are timed (slow workloads get fewer, stated, samples)."""
    if iters < 1 or warmup < 0:
        raise UserError(f"iters must be >= 1 and warmup >= 0 (got iters={iters}, warmup={warmup})")
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < iters or time.perf_counter() - start < min_time_s:
        if (max_time_s is not None and len(samples) >= min(min_iters, iters)
                and time.perf_counter() - start >= max_time_s):
            break
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return Timing(np.asarray(samples), "perf_counter", warmup, label, items)


# --- timing: CUDA events through cuda-python ------------------------------------------------------
def _rt() -> Any:
    return _cudart()


def time_cuda(fn: Callable[[], Any], stream: Any = None, warmup: int = 10, iters: int = 100, *,
              label: str = "", items: int = 1, warmup_s: float = 0.0) -> Timing:
    """Time GPU work that ``fn`` enqueues on ``stream`` with CUDA events (cuda-python).

    Each iteration records an event on ``stream`` before and after ``fn()``; the elapsed time
    between the two is the GPU's own measure of that work (launch gaps on the host are not
    in it, as long as ``fn`` does not block). ``stream``: an int handle, a cuda-python stream,
    a torch or CuPy stream (None: the legacy default stream). Events are read after one
    synchronize at the end, so timing does not serialize the iterations.

    ``warmup_s``: keep warming up (after the ``warmup`` calls) until that many seconds have
    passed. An idle GPU runs at a low clock and takes a few hundred milliseconds of work to
    reach its boost clock; a kernel that counts cycles then runs measurably longer in the
    first iterations (seen on an H200: 6 % on a 1.5 ms kernel right after idle).
    """
    if iters < 1 or warmup < 0:
        raise UserError(f"iters must be >= 1 and warmup >= 0 (got iters={iters}, warmup={warmup})")
    rt = _rt()
    s = stream_handle(stream)
    for _ in range(warmup):
        fn()
    cuda_check(rt.cudaStreamSynchronize(s), "cudaStreamSynchronize")
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < warmup_s:
        fn()
        cuda_check(rt.cudaStreamSynchronize(s), "cudaStreamSynchronize")
    events = [cuda_check(rt.cudaEventCreate(), "cudaEventCreate") for _ in range(2 * iters)]
    host: list[int] = []
    clock = time.perf_counter_ns
    try:
        for i in range(iters):
            cuda_check(rt.cudaEventRecord(events[2 * i], s), "cudaEventRecord")
            t_host = clock()
            fn()
            host.append(clock() - t_host)
            cuda_check(rt.cudaEventRecord(events[2 * i + 1], s), "cudaEventRecord")
        cuda_check(rt.cudaEventSynchronize(events[-1]), "cudaEventSynchronize")
        samples = [float(cuda_check(rt.cudaEventElapsedTime(events[2 * i], events[2 * i + 1]),
                                    "cudaEventElapsedTime")) for i in range(iters)]
    finally:
        for e in events:
            rt.cudaEventDestroy(e)
    t = Timing(np.asarray(samples), "CUDA events", warmup, label, items, float(np.median(host)) / 1e6)
    if t.host_bound:
        t.method = "CUDA events, host-bound"
    return t


class CudaGraph:
    """Capture what ``fn`` enqueues on ``stream`` once, then replay it with one launch.

    Many small kernels (LeNet at batch 1 is a handful) cost more in launch overhead than in
    work; a graph replay launches them all at once. TensorRT supports capturing
    ``execute_async_v3`` after one normal call (the first call may allocate or set up).
    """

    def __init__(self, fn: Callable[[], Any], stream: Any) -> None:
        rt = _rt()
        self.rt, self.stream = rt, stream_handle(stream)
        if self.stream == 0:
            raise UserError("CUDA graph capture needs a non-default stream")
        cuda_check(rt.cudaStreamBeginCapture(self.stream, rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal),
                   "cudaStreamBeginCapture")
        try:
            fn()
        finally:
            graph = cuda_check(rt.cudaStreamEndCapture(self.stream), "cudaStreamEndCapture")
        self.graph = graph
        self.exec = cuda_check(rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")

    def launch(self) -> None:
        cuda_check(self.rt.cudaGraphLaunch(self.exec, self.stream), "cudaGraphLaunch")

    def close(self) -> None:
        if getattr(self, "exec", None) is not None:
            self.rt.cudaGraphExecDestroy(self.exec)
            self.rt.cudaGraphDestroy(self.graph)
            self.exec = None

    def __enter__(self) -> "CudaGraph":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def time_cuda_graph(fn: Callable[[], Any], stream: Any, warmup: int = 10, iters: int = 100, *,
                    label: str = "", items: int = 1, warmup_s: float = 0.0) -> Timing:
    """Like ``time_cuda``, but ``fn``'s work is captured once into a CUDA graph and replayed."""
    fn()  # one ordinary call first (TensorRT may set things up on the first enqueue)
    cuda_check(_rt().cudaStreamSynchronize(stream_handle(stream)), "cudaStreamSynchronize")
    with CudaGraph(fn, stream) as graph:
        t = time_cuda(graph.launch, stream, warmup, iters, label=label, items=items, warmup_s=warmup_s)
    t.method = "CUDA events (CUDA graph)" + (", host-bound" if t.host_bound else "")
    return t


# --- power and CPU use while a workload runs ------------------------------------------------------
class PowerSampler:
    """Sample the GPU's board power through NVML every ``interval_s`` while in a ``with`` block."""

    def __init__(self, index: int = 0, interval_s: float = 0.01) -> None:
        self.index, self.interval_s = index, interval_s
        self.samples_w: list[float] = []
        self.available = False
        self.why = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PowerSampler":
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            pynvml.nvmlDeviceGetPowerUsage(self._handle)
            self.available = True
        except Exception as exc:
            self.why = f"NVML power reading not available ({exc.__class__.__name__}: {exc})".strip()
            return self
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples_w.append(self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)
            except Exception:
                pass
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        if self.available:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass

    @property
    def mean_w(self) -> float | None:
        return float(np.mean(self.samples_w)) if self.samples_w else None


@dataclass
class Efficiency:
    value: float | None
    unit: str  # "images/s per W" or "images/s per CPU core"
    source: str  # how it was measured
    images_per_s: float
    watts: float | None = None
    cpu_cores_busy: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def efficiency(fn: Callable[[], Any], items: int, seconds: float = 1.0, *, gpu: bool = False,
               synchronize: Callable[[], Any] | None = None, device_index: int = 0) -> Efficiency:
    """Images per second per watt (NVML board power, on a GPU) or per busy CPU core.

    Runs ``fn`` repeatedly for about ``seconds``. On a GPU with NVML power readings the
    mean board power during the run divides the throughput. Otherwise (or without power
    readings) the process CPU time during the run says how many cores were busy, and
    throughput is divided by that: images per second per CPU core. The unit says which.
    """
    fn()
    if synchronize:
        synchronize()
    count = 0
    sampler = PowerSampler(device_index) if gpu else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if sampler is not None:
        sampler.__enter__()
    try:
        while time.perf_counter() - t0 < seconds:
            fn()
            count += 1
        if synchronize:
            synchronize()
    finally:
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if sampler is not None:
            sampler.__exit__(None, None, None)
    ips = count * items / wall
    if sampler is not None and sampler.available and sampler.mean_w:
        return Efficiency(ips / sampler.mean_w, "images/s per W", f"NVML board power, mean of "
                          f"{len(sampler.samples_w)} readings", ips, watts=sampler.mean_w)
    cores = cpu / wall if wall > 0 else float("nan")
    why = f" ({sampler.why})" if sampler is not None and sampler.why else ""
    return Efficiency(ips / cores if cores > 0 else None, "images/s per CPU core",
                      f"process CPU time / wall time = {cores:.2f} busy cores{why}", ips, cpu_cores_busy=cores)


# --- accuracy ------------------------------------------------------------------------------------
def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label."""
    logits, labels = np.asarray(logits), np.asarray(labels).reshape(-1)
    if len(logits) != len(labels):
        raise UserError(f"{len(logits)} predictions but {len(labels)} labels")
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """How closely two models' logits agree: same argmax (fraction), largest and mean |difference|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise UserError(f"logits of shape {a.shape} and {b.shape} cannot be compared")
    diff = np.abs(a - b)
    return {"argmax_agreement": float(np.mean(np.argmax(a, 1) == np.argmax(b, 1))),
            "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
            "disagreements": int(np.sum(np.argmax(a, 1) != np.argmax(b, 1)))}


# --- memory --------------------------------------------------------------------------------------
def process_rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def gpu_memory(index: int = 0) -> dict[str, Any]:
    """Used/total memory of GPU ``index`` and this process's share, from NVML (or why not)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:
        return {"available": False, "why": f"NVML not available ({exc.__class__.__name__})"}
    try:
        h = pynvml.nvmlDeviceGetHandleByIndex(index)
        info = pynvml.nvmlDeviceGetMemoryInfo(h)
        mine = None
        try:
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h):
                if p.pid == os.getpid():
                    mine = int(p.usedGpuMemory) if p.usedGpuMemory is not None else None
        except Exception:
            pass
        return {"available": True, "used_bytes": int(info.used), "total_bytes": int(info.total),
                "process_bytes": mine}
    finally:
        pynvml.nvmlShutdown()


def onnx_weight_bytes(path: str | Path) -> int:
    """Bytes of the initializers (weights) of an ONNX model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return int(sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer))


def memory_report(session: Any = None) -> dict[str, Any]:
    """Weights, activation memory (``device_memory_size_v2``), process RSS and GPU memory."""
    out: dict[str, Any] = {"process_rss_bytes": process_rss_bytes(), "gpu": gpu_memory()}
    if session is not None:
        out["engine_file_bytes"] = Path(session.path).stat().st_size
        source = getattr(session, "source", None)
        if source is None:
            try:
                source = runtime.source_model(Path(session.path), session.sidecar)
            except UserError:
                source = None
        out["weights_bytes"] = onnx_weight_bytes(source) if source is not None else None
        act = session.activation_bytes
        out["activation_bytes"] = act
        if act is None:
            out["activation_why"] = ("device_memory_size_v2 needs a deserialized engine; "
                                     f"this runner is {session.label} ({session.why})")
    return out


# --- throughput and latency of a session ----------------------------------------------------------
UNSTEADY = 3.0  # rows whose p99 is more than this many times their p50 are flagged


@dataclass
class Row:
    """One batch size of one model: latency percentiles and throughput, with how they were measured."""

    model: str
    mode: str  # "TensorRT", "CPU reference", "TensorFlow (CPU)", "ONNX Runtime (CPU)"
    batch: int
    what: str  # "with copies", "compute only", "CUDA graph", "end to end"
    method: str
    p50_ms: float
    p90_ms: float
    p99_ms: float
    images_per_s: float
    iters: int
    flags: str = ""  # "host-bound" (measures the host's enqueue, not GPU time); "unsteady" (p99/p50 > 3)

    @classmethod
    def of(cls, model: str, mode: str, batch: int, what: str, t: Timing) -> "Row":
        flags = []
        if t.host_bound:
            flags.append("host-bound")
        if t.p50 > 0 and t.p99 / t.p50 > UNSTEADY:
            flags.append(f"unsteady: p99/p50 {t.p99 / t.p50:.1f}")
        return cls(model, mode, batch, what, t.method, t.p50, t.p90, t.p99, t.per_second, len(t.samples_ms),
                   "; ".join(flags))


def _images(batch: int, shape: Sequence[int], dtype: Any, seed: int = 0, pool: np.ndarray | None = None) -> np.ndarray:
    if pool is not None and len(pool) >= batch:
        return np.ascontiguousarray(pool[:batch].astype(dtype, copy=False))
    rng = np.random.default_rng(seed)
    return rng.random((batch, *shape[1:]), dtype=np.float32).astype(dtype)


def bench_session(session: Any, batches: Iterable[int] | None = None, warmup: int = 5, iters: int = 50,
                  images: np.ndarray | None = None, graphs: bool = True, model: str = "engine",
                  max_time_s: float | None = 2.0, min_iters: int = 20) -> list[Row]:
    """Latency and throughput of a runner (``runtime.open_runner``) at each batch size.

    The runner says what can be timed (``runner.stages(x)``): on a GPU "with copies" (H2D,
    execute_async_v3, D2H) and "compute only" (execute_async_v3 alone), timed with CUDA events,
    and, with ``graphs``, "CUDA graph" (the same enqueue captured and replayed); on the CPU
    reference "end to end" with perf_counter, stopping after ``max_time_s`` per batch once 5
    iterations are timed (the row gives the count). Rows carry the runner's label; a row whose
    CUDA-event interval is only the host's enqueue time is flagged host-bound, one whose p99 is
    over 3x its p50 unsteady. ``batches`` None: the batches the engine accepts (``runner.batches()``).
    """
    spec = session.inputs[0]
    rows = []
    for batch in (session.batches() if batches is None else batches):
        mb = session.max_batch
        if mb is not None and batch > mb:
            raise UserError(f"batch {batch} is above the engine's profile maximum {mb} for input {spec.name!r}")
        x = _images(batch, spec.shape, spec.dtype, pool=images)
        for stage in session.stages(x):
            if stage.stream is None:
                t = time_cpu(stage.fn, warmup=min(warmup, 2), iters=max(iters, min_iters), items=batch,
                             max_time_s=max_time_s, min_iters=min_iters)
            else:
                t = time_cuda(stage.fn, stage.stream, warmup, iters, items=batch,
                              warmup_s=0.2 if not rows else 0.0)
            rows.append(Row.of(model, session.label, batch, stage.what, t))
            if graphs and stage.stream is not None and stage.what == "compute only":
                try:
                    tg = time_cuda_graph(stage.fn, stage.stream, warmup, iters, items=batch)
                    rows.append(Row.of(model, session.label, batch, "CUDA graph", tg))
                except Exception as exc:  # some engines cannot be captured; say so, don't hide it
                    print(f"batch {batch}: CUDA graph capture failed ({exc}); no graph row")
    return rows


def bench_callable(fn: Callable[[np.ndarray], Any], model: str, mode: str, batches: Iterable[int],
                   shape: Sequence[int], warmup: int = 5, iters: int = 50, images: np.ndarray | None = None,
                   dtype: Any = np.float32, max_time_s: float | None = 2.0, min_iters: int = 20) -> list[Row]:
    """The same protocol for a baseline on the CPU (TensorFlow, ONNX Runtime): perf_counter, end to end,
    at least ``min_iters`` timed calls per batch even past ``max_time_s``."""
    rows = []
    for batch in batches:
        x = _images(batch, shape, dtype, pool=images)
        t = time_cpu(lambda: fn(x), warmup=warmup, iters=max(iters, min_iters), items=batch, max_time_s=max_time_s,
                     min_iters=min_iters)
        rows.append(Row.of(model, mode, batch, "end to end", t))
    return rows


def onnxruntime_fn(onnx_path: str | Path, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime (CPU) session over ``onnx_path`` as ``fn(x) -> first output``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:  # pinned: intra-op threads as asked, no inter-op pool, operators run in order
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def tensorflow_fn(model: Any, nhwc: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """A Keras model as ``fn(x_nchw) -> logits`` (NCHW in, as the engine takes; transposed for Keras)."""
    import tensorflow as tf

    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)

    def run(x: np.ndarray) -> np.ndarray:
        if nhwc and x.ndim == 4 and x.shape[1] in (1, 3):
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        return call(tf.constant(x)).numpy()

    return run


# --- the conditions of a CPU measurement --------------------------------------------------------
def pin_threads(threads: int) -> dict[str, Any]:
    """Pin the CPU baselines' thread pools to ``threads`` and say what was pinned.

    TensorFlow reads ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS`` when it starts, so call
    this before TensorFlow is imported (``onnxruntime_fn(path, threads)`` pins ONNX Runtime; NumPy's
    BLAS keeps the pool it started with)."""
    import sys

    if threads < 1:
        raise UserError(f"threads must be at least 1, not {threads}")
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(threads)
    tf_state = "pinned before TensorFlow started"
    if "tensorflow" in sys.modules:
        try:
            tf = sys.modules["tensorflow"]
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # its runtime is up: the pools cannot change any more
            tf_state = "TensorFlow had already started: its own thread pools"
    return {"threads": threads, "cpus": os.cpu_count(), "tensorflow": tf_state,
            "onnxruntime": f"intra-op {threads}, inter-op 1, sequential (onnxruntime_fn threads=)"}


def machine_load() -> dict[str, Any]:
    """The load average beside the figures: a busy machine makes CPU timings slower and wider."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return {"available": False, "cpus": os.cpu_count()}
    cpus = os.cpu_count() or 1
    return {"available": True, "cpus": cpus, "load_1m": round(one, 2), "load_5m": round(five, 2),
            "load_15m": round(fifteen, 2), "busy": one > 0.5 * cpus}


# --- tables, JSON, plots -------------------------------------------------------------------------
def rows_table(rows: Sequence[Row]) -> str:
    """A plain-text table: model, mode, batch, what, p50/p90/p99 ms, images/s, method."""
    head = f"{'model':<12} {'runs on':<20} {'batch':>5} {'what':<12} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} " \
           f"{'images/s':>10}  method"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.model:<12} {r.mode:<20} {r.batch:>5} {r.what:<12} {r.p50_ms:>9.4f} {r.p90_ms:>9.4f} "
                     f"{r.p99_ms:>9.4f} {r.images_per_s:>10.1f}  {r.method} (n={r.iters})"
                     + (f"  [{r.flags}]" if r.flags else ""))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Where these numbers were measured."""
    gpus = backend.gpus()
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
            "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "gpu": gpus[0].name if gpus else None, "load": machine_load()}


@dataclass
class Report:
    """``trtlab bench``'s result: rows, efficiency, memory, where and how it was measured."""

    engine: str
    mode: str
    why: str
    rows: list[Row]
    efficiency: Efficiency | None
    memory: dict[str, Any]
    env: dict[str, Any] = field(default_factory=environment)
    accuracy: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "mode": self.mode, "why": self.why, "rows": [asdict(r) for r in self.rows],
                "efficiency": self.efficiency.as_dict() if self.efficiency else None, "memory": self.memory,
                "accuracy": self.accuracy, "env": self.env}

    def to_json(self, path: str | Path) -> Path:
        return atomic_write(path, (json.dumps(self.as_dict(), indent=2) + "\n").encode())

    def text(self) -> str:
        lines = []
        if self.mode != "TensorRT":
            lines.append(f"*** {self.mode}: these figures are NOT TensorRT. The engine cannot run here "
                         f"({self.why}); its source ONNX model was evaluated by trtlab.reference. ***")
        lines.append(f"engine: {self.engine}   runs on: {self.mode}   machine: {self.env.get('cpu')} "
                     f"({self.env.get('cpu_cores')} cores), GPU: {self.env.get('gpu') or 'none'}")
        load = self.env.get("load") or {}
        if load.get("available"):
            lines.append(f"load average (1 min) {load['load_1m']} on {load['cpus']} CPUs"
                         + (": a busy machine, CPU figures are slower and wider than on an idle one" if load["busy"]
                            else ""))
        lines.append("")
        lines.append("latency and throughput")
        lines.append(rows_table(self.rows))
        if self.efficiency is not None:
            e = self.efficiency
            v = "n/a" if e.value is None else f"{e.value:.1f}"
            lines += ["", f"efficiency: {v} {e.unit} ({e.source}; {e.images_per_s:.1f} images/s) [{self.mode}]"]
        m = self.memory
        mib = lambda b: "n/a" if b is None else f"{b / 2**20:.2f} MiB"  # noqa: E731
        lines += ["", "memory",
                  f"  engine file        {mib(m.get('engine_file_bytes'))}",
                  f"  weights (ONNX)     {mib(m.get('weights_bytes'))}",
                  f"  activations        {mib(m.get('activation_bytes'))}"
                  + (f"  ({m['activation_why']})" if m.get("activation_why") else "  (device_memory_size_v2)"),
                  f"  process RSS        {mib(m.get('process_rss_bytes'))}"]
        g = m.get("gpu") or {}
        if g.get("available"):
            lines.append(f"  GPU used/total     {mib(g.get('used_bytes'))} / {mib(g.get('total_bytes'))}"
                         f" (this process {mib(g.get('process_bytes'))})")
        else:
            lines.append(f"  GPU memory         n/a ({g.get('why', 'no GPU')})")
        a = self.accuracy
        if a.get("top1") is not None:
            lines += ["", f"accuracy: top-1 {a['top1']:.4f} on {a['n']} MNIST test digits ({a['source']}) "
                          f"[{self.mode}]; agreement with TensorFlow: notebook 06"]
        else:
            lines += ["", f"accuracy: n/a ({a.get('why', 'not measured')})"]
        return "\n".join(lines)


def parse_batches(text: str) -> list[int]:
    """``"1,8,64"`` -> [1, 8, 64]; UserError on anything else."""
    try:
        batches = [int(b) for b in str(text).split(",")]  # "1,,8" is a typo, not two sizes
    except ValueError:
        raise UserError(f"--batch takes comma-separated positive integers like 1,8,64, not {text!r}") from None
    if not batches or any(b < 1 for b in batches):
        raise UserError(f"--batch takes comma-separated positive integers like 1,8,64, not {text!r}")
    return batches


def bench_engine(engine: str | Path, batches: Sequence[int] | None = None, warmup: int = 5, iters: int = 50,
                 efficiency_s: float = 0.5, images: np.ndarray | None = None,
                 max_time_s: float | None = 2.0, accuracy: bool = True) -> Report:
    """Everything ``trtlab bench`` prints, for one engine file.

    ``batches`` None: the batches the engine accepts (its fixed batch, or 1, opt and max of its profile)."""
    with open_runner(engine) as s:
        mb = s.max_batch
        if batches is None:
            batches = s.batches()
        if s.fixed_batch is not None and any(b != s.fixed_batch for b in batches):
            raise UserError(f"the engine's batch is fixed at {mb} (its model has a static batch dimension, so no "
                            f"optimization profile): use --batch {mb}, or rebuild from a model with a dynamic batch")
        too_big = [b for b in batches if mb is not None and b > mb]
        if too_big:
            raise UserError(f"batch {too_big[0]} is above the engine's profile maximum {mb} for input "
                            f"{s.inputs[0].name!r} (allowed 1 to {mb})")
        rows = bench_session(s, batches, warmup, iters, images=images, model=Path(engine).stem,
                             max_time_s=max_time_s)
        b = max(batches)
        x = _images(b, s.inputs[0].shape, s.inputs[0].dtype, pool=images)
        eff = efficiency(lambda: s.submit(x, 0), b, efficiency_s, gpu=s.on_gpu, synchronize=s.synchronize)
        mem = memory_report(s)
        acc = mnist_accuracy(s) if accuracy else {"why": "not asked for"}
        return Report(str(engine), s.label, s.why, rows, eff, mem, accuracy=acc)


def mnist_accuracy(session: Any) -> dict[str, Any]:
    """Top-1 on the MNIST test digits for an engine whose input is (N, 1, 28, 28) float32."""
    spec = session.inputs[0]
    if tuple(spec.shape[1:]) != (1, 28, 28) or spec.dtype != np.float32:
        return {"why": f"input {spec.name!r} is {spec.allowed()}, not an MNIST digit batch (N, 1, 28, 28) float32"}
    mnist = data.load_mnist(prefer="sample")
    logits = session.infer_batches(data.nchw(mnist.x_test))
    return {"top1": top1(logits, mnist.y_test), "n": int(len(mnist.y_test)), "source": mnist.source}


def _series(rows: Sequence[Row], ax: Any) -> tuple[Any, list[tuple[str, list[Row]]]]:
    """An axes (new if None) and the rows grouped per model/mode/what, each sorted by batch."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.model, r.mode, r.what), []).append(r)
    series = [(f"{mode}, {what}" if model in mode else f"{model} — {mode}, {what}",
               sorted(rs, key=lambda r: r.batch)) for (model, mode, what), rs in groups.items()]
    return ax, series


def _finish(ax: Any, ylabel: str, title: str) -> Any:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_latency(rows: Sequence[Row], ax: Any = None, title: str | None = None) -> Any:
    """p50 latency per batch (bars from p50 to p99), one line per model/mode/what."""
    ax, series = _series(rows, ax)
    for label, rs in series:
        p50 = np.array([r.p50_ms for r in rs])
        p99 = np.array([r.p99_ms for r in rs])
        ax.errorbar([r.batch for r in rs], p50, yerr=[np.zeros_like(p50), p99 - p50], marker="o", capsize=3,
                    label=label)
    return _finish(ax, "latency ms (p50, bar to p99)", title or "latency")


def plot_throughput(rows: Sequence[Row], ax: Any = None, title: str | None = None) -> Any:
    """Images per second against batch, one line per model/mode/what."""
    ax, series = _series(rows, ax)
    for label, rs in series:
        ax.plot([r.batch for r in rs], [r.images_per_s for r in rs], marker="o", label=label)
    return _finish(ax, "images / s", title or "throughput")


def plot_histogram(timings: Mapping[str, Timing], ax: Any = None, title: str = "latency distribution") -> Any:
    """Histograms of per-iteration times with p50/p99 marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, t in timings.items():
        ax.hist(t.samples_ms, bins=40, alpha=0.5, label=f"{label} (p50 {t.p50:.3g}, p99 {t.p99:.3g} ms)")
        ax.axvline(t.p50, ls="--", lw=0.8)
    ax.set_xlabel("ms per iteration")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax
