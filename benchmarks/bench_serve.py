"""LeNet on a real Triton server (trtlab.serve), measured with perf_analyzer: the budgets of issue 13.

    python benchmarks/bench_serve.py [--window-requests 500] [--instances 1] [--queue-delay-us 200]
                                     [--threads N] [--starts 3] [--json OUT.json]

Budgets (on a 2-core machine, the CPU path — ONNX Runtime on the source model):
  server ready <= 5 s;  throughput at concurrency 8 with dynamic batching >= 3x concurrency 1;
  at concurrency 1, p99 <= 3x p50.
Prints every figure with the machine's load average beside it (a shared machine's neighbours
move latency percentiles far more than throughput), and which runner served: TensorRT where
this machine can run the engine, else ONNX Runtime on the engine's source model.
Requests go to 127.0.0.1 only; each point is 3 windows of --window-requests requests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

from trtlab import build, engine_file, models, serve
from trtlab.common import atomic_write


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-requests", type=int, default=500)
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--queue-delay-us", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="ONNX Runtime threads per instance")
    ap.add_argument("--starts", type=int, default=3, help="server starts timed for 'ready'")
    ap.add_argument("--concurrency", default="1,2,4,8,16")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    onnx_path = models.lenet_onnx()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        built = build.build_onnx(onnx_path, build.BuildOptions(max_batch=64))
        engine = engine_file.save(Path(tmp) / "lenet.engine", built, source_model=onnx_path)
        repo = Path(tmp) / "repository"
        _, runner = serve.python_repository(engine, repo, name="lenet", instances=args.instances,
                                            queue_delay_us=args.queue_delay_us, threads=args.threads)
        serve.python_repository(engine, repo, name="lenet_nobatch", instances=args.instances,
                                queue_delay_us=None, threads=args.threads)
        ready = []
        for _ in range(args.starts):
            s = serve.Server(repo, port=0).start()
            ready.append(s.ready_seconds)
            s.stop()
        load = [os.getloadavg()[0]]
        with serve.Server(repo, port=0) as server:
            sweeps = {m: serve.sweep(server, m, concurrencies, requests=args.window_requests)
                      for m in ("lenet", "lenet_nobatch")}
        load.append(os.getloadavg()[0])

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, 1-min load {load[0]:.2f} before / {load[1]:.2f} after")
    print(f"runner: {runner.label}; {args.instances} instance(s) x {args.threads} thread(s), "
          f"queue delay {args.queue_delay_us} us")
    print(f"ready: {', '.join(f'{r:.2f}' for r in ready)} s (median {statistics.median(ready):.2f})")
    print(f"{'model':14s} {'conc':>4s} {'infer/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'p99/p50':>7s} {'batch':>6s}")
    for model, rows in sweeps.items():
        for r in rows:
            print(f"{model:14s} {r['concurrency']:4d} {r['throughput']:8.0f} {r['p50_us'] / 1e3:7.2f} "
                  f"{r['p99_us'] / 1e3:7.2f} {r['p99_us'] / r['p50_us']:7.1f} {r['avg_batch']:6.2f}")
    by_c = {r["concurrency"]: r for r in sweeps["lenet"]}
    verdicts = {"ready <= 5 s": statistics.median(ready) <= 5}
    if 1 in by_c and 8 in by_c:
        ratio = by_c[8]["throughput"] / by_c[1]["throughput"]
        verdicts[f"c8/c1 throughput {ratio:.2f} >= 3"] = ratio >= 3
    if 1 in by_c:
        tail = by_c[1]["p99_us"] / by_c[1]["p50_us"]
        verdicts[f"c1 p99/p50 {tail:.2f} <= 3"] = tail <= 3
    for what, ok in verdicts.items():
        print(f"{'PASS' if ok else 'MISS'}  {what}")
    if args.json:
        atomic_write(args.json, (json.dumps({"runner": runner.label, "ready_s": ready, "load": load,
                                             "sweeps": sweeps, "verdicts": verdicts, "args": vars(args) | {"json": str(args.json)}},
                                            indent=2) + "\n").encode())
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
