"""trtlab.engine_tools on a GPU, against the stand-in engine (trtlab.testing.FakeEngine, CuPy kernels
behind the TensorRT interface): execute_v2 beside execute_async_v3, IProfiler rows, IEngineInspector rows.

    PYTHONPATH=. python benchmarks/gpu_engine_tools.py --out OUT_DIR

What is timed are the stand-in's CuPy kernels and trtlab's calls around them, not TensorRT layers.
Writes engine_tools_gpu.json; prints a table.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from trtlab import backend, engine_tools
from trtlab.common import safe_write
from trtlab.testing import FakeEngine as StandInEngine


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import cupy

    gpu = backend.gpus()[0] if backend.gpus() else None
    result = {"gpu": None if gpu is None else {"name": gpu.name, "cc": gpu.cc, "driver": gpu.driver},
              "python": platform.python_version(), "cupy": cupy.__version__,
              "why_not_here": engine_tools.why_not_here(), "label": "stand-in engine (CuPy), not TensorRT",
              "batches": {}}
    ok = True
    for batch in (1, 8, 64):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        got = engine_tools.sync_vs_async(StandInEngine("cupy"), {"x": x}, iters=200, warmup=20)
        correct = bool(np.array_equal(got["outputs"]["y"], 2 * x + 1))
        rows = engine_tools.per_layer_times(StandInEngine("cupy"), {"x": x}, runs=50)
        ok &= correct and got["outputs_equal"]
        got.pop("outputs")
        result["batches"][batch] = {**got, "correct": correct, "layers": rows}
    result["inspector"] = engine_tools.layer_information(StandInEngine("cupy"), fmt="JSON")
    result["ok"] = bool(ok)
    safe_write(args.out / "engine_tools_gpu.json", (json.dumps(result, indent=2) + "\n").encode())
    print(f"GPU: {result['gpu']}; why an engine cannot run here: {result['why_not_here'] or '(it can)'}")
    print(f"{'batch':>5} {'execute_v2 ms':>14} {'v3 returns ms':>14} {'v3 done ms':>11}  per-layer mean ms (IProfiler)")
    for b, r in result["batches"].items():
        layers = ", ".join(f"{row['layer']} {row['mean_ms']:.4f}" for row in r["layers"])
        print(f"{b:>5} {r['execute_v2_ms']:>14} {r['execute_async_v3_return_ms']:>14} {r['execute_async_v3_done_ms']:>11}  "
              f"{layers}  {'ok' if r['correct'] and r['outputs_equal'] else 'WRONG'}")
    print("inspector:", [(r["name"], r["type"]) for r in result["inspector"]])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
