"""The CPU reference's coverage table: TensorRT layer type -> cases -> agreement, from two
independent sets, written to benchmarks/results/reference_coverage.md.

    python benchmarks/reference_coverage.py [--per-op 20] [--seed 5] [--out benchmarks/results/reference_coverage.md]

1. Randomized single-operator models (tests/reference_cases.py), ``--per-op`` per generator,
   run by ONNX Runtime and onnx.reference (the oracles) and by TensorRT's parser + trtlab.reference.
2. ONNX's own node tests (every one shipped in the onnx package; benchmarks/onnx_node_tests.py).

A case counts for every TensorRT layer type in its parsed network. CI runs a bounded sample
(tests/test_reference_differential.py); this is the full run.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import onnx_node_tests  # noqa: E402
import reference_cases as rc  # noqa: E402
from trtlab import backend  # noqa: E402
from trtlab.common import atomic_write  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-op", type=int, default=20)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reference_coverage.md"))
    args = ap.parse_args(argv)
    trt = backend.load()
    start = time.perf_counter()
    by_layer = collections.defaultdict(collections.Counter)
    by_op = collections.defaultdict(collections.Counter)
    disagreements = collections.defaultdict(list)
    cases = rc.generate(args.seed, args.per_op)
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = rc.compare(trt, case)
        verdict = result["verdict"]
        if verdict == "oracles differ":
            verdict = "agree (oracles differ)" if rc.verdict_ok(case, result) else "mismatch"
            disagreements[case.op].append(result["detail"])
        by_op[case.op][verdict] += 1
        for t in case.layer_types:
            by_layer[t][verdict] += 1
        if verdict in ("mismatch", "error"):
            print(f"{verdict}: {case.op} {case.note}: {result['detail']}")
    random_s = time.perf_counter() - start
    total = collections.Counter()
    for c in by_op.values():
        total.update(c)
    line1 = (f"randomized: {len(cases)} cases ({args.per_op} per generator, seed {args.seed}): "
             + ", ".join(f"{k} {v}" for k, v in sorted(total.items())) + f"; {random_s:.0f} s")
    print(line1)
    onnx_node_tests.main(["--out", str(ROOT / "benchmarks" / "results" / "onnx_node_tests.md")])
    node = onnx_node_tests.main.last
    verdicts = ["agree", "agree (oracles differ)", "mismatch", "parser", "error"]
    lines = ["# CPU reference coverage", "",
             f"Regenerate: `python benchmarks/reference_coverage.py` ({backend.name_of(trt)} {trt.__version__}).", "",
             f"- {line1}.",
             "- ONNX node tests: see [onnx_node_tests.md](onnx_node_tests.md) for the per-operator table and the "
             "explained differences (" + ", ".join(f"{k} {v}" for k, v in sorted(node['total'].items())) + ").", "",
             "Tolerances: integers and booleans exact; float32 |diff| <= 1e-4 |want| + 1e-5 max(1, max|want|), "
             "float16 2e-3 and 2e-3; Q/DQ bit-exact (tests/test_reference_lowp.py). ONNX node tests: "
             "see onnx_node_tests.close.", "",
             "## By TensorRT layer type", "",
             "| layer type | randomized cases | agree | agree (oracles differ) | mismatch | error | "
             "node tests | agree | explained | mismatch | unsupported | error |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in sorted(set(by_layer) | set(node["by_layer"])):
        r, n = by_layer.get(t, collections.Counter()), node["by_layer"].get(t, collections.Counter())
        lines.append(f"| {t} | {sum(r.values())} | {r['agree']} | {r['agree (oracles differ)']} | {r['mismatch']} | "
                     f"{r['error']} | {sum(n.values())} | {n['ok']} | {n['explained']} | {n['mismatch']} | "
                     f"{n['unsupported']} | {n['error']} |")
    lines += ["", "## Randomized cases by ONNX operator", "",
              "| operator | cases | " + " | ".join(verdicts) + " |", "| --- | --- | " + " | ".join("---" for _ in verdicts) + " |"]
    for op in sorted(by_op):
        c = by_op[op]
        lines.append(f"| {op} | {sum(c.values())} | " + " | ".join(str(c[v]) for v in verdicts) + " |")
    lines += ["", "## Where the two oracles disagree, and who is right", ""]
    for op in sorted(disagreements):
        right, why = rc.RESOLVED.get(op, ("?", "not resolved"))
        lines.append(f"- **{op}** ({len(disagreements[op])} cases): {right} is right: {why}.")
    lines += ["", "Parser refusals (TensorRT's, not the reference's): softmax/argmax of rank-1 tensors "
              "(\"at least 2 dimensions are required\")."]
    atomic_write(args.out, ("\n".join(lines) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
