"""ONNX's own single-operator backend tests through TensorRT's ONNX parser and the CPU reference.

    python benchmarks/onnx_node_tests.py [--only SUBSTRING] [--out benchmarks/results/onnx_node_tests.md] [-v]

The onnx package ships the generators of its node tests (``onnx.backend.test.case.node``):
each is one operator, its inputs and the outputs ONNX's NumPy implementation gives. They were
written by the ONNX project, not here, so they are an independent check of ``trtlab.reference``.
Each model goes through TensorRT(-RTX)'s ``OnnxParser``; when TensorRT accepts it, the network
is evaluated by the reference on the test's inputs and compared with the expected outputs
(tolerances: see ``close``). Prints one line per failing case (``-v``: every case) and a table
per operator; ``--out`` writes the table as Markdown.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import sys
import time
import warnings

import numpy as np

from trtlab import backend, reference


def cases(only: str | None):
    from onnx.backend.test.case import node
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        found = node.collect_testcases(None) if "op_type" in node.collect_testcases.__code__.co_varnames \
            else node.collect_testcases()
    return [c for c in found if c.kind == "node" and (not only or only in c.name)]


def op_of(case) -> str:
    return case.model.graph.node[0].op_type if case.model.graph.node else "?"


def close(got: np.ndarray, want: np.ndarray) -> tuple[bool, str]:
    """Equal for integers and booleans; for floats, ``|got - want| <= atol + rtol |want|``
    with (rtol, atol) = (1e-3, 1e-4) for float32/64, (1e-2, 1e-3) for float16 and bfloat16,
    and exact equality for 8-bit and 4-bit floats (they are rounded, so either bit-exact or wrong).
    NaN must match NaN."""
    if got.shape != want.shape:
        return False, f"shape {got.shape} != {want.shape}"
    if want.dtype.kind in "iub" or want.dtype.itemsize <= 1 or "float4" in str(want.dtype):
        g, w = got.astype(np.float64) if got.dtype.kind not in "iub" else got, \
            want.astype(np.float64) if want.dtype.kind not in "iub" else want
        ok = np.array_equal(g, w, equal_nan=g.dtype.kind == "f")
        bad = int(np.sum(~((g == w) | (np.isnan(g) & np.isnan(w)) if g.dtype.kind == "f" else g == w)))
        return ok, "" if ok else f"{bad} of {want.size} values differ"
    rtol, atol = (1e-3, 1e-4) if want.dtype.itemsize >= 4 else (1e-2, 1e-3)
    g, w = got.astype(np.float64), want.astype(np.float64)
    ok = np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if ok:
        return True, ""
    with np.errstate(invalid="ignore"):
        err = np.nanmax(np.abs(g - w)) if g.size else 0
    return False, f"max |diff| {err:.3g}"


def as_arrays(values) -> list:
    """Test data as arrays: types NumPy lacks (FP8, INT4, FP4...) come as TensorProtos."""
    from onnx import TensorProto, numpy_helper
    return [numpy_helper.to_array(v) if isinstance(v, TensorProto) else v for v in values]


def run_case(trt, case) -> tuple[str, str]:
    """('ok' | 'mismatch' | 'parser' | 'unsupported' | 'error', detail)."""
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, backend.logger(trt))
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        ok = parser.parse(case.model.SerializeToString())
    if not ok:
        err = parser.get_error(0)
        return "parser", err.desc().splitlines()[0][:160] if err else "refused"
    inputs, outputs = (as_arrays(v) for v in case.data_sets[0])
    feeds = {}
    graph_inputs = [i.name for i in case.model.graph.input
                    if i.name not in {t.name for t in case.model.graph.initializer}]
    names = [network.get_input(i).name for i in range(network.num_inputs)]
    for k, (name, value) in enumerate(zip(graph_inputs, inputs)):
        if name in names:
            feeds[name] = value
        elif len(names) == len(graph_inputs):  # the parser renamed it (a loop's condition): same place
            feeds[names[k]] = value
    try:
        got = reference.evaluate(network, feeds)
    except reference.UnsupportedLayer as exc:
        return "unsupported", str(exc).split(" by the CPU reference")[0]
    except Exception as exc:  # noqa: BLE001 - a survey: every failure is a row
        return "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    out_names = [o.name for o in case.model.graph.output]
    for name, want in zip(out_names, outputs):
        if name not in got:
            continue
        ok, why = close(np.asarray(got[name]), np.asarray(want))
        if not ok:
            return "mismatch", f"{name}: {why}"
    return "ok", ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only")
    ap.add_argument("--out")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args(argv)
    trt = backend.load()
    start = time.perf_counter()
    table = collections.defaultdict(collections.Counter)
    found = cases(args.only)
    for case in found:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verdict, detail = run_case(trt, case)
        table[op_of(case)][verdict] += 1
        if args.v or verdict in ("mismatch", "unsupported", "error"):
            print(f"{verdict:11s} {case.name}: {detail}")
    total = collections.Counter()
    for c in table.values():
        total.update(c)
    parsed = total["ok"] + total["mismatch"] + total["unsupported"] + total["error"]
    summary = (f"{len(found)} ONNX node tests ({backend.name_of(trt)} {trt.__version__}): parsed {parsed}, "
               f"reference agrees on {total['ok']} ({100 * total['ok'] / max(parsed, 1):.1f} % of parsed); "
               f"mismatch {total['mismatch']}, unsupported {total['unsupported']}, error {total['error']}, "
               f"parser refused {total['parser']}; {time.perf_counter() - start:.0f} s")
    print(summary)
    if args.out:
        lines = ["# ONNX node tests: TensorRT parser + CPU reference", "",
                 f"Regenerate: `python benchmarks/onnx_node_tests.py --out {args.out}`", "", summary, "",
                 "| operator | cases | parsed | agree | mismatch | unsupported | error |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for op in sorted(table):
            c = table[op]
            n = sum(c.values())
            p = n - c["parser"]
            lines.append(f"| {op} | {n} | {p} | {c['ok']} | {c['mismatch']} | {c['unsupported']} | {c['error']} |")
        from trtlab.common import atomic_write
        atomic_write(args.out, ("\n".join(lines) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
