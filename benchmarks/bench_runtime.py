"""The TensorRT runner's per-request cost against the same CUDA calls written flat, and lane scaling.

    PYTHONPATH=. python benchmarks/bench_runtime.py [--memory cuda-python|pycuda|both] [--out DIR]

Needs an NVIDIA GPU with CuPy and cuda-python (pycuda optional). The engine is the stand-in of
``trtlab.testing`` (one CuPy kernel per ``execute_async_v3``): no TensorRT runs here and nothing
printed is a TensorRT figure; what is measured is the Python and CUDA overhead around
``execute_async_v3``, which is the runner's own.

1. latency: synchronous batch-1 inference, host array in, host array out, p50/p99 of
   ``perf_counter_ns`` per call, in interleaved rounds (flat, runner, flat, runner, …) so clock
   and load drift hit both alike:
   * ``flat loop`` — pinned buffers allocated once; per call: copy into the pinned input,
     H2D, ``set_tensor_address`` ×2, ``execute_async_v3``, D2H, stream synchronize (the output is
     returned as the pinned view, no copy: the strictest baseline);
   * ``runner.infer`` — ``TensorRTRunner.infer`` (checks, staging, the same calls, a copy out);
   * ``stand-in alone`` — ``execute_async_v3`` + synchronize, nothing else.
2. lanes: N requests with ~0.1 ms of GPU work each (a spinning kernel), submitted and waited in
   order, on one lane and spread over four; also one lane with one request in flight (depth 1).

Results: printed, and written as JSON to ``--out`` (default benchmarks/results/).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from trtlab import runtime
from trtlab.testing import STANDIN_LABEL, FakeEngine

ROUNDS = 30
PER_ROUND = 200


def _pct(samples: list[int]) -> dict[str, float]:
    a = np.asarray(samples, dtype=np.float64) / 1e3  # µs
    return {"p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)),
            "mean_us": float(a.mean()), "n": int(a.size)}


def _flat_loop(memory_kind: str) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[], None], Any]:
    """The same CUDA calls written flat, on the same buffer library as the runner."""
    engine = FakeEngine("cupy")
    ctx = engine.create_execution_context()
    mem = runtime.memory(memory_kind)
    stream = mem.stream()
    h_in, h_out = mem.pinned((1, 4), np.float32), mem.pinned((1, 4), np.float32)
    d_in, d_out = mem.device(16), mem.device(16)
    ctx.set_input_shape("x", (1, 4))
    if memory_kind == "cuda-python":
        from cuda.bindings import runtime as cudart

        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        p_in, p_out = h_in.ctypes.data, h_out.ctypes.data

        def infer(x: np.ndarray) -> np.ndarray:
            np.copyto(h_in, x)
            cudart.cudaMemcpyAsync(d_in, p_in, 16, h2d, stream)
            ctx.set_tensor_address("x", d_in)
            ctx.set_tensor_address("y", d_out)
            ctx.execute_async_v3(stream)
            cudart.cudaMemcpyAsync(p_out, d_out, 16, d2h, stream)
            cudart.cudaStreamSynchronize(stream)
            return h_out
    else:
        import pycuda.driver as cuda

        s = mem._streams[stream]  # type: ignore[attr-defined]

        def infer(x: np.ndarray) -> np.ndarray:
            np.copyto(h_in, x)
            cuda.memcpy_htod_async(d_in, h_in, s)
            ctx.set_tensor_address("x", d_in)
            ctx.set_tensor_address("y", d_out)
            ctx.execute_async_v3(stream)
            cuda.memcpy_dtoh_async(h_out, d_out, s)
            s.synchronize()
            return h_out

    def alone() -> None:
        ctx.execute_async_v3(stream)
        mem.synchronize(stream)

    return infer, alone, mem


def latency(memory_kind: str) -> dict[str, Any]:
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    flat, alone, flat_mem = _flat_loop(memory_kind)
    runner = runtime.TensorRTRunner.from_engine(FakeEngine("cupy"), memory=memory_kind, label=STANDIN_LABEL)
    np.testing.assert_allclose(flat(x), 2 * x + 1)
    np.testing.assert_allclose(runner.infer(x), 2 * x + 1)
    fns = {"flat loop": lambda: flat(x), "runner.infer": lambda: runner.infer(x), "stand-in alone": alone}
    samples: dict[str, list[int]] = {k: [] for k in fns}
    clock = time.perf_counter_ns
    for fn in fns.values():  # warm-up
        for _ in range(500):
            fn()
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            out = samples[name]
            for _ in range(PER_ROUND):
                t0 = clock()
                fn()
                out.append(clock() - t0)
    runner.close()
    flat_mem.close()
    res = {k: _pct(v) for k, v in samples.items()}
    res["ratio_p50"] = res["runner.infer"]["p50_us"] / res["flat loop"]["p50_us"]
    res["ratio_p99"] = res["runner.infer"]["p99_us"] / res["flat loop"]["p99_us"]
    return res


def lanes(memory_kind: str, requests: int = 400, gpu_us: float = 100.0) -> dict[str, Any]:
    """Throughput of ``requests`` submits (each ~gpu_us of GPU work) over 1 and 4 lanes."""
    import cupy as cp

    clock_hz = cp.cuda.Device(0).attributes["ClockRate"] * 1e3  # kHz -> Hz (the boost clock)
    cycles = int(gpu_us * 1e-6 * clock_hz)
    x = np.ones((1, 4), np.float32)
    out: dict[str, Any] = {"requests": requests, "spin_cycles": cycles, "clock_hz": clock_hz}
    for label, contexts, depth, spread in (("1 lane, depth 1", 1, 1, 1), ("1 lane, depth 2", 1, 2, 1),
                                           ("4 lanes, depth 2", 4, 2, 4)):
        r = runtime.TensorRTRunner.from_engine(FakeEngine("cupy", sleep_cycles=cycles), contexts=contexts,
                                               memory=memory_kind, depth=depth, label=STANDIN_LABEL)
        for i in range(contexts):
            for _ in range(20):
                r.infer(x, i)

        def run() -> float:
            t0 = time.perf_counter()
            pend = [r.submit(x, lane=i % spread) for i in range(requests)]
            for p in pend:
                p.wait()
            return time.perf_counter() - t0

        times = sorted(run() for _ in range(7))
        r.close()
        best = times[len(times) // 2]
        out[label] = {"median_s": best, "requests_per_s": requests / best, "us_per_request": best / requests * 1e6}
    # the GPU work alone: one spin kernel's duration by CUDA events
    import cupy as cp  # noqa: F811

    from trtlab.testing import _gpu_kernel

    s = cp.cuda.Stream(non_blocking=True)
    a = cp.ones(4, cp.float32)
    b = cp.empty_like(a)
    e0, e1 = cp.cuda.Event(), cp.cuda.Event()
    for _ in range(5):
        _gpu_kernel(s.ptr, a.data.ptr, b.data.ptr, 4, cycles)
    e0.record(s)
    for _ in range(50):
        _gpu_kernel(s.ptr, a.data.ptr, b.data.ptr, 4, cycles)
    e1.record(s)
    e1.synchronize()
    out["gpu_us_per_request"] = cp.cuda.get_elapsed_time(e0, e1) * 1e3 / 50
    out["speedup_4_lanes"] = out["4 lanes, depth 2"]["requests_per_s"] / out["1 lane, depth 2"]["requests_per_s"]
    out["speedup_depth_2"] = out["1 lane, depth 2"]["requests_per_s"] / out["1 lane, depth 1"]["requests_per_s"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory", default="both", choices=["cuda-python", "pycuda", "both"])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    kinds = ["cuda-python", "pycuda"] if args.memory == "both" else [args.memory]
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(0)
    report: dict[str, Any] = {"gpu": props["name"].decode(), "host": platform.node(), "cpus": os.cpu_count(),
                              "python": platform.python_version(), "engine": STANDIN_LABEL, "memory": {}}
    for kind in kinds:
        try:
            runtime.memory(kind).close()
        except Exception as exc:  # pycuda missing: say so, measure the rest
            report["memory"][kind] = {"ran": False, "why": f"{type(exc).__name__}: {exc}"}
            print(f"[{kind}] not run: {exc}")
            continue
        lat = latency(kind)
        lan = lanes(kind)
        report["memory"][kind] = {"ran": True, "latency": lat, "lanes": lan}
        print(f"[{kind}] synchronous batch-1 inference, {ROUNDS} x {PER_ROUND} calls each, interleaved "
              f"({STANDIN_LABEL}; {report['gpu']})")
        for name in ("flat loop", "runner.infer", "stand-in alone"):
            t = lat[name]
            print(f"  {name:<16} p50 {t['p50_us']:7.1f} µs   p99 {t['p99_us']:7.1f} µs")
        print(f"  runner / flat    p50 {lat['ratio_p50']:.3f}x  p99 {lat['ratio_p99']:.3f}x  (goal <= 1.15x)")
        print(f"[{kind}] {lan['requests']} requests, each {lan['gpu_us_per_request']:.1f} µs of GPU work "
              "(CUDA events)")
        for name in ("1 lane, depth 1", "1 lane, depth 2", "4 lanes, depth 2"):
            t = lan[name]
            print(f"  {name:<17} {t['requests_per_s']:9.0f} requests/s  ({t['us_per_request']:.1f} µs each)")
        print(f"  4 lanes / 1 lane {lan['speedup_4_lanes']:.2f}x (goal >= 3x); depth 2 / depth 1 "
              f"{lan['speedup_depth_2']:.2f}x")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "bench_runtime_" + report["gpu"].replace("NVIDIA ", "").split()[0].lower() + ".json"
    (out / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
