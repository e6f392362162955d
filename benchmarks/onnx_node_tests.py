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

from trtlab import backend, compat, reference


# Where TensorRT's network is not ONNX's operator, the reference follows TensorRT (it evaluates
# the network the parser built) and the ONNX expectation cannot hold. Each entry: why.
EXPLAINED = {
    r"^test_triu": "TensorRT-RTX's parser reads a missing Trilu `upper` attribute as 0 (ONNX's default is 1) and "
                   "builds the lower triangle; written out as upper=1 the same case agrees (tests/test_reference_onnx.py)",
    r"^test_spacetodepth_crd_mode": "the parser ignores SpaceToDepth's new `mode` attribute and builds the DCR permutation",
    r"_batchwise$": "the parser ignores RNN/GRU/LSTM `layout=1` (batch first) and iterates over axis 0",
    r"^test_attention_.*(nonpad|_window)": "the parser drops Attention's nonpad_kv_seqlen input and window attributes: "
                                            "TensorRT's network attends to every key",
    r"^test_quantizelinear(_axis)?$": "TensorRT quantizes to signed INT8 only: the parser turns ONNX's UINT8 output "
                                      "(zero point 128) into INT8, which saturates at 127",
    r"^test_cast(like)?_no_saturate_FLOAT(16)?_to_FLOAT8E4M3FN": "TensorRT's cast has no saturate flag (the parser drops it): "
                                                                 "the reference saturates to ±448 as TensorRT's FP8 quantization does, "
                                                                 "ONNX gives NaN (not checked on an engine: no TensorRT on the lent GPUs)",
    r"^test_castlike_FLOAT(16)?_to_INT4|^test_cast_FLOAT(16)?_to_INT4": "ONNX 1.2x's Cast to INT4 wraps (8 -> -8); the reference rounds and "
                                                                        "saturates as TensorRT's INT4 quantization does (not checked on an engine)",
    r"pool_2d_ceil": "TensorRT's EXPLICIT_ROUND_UP keeps a last window that starts on padding (TensorRT declares 2x2, "
                     "ONNX 1x1): the reference gives the shape TensorRT declares",
    r"^test_bernoulli": "random: the FILL layer draws NumPy's numbers, not ONNX's; shape is checked (TensorRT has no float64: the dtype is TensorRT's)",
}


def explained(name: str) -> str | None:
    import re
    return next((why for pattern, why in EXPLAINED.items() if re.search(pattern, name)), None)


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


def run_case(trt, case, layer_types: list | None = None) -> tuple[str, str]:
    """('ok' | 'explained' | 'mismatch' | 'parser' | 'unsupported' | 'error', detail); the network's
    layer types are appended to ``layer_types``."""
    builder = trt.Builder(backend.logger(trt))
    network = compat.create_network(builder, trt)  # strongly typed on every backend
    parser = trt.OnnxParser(network, backend.logger(trt))
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        ok = parser.parse(case.model.SerializeToString())
    if not ok:
        err = parser.get_error(0)
        return "parser", err.desc().splitlines()[0][:160] if err else "refused"
    if layer_types is not None:
        layer_types.extend(sorted({network.get_layer(i).type.name for i in range(network.num_layers)}))
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", reference.RandomFill)
            got = reference.evaluate(network, feeds)
    except reference.UnsupportedLayer as exc:
        return "unsupported", str(exc).split(" by the CPU reference")[0]
    except Exception as exc:  # noqa: BLE001 - a survey: every failure is a row
        return "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    out_names = [o.name for o in case.model.graph.output]
    reason = explained(case.name)
    for name, want in zip(out_names, outputs):
        if name not in got:
            continue
        g, w = np.asarray(got[name]), np.asarray(want)
        if reason and reason.startswith("random"):
            ok, why = g.shape == w.shape, f"shape {g.shape}"  # (dtype: TensorRT has no float64)
        else:
            ok, why = close(g, w)
        if not ok:
            return ("explained", reason) if reason and not reason.startswith("random") else ("mismatch", f"{name}: {why}")
    return ("explained", reason) if reason and reason.startswith("random") else ("ok", "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only")
    ap.add_argument("--out")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--sample", type=int, help="a seeded random sample of this many cases")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args(argv)
    trt = backend.load()
    start = time.perf_counter()
    table = collections.defaultdict(collections.Counter)
    by_layer = collections.defaultdict(collections.Counter)
    reasons = {}
    found = cases(args.only)
    if args.sample:
        found = sorted(np.random.default_rng(args.seed).choice(len(found), min(args.sample, len(found)), replace=False))
        found = [cases(args.only)[i] for i in found]
    for case in found:
        types: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verdict, detail = run_case(trt, case, types)
        table[op_of(case)][verdict] += 1
        for t in types:
            by_layer[t][verdict] += 1
        if verdict == "explained":
            reasons.setdefault(detail, []).append(case.name)
        if args.v or verdict in ("mismatch", "unsupported", "error"):
            print(f"{verdict:11s} {case.name}: {detail}")
    total = collections.Counter()
    for c in table.values():
        total.update(c)
    parsed = sum(total.values()) - total["parser"]
    summary = (f"{len(found)} ONNX node tests ({backend.name_of(trt)} {trt.__version__}): parsed {parsed}, "
               f"reference agrees on {total['ok']} ({100 * total['ok'] / max(parsed, 1):.1f} % of parsed), "
               f"differs where TensorRT's network differs from ONNX on {total['explained']} (explained below); "
               f"unexplained mismatch {total['mismatch']}, unsupported {total['unsupported']}, error {total['error']}, "
               f"parser refused {total['parser']}; {time.perf_counter() - start:.0f} s")
    print(summary)
    main.last = dict(total=total, by_layer=by_layer, table=table, reasons=reasons)
    if args.out:
        lines = ["# ONNX node tests: TensorRT parser + CPU reference", "",
                 f"Regenerate: `python benchmarks/onnx_node_tests.py --out {args.out}`", "", summary, "",
                 "## By TensorRT layer type (a case counts for every layer type in its network)", "",
                 "| layer type | cases | agree | explained | mismatch | unsupported | error |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for t in sorted(by_layer):
            c = by_layer[t]
            lines.append(f"| {t} | {sum(c.values())} | {c['ok']} | {c['explained']} | {c['mismatch']} | "
                         f"{c['unsupported']} | {c['error']} |")
        lines += ["", "## Explained differences (TensorRT's network is not ONNX's operator)", ""]
        for why, names in reasons.items():
            lines.append(f"- {why}: {', '.join(sorted(names))}")
        lines += ["", "## By ONNX operator", "",
                  "| operator | cases | parsed | agree | explained | mismatch | unsupported | error |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for op in sorted(table):
            c = table[op]
            n = sum(c.values())
            p = n - c["parser"]
            lines.append(f"| {op} | {n} | {p} | {c['ok']} | {c['explained']} | {c['mismatch']} | {c['unsupported']} | {c['error']} |")
        from trtlab.common import atomic_write
        atomic_write(args.out, ("\n".join(lines) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
