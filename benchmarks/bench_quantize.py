"""Issue 12's budgets for `trtlab quantize`, measured and printed (it asserts nothing).

    python benchmarks/bench_quantize.py [--repeat 3] [--digits 2000]
    python benchmarks/bench_quantize.py --modelopt /path/to/venv-with-modelopt/bin/python

Budgets: `trtlab quantize` on LeNet, INT8 from 512 training digits, <= 5 s on a 2-core machine
(the whole command, process start included); the default install grows <= 50 MB for
quantization; INT8 and FP8 top-1 within 1 point of FP32 on the test digits.

Top-1 comes from ONNX Runtime's CPU execution of each model with *basic* graph optimizations
(its extended ones mis-execute FP8 Q/DQ on the CPU; chapter 9 shows it). ``artifacts/lenet.onnx``
is made first if missing (that trains LeNet once).

``--modelopt PYTHON``: the same three precisions through NVIDIA ModelOpt (``--tool modelopt``),
run by PYTHON — a separate environment with ``trtlab[modelopt]``, never the main one — and
compared with the default side by side (time, Q/DQ placement, top-1, whether TensorRT-RTX
parses and builds it for 8.9). The table is written to benchmarks/results/quantize_modelopt.md,
which chapter 9 shows where ModelOpt is not installed.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata as md
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "quantize_modelopt.md"
MODELOPT: dict = {}


def top1(path: Path, images: np.ndarray, labels: np.ndarray, reference: np.ndarray | None = None) -> tuple[float, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: images})[0]
    agree = float((logits.argmax(1) == reference.argmax(1)).mean()) if reference is not None else 1.0
    return float((logits.argmax(1) == labels).mean()), agree


def package_mb(dist: str) -> float:
    """Installed size of one distribution, from its RECORD."""
    files = md.distribution(dist).files or []
    total = 0
    for f in files:
        p = Path(f.locate())
        if p.is_file():
            total += p.stat().st_size
    return total / 2**20


def builds(path: Path, cc: str) -> str:
    from trtlab import build
    from trtlab.common import UserError

    try:
        return f"{build.build_onnx(path, build.BuildOptions(max_batch=64, compute_capabilities=(cc,))).size:,} B"
    except UserError as exc:
        issues = getattr(exc, "issues", None)
        text = issues[0].description if issues else str(exc)
        return "refused: " + " ".join(text.split())[:260]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--digits", type=int, default=2000)
    ap.add_argument("--modelopt", metavar="PYTHON", help="a Python with trtlab[modelopt]: compare ModelOpt too")
    args = ap.parse_args()
    os.environ.setdefault("TRTLAB_OFFLINE", "1")
    from trtlab import data, models, quantize

    src = models.lenet_onnx()
    mnist = data.load_mnist()
    images, labels = data.nchw(mnist.x_test[:args.digits]), mnist.y_test[:args.digits]
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"onnxruntime {md.version('onnxruntime')}; {mnist.source} MNIST, {len(labels)} test digits")

    # 1. the command, process start included
    trtlab_cmd = shutil.which("trtlab") or f"{sys.executable} -m trtlab.cli"
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as tmp:
        out = Path(tmp) / "int8.onnx"
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([*trtlab_cmd.split(), "quantize", str(src), "--precision", "int8", "--samples", "512",
                            "-o", str(out)], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    print(f"`trtlab quantize lenet.onnx --precision int8 --samples 512`: best {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s of {args.repeat} (budget 5 s)")

    # 2. install growth: what quantization added to the default install
    added = {"onnxconverter-common": package_mb("onnxconverter-common")}
    print("default install, added for chapter 9: " + ", ".join(f"{k} {v:.1f} MB" for k, v in added.items())
          + " (ONNX Runtime's quantizer was already a dependency; budget 50 MB)")

    # 3. accuracy of each precision, default tool
    fp32, _ = top1(src, images, labels)
    import onnxruntime as ort

    session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    reference = session.run(None, {session.get_inputs()[0].name: images})[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as tmp:
        print(f"\n{'precision':<10} {'tool':<9} {'seconds':>8} {'Q/DQ (act, weight DQ)':>22} {'top-1':>7} {'vs FP32':>8} {'same as FP32':>13}")
        print(f"{'FP32':<10} {'-':<9} {'':>8} {'':>22} {fp32:>7.4f}")
        for precision in quantize.PRECISIONS:
            out = Path(tmp) / f"{precision}.onnx"
            r = quantize.quantize(src, out, precision, samples=512)
            acc, agree = top1(out, images, labels, reference)
            rows.append(("ort", precision, r, acc, agree, builds(out, "8.9")))
            print(f"{precision.upper():<10} {'ort':<9} {r.seconds:>8.2f} {f'{r.q_nodes}, {r.dq_nodes - r.q_nodes}':>22} "
                  f"{acc:>7.4f} {100 * (acc - fp32):>+7.2f}p {agree:>12.1%}")
        if args.modelopt:
            rows += modelopt_rows(args.modelopt, src, Path(tmp), images, labels, reference, fp32)
    if args.modelopt:
        write_table(rows, fp32, len(labels))
    return 0


def modelopt_rows(python: str, src: Path, tmp: Path, images, labels, reference, fp32: float) -> list:
    from trtlab import quantize

    probe = subprocess.run([python, "-c", "import importlib.metadata as m, sys; print(m.version('nvidia-modelopt'), "
                            "sys.prefix)"], capture_output=True, text=True)
    if probe.returncode:
        print(f"\n{python}: no ModelOpt there ({probe.stderr.strip().splitlines()[-1:]}); skipped")
        return []
    version, prefix = probe.stdout.split()
    size = sum(p.stat().st_size for p in Path(prefix).rglob("*") if p.is_file() and not p.is_symlink())
    MODELOPT.update(version=version, gb=size / 2**30)
    print(f"\nModelOpt {version}: its environment {prefix} holds {size / 2**30:.1f} GB")
    rows = []
    for precision in quantize.PRECISIONS:
        out = tmp / f"{precision}_modelopt.onnx"
        code = ("import sys, time; from trtlab import quantize as q; t = time.perf_counter(); "
                f"q.quantize({str(src)!r}, {str(out)!r}, {precision!r}, samples=512, tool='modelopt'); "
                "print(time.perf_counter() - t)")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        run = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
        if run.returncode:
            print(f"{precision.upper():<10} modelopt  failed: {(run.stderr.strip().splitlines() or ['?'])[-1][:200]}")
            continue
        import onnx

        info = quantize.describe(onnx.load(out))
        r = quantize.Report(src, out, precision, "modelopt", None, 512, float(run.stdout.split()[-1]),
                            info["q"], info["dq"], info["q_weights"], info["quantized"], info["kept"])
        acc, agree = top1(out, images, labels, reference)
        rows.append(("modelopt", precision, r, acc, agree, builds(out, "8.9")))
        print(f"{precision.upper():<10} {'modelopt':<9} {r.seconds:>8.2f} "
              f"{f'{r.q_nodes}, {r.dq_nodes - r.q_nodes - r.q_weight_nodes} (+{r.q_weight_nodes} Q/DQ on weights)':>22} "
              f"{acc:>7.4f} {100 * (acc - fp32):>+7.2f}p {agree:>12.1%}")
    return rows


def write_table(rows: list, fp32: float, digits: int) -> None:
    from trtlab.common import atomic_write

    lines = [f"Measured by benchmarks/bench_quantize.py --modelopt on {datetime.date.today()} "
             f"({platform.node()}, {os.cpu_count()} CPUs, no GPU, load average {os.getloadavg()[0]:.1f}; "
             f"nvidia-modelopt {MODELOPT['version']} in its own environment of {MODELOPT['gb']:.1f} GB). "
             "ModelOpt keeps the layers it does not quantize in FP16 (its default high_precision_dtype). "
             f"Top-1 on {digits} test digits from ONNX Runtime (CPU, basic optimizations); FP32: {fp32:.4f}.",
             "",
             "| precision | tool | seconds | quantized layers | Q/DQ pairs (activations) | top-1 | same digit as FP32 | TensorRT-RTX build for 8.9 |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for tool, precision, r, acc, agree, built in rows:
        layers = ", ".join(f"{op} {name.split('/')[-2] if '/' in name else name}" for name, op in r.quantized
                           if op in ("Conv", "MatMul", "Gemm"))
        lines.append(f"| {precision.upper()} | {tool} | {r.seconds:.2f} | {layers or '-'} | {r.q_nodes} | "
                     f"{acc:.4f} | {agree:.1%} | {built} |")
    atomic_write(RESULTS, ("\n".join(lines) + "\n").encode())
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
