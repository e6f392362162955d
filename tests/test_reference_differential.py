"""The CPU reference against independent oracles, on randomized models (a bounded, seeded sample).

Two sets, neither written for trtlab: randomized single-operator ONNX models (tests/reference_cases.py:
shapes, attributes and dtypes drawn per operator) run by ONNX Runtime and by onnx.reference, and
ONNX's own node tests (the generators shipped in the onnx package, with their expected outputs).
Each goes through TensorRT(-RTX)'s OnnxParser and trtlab.reference. The full runs, and the
coverage table they make, are benchmarks/reference_coverage.py (results in benchmarks/results/).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from trtlab import backend, reference

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]
import onnx_node_tests  # noqa: E402
import reference_cases as rc  # noqa: E402

trt = backend.load()
pytest.importorskip("onnxruntime")
CASES = rc.generate(seed=17, per_op=6)
# TensorRT refuses these: softmax and argmax need rank >= 2 ("at least 2 dimensions are required")
REFUSED = {"Softmax", "LogSoftmax", "ArgMax", "ArgMin"}


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c.op}" for i, c in enumerate(CASES)])
def test_reference_agrees_with_the_oracles(case):
    result = rc.compare(trt, case)
    if result["verdict"] == "parser":
        assert case.op in REFUSED and case.feeds["x"].ndim < 2, result["detail"]
        return
    assert rc.verdict_ok(case, result), f"{case.op} {case.note}: {result['verdict']}: {result['detail']}"


def test_the_sample_covers_the_operators_and_mostly_agrees_outright():
    ops = {c.op.split(" ")[0] for c in CASES}
    assert len(ops) >= 40
    results = [rc.compare(trt, c) for c in CASES[::4]]
    assert sum(r["verdict"] == "agree" for r in results) >= 0.85 * len(results)


def test_onnx_node_tests_sample_has_no_unexplained_difference():
    cases = onnx_node_tests.cases(None)
    picked = [cases[i] for i in sorted(np.random.default_rng(17).choice(len(cases), 400, replace=False))]
    verdicts = {}
    for case in picked:
        verdicts[case.name] = onnx_node_tests.run_case(trt, case)
    bad = {n: v for n, v in verdicts.items() if v[0] in ("mismatch", "error", "unsupported")}
    assert not bad, bad
    ran = [v for v in verdicts.values() if v[0] != "parser"]
    assert len(ran) >= 150 and sum(v[0] == "ok" for v in ran) >= 0.9 * len(ran)


def test_lrn_oracle_disagreement_resolved_by_hand():
    """ONNX LRN: y = x / (bias + alpha / size * sum of x² over the size channels around c) ** beta."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 2, 2)).astype(np.float32)
    size, alpha, beta, bias = 3, 0.05, 0.75, 1.0
    sq = np.pad(x.astype(np.float64) ** 2, [(0, 0), (1, 1), (0, 0), (0, 0)])
    want = x / (bias + alpha / size * (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:])) ** beta
    model = rc._model("LRN", [("x", TensorProto.FLOAT, x.shape)], [("y", TensorProto.FLOAT)],
                      dict(size=size, alpha=alpha, beta=beta, bias=bias))
    case = rc.Case("LRN", model, {"x": x})
    got = rc.run_trt(trt, case)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    result = rc.compare(trt, case)
    assert result["verdict"] == "oracles differ" and "onnxruntime:" not in result["detail"]


def test_trilu_written_out_agrees_the_parser_default_does_not():
    """The explained Trilu difference: TensorRT-RTX's parser reads a missing `upper` as 0."""
    x = np.arange(20, dtype=np.int64).reshape(4, 5)
    got = {}
    for attrs in ({}, {"upper": 1}):
        model = rc._model("Trilu", [("x", TensorProto.INT64, x.shape)], [("y", TensorProto.INT64)], attrs, opset=14)
        got[bool(attrs)] = rc.run_trt(trt, rc.Case("Trilu", model, {"x": x}))["y"]
    np.testing.assert_array_equal(got[True], np.triu(x))
    np.testing.assert_array_equal(got[False], np.tril(x))  # what the parser builds without the attribute


def test_random_fill_has_exact_shape_dtype_and_moments_and_says_so():
    builder = trt.Builder(backend.logger(trt))
    net = builder.create_network(0)
    uniform = net.add_fill((20000,), trt.FillOperation.RANDOM_UNIFORM, trt.float32)
    uniform.alpha, uniform.beta = -1.0, 3.0
    normal = net.add_fill((4, 5000), trt.FillOperation.RANDOM_NORMAL, trt.float32)
    normal.alpha, normal.beta = 2.0, 0.5
    for layer in (uniform, normal):
        net.mark_output(layer.get_output(0))
    with pytest.warns(reference.RandomFill, match="not TensorRT's"):
        out = reference.evaluate(net, {})
    u, n = out[uniform.get_output(0).name], out[normal.get_output(0).name]
    assert u.shape == (20000,) and u.dtype == np.float32 and n.shape == (4, 5000)
    assert -1 <= u.min() and u.max() < 3
    assert abs(u.mean() - 1) < 0.05 and abs(u.var() - 16 / 12) < 0.05  # uniform(a, b): (a+b)/2, (b-a)²/12
    assert abs(n.mean() - 2) < 0.02 and abs(n.std() - 0.5) < 0.02
    with pytest.warns(reference.RandomFill):
        again = reference.evaluate(net, {})
    np.testing.assert_array_equal(again[uniform.get_output(0).name], u)  # same seed, same numbers


# Operators whose TensorRT layers (loops, conditionals, attention, sampling, sequences, Q/DQ,
# casts to narrow types) came in with issue 17: every one of ONNX's node tests for them, in CI.
NEW_OPS = {"Loop", "Scan", "If", "RNN", "GRU", "LSTM", "Attention", "GridSample", "NonMaxSuppression",
           "RotaryEmbedding", "ReverseSequence", "TensorScatter", "Trilu", "HannWindow", "HammingWindow",
           "BlackmanWindow", "QuantizeLinear", "DequantizeLinear", "Cast", "CastLike", "Range", "AffineGrid",
           "SpaceToDepth", "MaxPool", "AveragePool", "LpNormalization", "Einsum", "ConvTranspose", "Bernoulli"}


def test_every_node_test_of_the_new_layer_types_agrees_or_is_explained():
    cases = [c for c in onnx_node_tests.cases(None) if onnx_node_tests.op_of(c) in NEW_OPS]
    verdicts = {c.name: onnx_node_tests.run_case(trt, c) for c in cases}
    bad = {n: v for n, v in verdicts.items() if v[0] not in ("ok", "explained", "parser")}
    assert not bad, bad
    ran = {n: v for n, v in verdicts.items() if v[0] != "parser"}
    assert len(ran) >= 100, len(ran)  # (257 with onnx 1.23; older onnx ships fewer tests)
    explained = {n for n, v in ran.items() if v[0] == "explained"}
    assert len(explained) <= 40, sorted(explained)  # the list in onnx_node_tests.EXPLAINED, not a catch-all
