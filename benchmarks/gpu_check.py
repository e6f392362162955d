"""GPU verification of trtlab.runtime's buffers/streams/events and trtlab.bench's timing (issue 5, item 6).

Run on a machine with an NVIDIA GPU, torch, CuPy and cuda-python (no TensorRT needed):

    PYTHONPATH=. python benchmarks/gpu_check.py --out OUT_DIR

No TensorRT engine runs here: TensorRT is not installed on the lent H100/H200 machines and
TensorRT-RTX does not run on Hopper. What is checked is everything around the engine:

* cuda-python buffers: pinned host memory (cudaMallocHost), device memory, H2D/D2H copies
  on a stream, round trip exact; ``cuda_check`` turning an error tuple into an exception.
* ``bench.time_cuda`` (CUDA events through cuda-python) against workloads timed
  independently with ``torch.cuda.Event`` / ``cupy.cuda.Event`` on the same stream: a copy
  of known size, a sleep kernel of known cycles, a matrix product, a CuPy kernel — each must
  agree within 5 %; copy bandwidth and kernel clock are reported next to what they imply.
* ``bench.time_cuda_graph``: the same kernel captured in a CUDA graph and replayed.
* streams: two 20 ms kernels on two streams take ~1x, on one stream ~2x.
* ``runtime.Session`` end to end on a stand-in engine (``fake_trt.FakeEngine``, CuPy kernels
  behind the ``execute_async_v3`` interface): correctness, input validation, several
  execution contexts on several streams overlapping, torch/CuPy zero-copy inputs, and
  ``bench.bench_session``'s rows. Labelled as a stand-in: these are not TensorRT figures.
* NVML power (efficiency) and memory readings.

Writes gpu_check.json and two figures to --out; prints a table last.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from trtlab import bench, runtime  # noqa: E402
from trtlab.runtime import CudaError, CudaPythonMemory, cuda_check  # noqa: E402

TOL = 0.05
RESULTS: dict[str, Any] = {}
TABLE: list[tuple[str, str, str]] = []  # (check, figure, verdict)


def check(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def wrap(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            t0 = time.perf_counter()
            try:
                RESULTS[name] = fn()
            except Exception as exc:  # record and go on: one broken check must not hide the others
                RESULTS[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
                TABLE.append((name, f"ERROR {type(exc).__name__}: {exc}"[:90], "FAIL"))
            RESULTS.setdefault("_seconds", {})[name] = round(time.perf_counter() - t0, 2)
        run.__name__ = name
        return run
    return wrap


def torch_events(fn: Callable[[], Any], stream: Any, warmup: int, iters: int) -> np.ndarray:
    """The independent measurement: torch.cuda.Event pairs on the same stream."""
    import torch

    for _ in range(warmup):
        fn()
    pairs = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(stream)
        fn()
        b.record(stream)
        pairs.append((a, b))
    torch.cuda.synchronize()
    return np.array([a.elapsed_time(b) for a, b in pairs])


def interleaved(fn: Callable[[], Any], stream: Any, ref: Callable[[], np.ndarray], iters: int,
                rounds: int = 3) -> tuple[bench.Timing, np.ndarray]:
    """Warm the GPU to its boost clock (0.3 s of the workload), then alternate rounds of
    time_cuda and the independent measurement, so clock drift hits both alike."""
    ours, theirs = [], []
    for r in range(rounds):
        t = bench.time_cuda(fn, stream, warmup=3, iters=iters, warmup_s=0.3 if r == 0 else 0.0)
        ours.append(t.samples_ms)
        theirs.append(ref())
    return bench.Timing(np.concatenate(ours), t.method, t.warmup), np.concatenate(theirs)


def compare(name: str, ours: bench.Timing, ref_ms: np.ndarray, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    ref = float(np.median(ref_ms))
    rel = abs(ours.p50 - ref) / ref
    ok = rel <= TOL
    out = {"time_cuda_p50_ms": ours.p50, "time_cuda_p99_ms": ours.p99, "reference_p50_ms": ref,
           "reference": "torch.cuda.Event", "relative_difference": rel, "within_5_percent": ok, **(extra or {})}
    fig = f"time_cuda {ours.p50:.4f} ms vs events {ref:.4f} ms ({rel * 100:.2f} %)"
    if extra and "figure" in extra:
        fig += "; " + extra.pop("figure")
        out.pop("figure", None)
    TABLE.append((name, fig, "ok" if ok else "FAIL"))
    return out


@check("environment")
def environment() -> dict[str, Any]:
    import cuda.bindings
    import cupy
    import torch

    from trtlab import backend

    g = backend.gpus()
    props = torch.cuda.get_device_properties(0)
    info = {"python": platform.python_version(), "torch": torch.__version__, "cupy": cupy.__version__,
            "cuda_bindings": getattr(cuda.bindings, "__version__", "?"),
            "gpu": props.name, "cc": f"{props.major}.{props.minor}", "sms": props.multi_processor_count,
            "driver": g[0].driver if g else None, "probe": str(backend.probe())}
    TABLE.append(("environment", f"{props.name} cc {props.major}.{props.minor}, torch {torch.__version__}, "
                  f"cuda-bindings {info['cuda_bindings']}", "ok"))
    return info


@check("cuda_check")
def cuda_check_errors() -> dict[str, Any]:
    from cuda.bindings import runtime as cudart

    try:
        cuda_check(cudart.cudaMalloc(1 << 60), "cudaMalloc(1 EiB)")
        raise AssertionError("cudaMalloc(1 EiB) did not fail")
    except CudaError as exc:
        msg = str(exc)
    cudart.cudaGetLastError()  # clear it (allocation errors are not sticky)
    ok = "cudaErrorMemoryAllocation" in msg
    TABLE.append(("cuda_check", msg[:90], "ok" if ok else "FAIL"))
    return {"message": msg, "ok": ok}


@check("buffers")
def buffers() -> dict[str, Any]:
    from cuda.bindings import runtime as cudart

    n = 16 << 20  # 64 MiB of float32
    with CudaPythonMemory() as mem:
        s = mem.stream()
        h_in, h_out = mem.pinned((n,), np.float32), mem.pinned((n,), np.float32)
        h_in[:] = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
        h_out[:] = np.nan
        d = mem.device(h_in.nbytes)
        mem.htod(d, h_in, s)
        mem.dtoh(h_out, d, s)
        queued_done = mem.query(s)
        mem.synchronize(s)
        exact = bool(np.array_equal(h_in, h_out))
        attrs = cuda_check(cudart.cudaPointerGetAttributes(h_in.ctypes.data), "cudaPointerGetAttributes")
        host_type = str(attrs.type)
        dattrs = cuda_check(cudart.cudaPointerGetAttributes(d), "cudaPointerGetAttributes")
    pinned = "Host" in host_type
    ok = exact and pinned and "Device" in str(dattrs.type)
    TABLE.append(("buffers (cuda-python)", f"64 MiB H2D+D2H round trip exact={exact}; host memory {host_type}; "
                  f"query before sync={queued_done}", "ok" if ok else "FAIL"))
    return {"bytes": n * 4, "exact": exact, "host_pointer_type": host_type, "device_pointer_type": str(dattrs.type),
            "query_before_sync": queued_done, "ok": ok}


@check("copy_h2d")
def copy_h2d() -> dict[str, Any]:
    import torch

    nbytes = 256 << 20
    ts = torch.cuda.Stream()
    with CudaPythonMemory() as mem:
        h = mem.pinned((nbytes // 4,), np.float32)
        h[:] = 1.0
        d = mem.device(nbytes)
        fn = lambda: mem.htod(d, h, ts.cuda_stream)  # noqa: E731
        ours, ref = interleaved(fn, ts, lambda: torch_events(fn, ts, 1, 20), 20)
    gbs = nbytes / (ours.p50 / 1e3) / 1e9
    return compare("copy H2D 256 MiB (pinned)", ours, ref,
                   {"bytes": nbytes, "GB_per_s": gbs, "figure": f"{gbs:.1f} GB/s"})


@check("copy_d2d")
def copy_d2d() -> dict[str, Any]:
    import torch
    from cuda.bindings import runtime as cudart

    nbytes = 1 << 30
    ts = torch.cuda.Stream()
    with CudaPythonMemory() as mem:
        a, b = mem.device(nbytes), mem.device(nbytes)
        kind = cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice
        fn = lambda: cuda_check(cudart.cudaMemcpyAsync(b, a, nbytes, kind, ts.cuda_stream))  # noqa: E731
        ours, ref = interleaved(fn, ts, lambda: torch_events(fn, ts, 1, 20), 20)
    tbs = 2 * nbytes / (ours.p50 / 1e3) / 1e12
    return compare("copy D2D 1 GiB", ours, ref, {"bytes": nbytes, "TB_per_s_read_plus_write": tbs,
                                                 "figure": f"{tbs:.2f} TB/s read+write"})


def _sm_clock_mhz() -> float | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        mhz = pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)
        pynvml.nvmlShutdown()
        return float(mhz)
    except Exception:
        return None


@check("sleep_kernel")
def sleep_kernel() -> dict[str, Any]:
    import torch

    cycles = 2_000_000
    ts = torch.cuda.Stream()
    with torch.cuda.stream(ts):
        fn = lambda: torch.cuda._sleep(cycles)  # noqa: E731
        ours, ref = interleaved(fn, ts, lambda: torch_events(fn, ts, 1, 30), 30)
    mhz = _sm_clock_mhz()
    implied = cycles / (ours.p50 * 1e3)  # cycles per microsecond = MHz
    return compare("torch.cuda._sleep(2e6 cycles)", ours, ref,
                   {"cycles": cycles, "implied_clock_MHz": implied, "nvml_sm_clock_MHz": mhz,
                    "figure": f"implies {implied:.0f} MHz (NVML SM clock {mhz} MHz)"})


@check("matmul")
def matmul() -> dict[str, Any]:
    import torch

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    c = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)
    ts = torch.cuda.Stream()
    ts.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(ts):
        fn = lambda: torch.matmul(a, b, out=c)  # noqa: E731
        ours, ref = interleaved(fn, ts, lambda: torch_events(fn, ts, 1, 20), 20)
    tflops = 2 * n ** 3 / (ours.p50 / 1e3) / 1e12
    return compare("bf16 matmul 8192^3", ours, ref, {"TFLOP_per_s": tflops, "figure": f"{tflops:.0f} TFLOP/s"})


@check("cupy_kernel")
def cupy_kernel() -> dict[str, Any]:
    import cupy as cp

    from trtlab.testing import _sleep

    cycles = 3_000_000
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        fn = lambda: _sleep(cycles)  # noqa: E731
        def cupy_events() -> np.ndarray:
            ref = []
            for _ in range(30):
                a, b = cp.cuda.Event(), cp.cuda.Event()
                a.record(s)
                fn()
                b.record(s)
                ref.append((a, b))
            s.synchronize()
            return np.array([cp.cuda.get_elapsed_time(a, b) for a, b in ref])

        ours, ref_ms = interleaved(fn, s, cupy_events, 30)
    out = compare("CuPy spin kernel (3e6 cycles)", ours, ref_ms, {"cycles": cycles})
    out["reference"] = "cupy.cuda.Event"
    return out


@check("cuda_graph")
def cuda_graph() -> dict[str, Any]:
    import torch

    cycles = 200_000
    ts = torch.cuda.Stream()
    with torch.cuda.stream(ts):
        fn = lambda: [torch.cuda._sleep(cycles // 10) for _ in range(10)]  # noqa: E731  ten small launches
        direct = bench.time_cuda(fn, ts, warmup=5, iters=50, warmup_s=0.3)
        graph = bench.time_cuda_graph(fn, ts, warmup=5, iters=50)
    rel = abs(graph.p50 - direct.p50) / direct.p50
    ok = rel < 0.25 and graph.method.endswith("(CUDA graph)")
    TABLE.append(("CUDA graph (10 launches)", f"direct {direct.p50:.4f} ms, graph replay {graph.p50:.4f} ms "
                  f"({graph.method})", "ok" if ok else "FAIL"))
    return {"direct_p50_ms": direct.p50, "graph_p50_ms": graph.p50, "relative_difference": rel, "ok": ok}


@check("streams_overlap")
def streams_overlap() -> dict[str, Any]:
    import torch

    cycles = 40_000_000  # ~20 ms at ~2 GHz
    s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()

    def one_stream() -> None:
        with torch.cuda.stream(s1):
            torch.cuda._sleep(cycles)
            torch.cuda._sleep(cycles)

    def two_streams() -> None:
        with torch.cuda.stream(s1):
            torch.cuda._sleep(cycles)
        with torch.cuda.stream(s2):
            torch.cuda._sleep(cycles)

    def wall(fn: Callable[[], None]) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) * 1e3

    with torch.cuda.stream(s1):  # the kernel must go on the stream whose events time it
        single = bench.time_cuda(lambda: torch.cuda._sleep(cycles), s1, warmup=1, iters=5, warmup_s=0.3).p50
    one = min(wall(one_stream) for _ in range(5))
    two = min(wall(two_streams) for _ in range(5))
    ok = two / single < 1.2 and one / single > 1.8
    TABLE.append(("two kernels, 1 vs 2 streams", f"one kernel {single:.1f} ms; 1 stream {one:.1f} ms "
                  f"({one / single:.2f}x), 2 streams {two:.1f} ms ({two / single:.2f}x)", "ok" if ok else "FAIL"))
    return {"kernel_ms": single, "one_stream_ms": one, "two_streams_ms": two, "one_x": one / single,
            "two_x": two / single, "ok": ok}


@check("session_fake_engine")
def session_fake_engine() -> dict[str, Any]:
    import cupy as cp
    import torch

    from trtlab.testing import FakeEngine
    from trtlab.common import UserError

    label = "stand-in engine (CuPy), not TensorRT"
    out: dict[str, Any] = {}
    with runtime.Session.from_engine(FakeEngine("cupy"), contexts=2, mode=label) as s:
        ok = True
        for b in (1, 8, 64):
            x = np.random.default_rng(b).standard_normal((b, 4), dtype=np.float32)
            y = s.infer(x, lane=b % 2)
            ok &= bool(np.allclose(y, 2 * x + 1))
        try:
            s.infer(np.zeros((65, 4), np.float32))
            ok = False
        except UserError as exc:
            out["batch_error"] = str(exc)
        import asyncio

        xa = np.full((5, 4), 2.0, np.float32)
        ok &= bool(np.allclose(asyncio.run(s.infer_async(xa, lane=1)), 5.0))
        xt = torch.randn(8, 4, device="cuda")
        yt = s.infer_device(xt)
        torch.cuda.synchronize()
        ok &= bool(torch.allclose(yt, 2 * xt + 1))
        xc = cp.random.standard_normal((8, 4), dtype=cp.float32)
        yc = s.infer_device(xc)
        cp.cuda.get_current_stream().synchronize()
        ok &= bool(cp.allclose(yc, 2 * xc + 1))
        rows = bench.bench_session(s, batches=(1, 8, 64), warmup=5, iters=50, model="stand-in")
        out["rows"] = [vars(r) for r in rows]
        out["memory"] = bench.memory_report()
    out["correct"] = ok
    TABLE.append(("Session on stand-in engine", f"infer/infer_device correct={ok}; "
                  f"rows: {', '.join(f'b{r.batch} {r.what} {r.p50_ms:.3f} ms' for r in rows[:3])}",
                  "ok" if ok else "FAIL"))
    return out


@check("contexts_overlap")
def contexts_overlap() -> dict[str, Any]:
    from trtlab.testing import FakeEngine

    label = "stand-in engine (CuPy), not TensorRT"
    cycles = 10_000_000  # ~5 ms of spinning per request
    with runtime.Session.from_engine(FakeEngine("cupy", sleep_cycles=cycles), contexts=4, mode=label) as s:
        x = np.ones((8, 4), np.float32)
        demo = runtime.overlap_demo(s, x, requests=16)
    ok = demo["speedup"] > 2.5
    TABLE.append(("4 contexts on 4 streams", f"16 requests: 1 lane {demo['one_lane_s'] * 1e3:.1f} ms, 4 lanes "
                  f"{demo['all_lanes_s'] * 1e3:.1f} ms, speedup {demo['speedup']:.2f}x", "ok" if ok else "FAIL"))
    return {**demo, "ok": ok}


@check("efficiency_nvml")
def efficiency_nvml() -> dict[str, Any]:
    import torch

    n = 4096
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    e = bench.efficiency(lambda: torch.matmul(a, a), items=1, seconds=2.0, gpu=True, synchronize=torch.cuda.synchronize)
    ok = e.unit == "images/s per W" and e.watts is not None and 50 < e.watts < 1000
    TABLE.append(("efficiency (NVML power)", f"{e.images_per_s:.0f} matmuls/s at {e.watts} W mean -> "
                  f"{e.value} per W ({e.source})", "ok" if ok else "FAIL"))
    return {**e.as_dict(), "ok": ok}


@check("pycuda")
def pycuda() -> dict[str, Any]:
    try:
        import pycuda.driver  # noqa: F401
    except ImportError as exc:
        TABLE.append(("pycuda buffers", f"not run: pycuda is not installed here ({exc})", "skipped"))
        return {"ran": False, "why": str(exc)}
    n = 1 << 20
    with runtime.PyCudaMemory() as mem:
        s = mem.stream()
        h, o = mem.pinned((n,), np.float32), mem.pinned((n,), np.float32)
        h[:] = np.arange(n, dtype=np.float32)
        d = mem.device(h.nbytes)
        mem.htod(d, h, s)
        mem.dtoh(o, d, s)
        mem.synchronize(s)
        ok = bool(np.array_equal(h, o))
    TABLE.append(("pycuda buffers", f"4 MiB round trip exact={ok}", "ok" if ok else "FAIL"))
    return {"ran": True, "ok": ok}


def figures(out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    names = ["copy_h2d", "copy_d2d", "sleep_kernel", "matmul", "cupy_kernel"]
    have = [n for n in names if isinstance(RESULTS.get(n), dict) and "time_cuda_p50_ms" in RESULTS[n]]
    if have:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        xs = np.arange(len(have))
        ours = [RESULTS[n]["time_cuda_p50_ms"] for n in have]
        ref = [RESULTS[n]["reference_p50_ms"] for n in have]
        ax.bar(xs - 0.2, ours, 0.4, label="trtlab.bench.time_cuda (cuda-python events)")
        ax.bar(xs + 0.2, ref, 0.4, label="torch/CuPy events (independent)")
        for x, n in zip(xs, have):
            ax.text(x, max(RESULTS[n]["time_cuda_p50_ms"], RESULTS[n]["reference_p50_ms"]) * 1.1,
                    f"{RESULTS[n]['relative_difference'] * 100:.2f}%", ha="center", fontsize=7)
        ax.set_xticks(xs, have, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("p50 ms")
        ax.set_title(f"time_cuda vs independent events — {RESULTS.get('environment', {}).get('gpu', 'GPU')}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "gpu_timing.png", dpi=110)
        made.append("gpu_timing.png")
    so, co = RESULTS.get("streams_overlap"), RESULTS.get("contexts_overlap")
    if isinstance(so, dict) and "one_stream_ms" in so:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
        axes[0].bar(["1 kernel", "2 kernels\n1 stream", "2 kernels\n2 streams"],
                    [so["kernel_ms"], so["one_stream_ms"], so["two_streams_ms"]])
        axes[0].set_ylabel("ms")
        axes[0].set_title("streams overlap (torch sleep kernels)", fontsize=9)
        if isinstance(co, dict) and "one_lane_s" in co:
            axes[1].bar(["1 context", f"{co['lanes']} contexts"], [co["one_lane_s"] * 1e3, co["all_lanes_s"] * 1e3])
            axes[1].set_title("Session lanes, 16 requests\n(stand-in engine, not TensorRT)", fontsize=9)
            axes[1].set_ylabel("ms")
        fig.tight_layout()
        fig.savefig(out / "gpu_overlap.png", dpi=110)
        made.append("gpu_overlap.png")
    return made


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for fn in [environment, cuda_check_errors, buffers, copy_h2d, copy_d2d, sleep_kernel, matmul, cupy_kernel,
               cuda_graph, streams_overlap, session_fake_engine, contexts_overlap, efficiency_nvml, pycuda]:
        fn()
    try:
        RESULTS["figures"] = figures(args.out)
    except Exception as exc:
        RESULTS["figures"] = f"failed: {exc}"
    (args.out / "gpu_check.json").write_text(json.dumps(RESULTS, indent=2, default=str))
    print("\n=== gpu_check ===")
    for name, fig, verdict in TABLE:
        print(f"{verdict:>7}  {name:<30} {fig}")
    failed = [n for n, _, v in TABLE if v == "FAIL"]
    print(f"{len(TABLE) - len(failed)} ok/skipped, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
