"""Randomized single-operator ONNX models for the CPU reference's differential tests.

    for case in generate(seed=17, per_op=3): case.op, case.model, case.feeds

Each generator draws shapes, attributes and (where TensorRT takes them) dtypes from a seeded
NumPy generator and returns an ONNX model of one operator: inputs are graph inputs, weights
and shape-like operands are initializers (as exporters write them). ``compare`` runs a case
through ONNX Runtime, ``onnx.reference.ReferenceEvaluator`` and — parsed by TensorRT(-RTX)'s
OnnxParser — ``trtlab.reference``, and says whether they agree within the stated tolerances.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 21
F32, F16, I64 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64
NP = {F32: np.float32, F16: np.float16, I64: np.int64, TensorProto.INT32: np.int32, TensorProto.BOOL: np.bool_}


@dataclass
class Case:
    op: str
    model: object
    feeds: dict
    note: str = ""
    layer_types: list = field(default_factory=list)


def _model(op, inputs, outputs, attrs=None, inits=(), nodes=None, opset=OPSET):
    """inputs: [(name, elem_type, shape)] graph inputs; outputs: [(name, elem_type)]; inits: arrays."""
    node = helper.make_node(op, [n for n, *_ in inputs] + [i.name for i in inits], [n for n, _ in outputs],
                            **(attrs or {}))
    graph = helper.make_graph(
        nodes or [node], op,
        [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _x(rng, shape, dtype=np.float32, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _ftype(rng):
    return F16 if rng.random() < 0.25 else F32


# ---------------------------------------------------------------- generators (rng -> Case)


def conv(rng):
    n, g = int(rng.integers(1, 3)), int(rng.choice([1, 1, 2]))
    c, k = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 4))
    ksz = [int(rng.integers(1, 4)) for _ in range(2)]
    dil = [int(rng.integers(1, 3)) for _ in range(2)]
    hw = [int(rng.integers(e * d, e * d + 8)) for e, d in zip(ksz, dil)]
    attrs = dict(kernel_shape=ksz, strides=[int(rng.integers(1, 3)) for _ in range(2)], dilations=dil, group=g)
    pad = rng.choice(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
    if pad == "NOTSET":
        attrs["pads"] = [int(rng.integers(0, e)) for e in ksz * 2]
    else:
        attrs["auto_pad"] = str(pad)
    inits = [_init("W", _x(rng, (k, c // g, *ksz)))]
    if rng.random() < 0.6:
        inits.append(_init("B", _x(rng, (k,))))
    x = _x(rng, (n, c, *hw))
    return Case("Conv", _model("Conv", [("x", F32, x.shape)], [("y", F32)], attrs, inits), {"x": x}, str(attrs))


def conv_transpose(rng):
    c, k = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    ksz = [int(rng.integers(1, 4)) for _ in range(2)]
    stride = [int(rng.integers(1, 3)) for _ in range(2)]
    attrs = dict(kernel_shape=ksz, strides=stride, pads=[int(rng.integers(0, e)) for e in ksz * 2])
    x = _x(rng, (1, c, int(rng.integers(2, 7)), int(rng.integers(2, 7))))
    inits = [_init("W", _x(rng, (c, k, *ksz))), _init("B", _x(rng, (k,)))]
    return Case("ConvTranspose", _model("ConvTranspose", [("x", F32, x.shape)], [("y", F32)], attrs, inits),
                {"x": x}, str(attrs))


def pool(rng):
    op = str(rng.choice(["MaxPool", "AveragePool"]))
    ksz = [int(rng.integers(1, 4)) for _ in range(2)]
    attrs = dict(kernel_shape=ksz, strides=[int(rng.integers(1, 3)) for _ in range(2)],
                 pads=[int(rng.integers(0, e)) for e in ksz * 2])
    if op == "AveragePool":
        attrs["count_include_pad"] = int(rng.integers(0, 2))
    x = _x(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(4, 10)), int(rng.integers(4, 10))))
    return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32)], attrs), {"x": x}, str(attrs))


def global_pool(rng):
    op = str(rng.choice(["GlobalAveragePool", "GlobalMaxPool"]))
    x = _x(rng, (2, 3, int(rng.integers(1, 6)), int(rng.integers(1, 6))))
    return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32)]), {"x": x})


def _broadcast_shapes(rng):
    rank = int(rng.integers(0, 5))
    full = [int(rng.integers(1, 5)) for _ in range(rank)]
    other = [d if rng.random() < 0.6 else 1 for d in full][int(rng.integers(0, rank + 1)):]
    return (full, other) if rng.random() < 0.5 else (other, full)


def binary(rng):
    op = str(rng.choice(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"]))
    t = _ftype(rng) if op != "Pow" else F32
    sa, sb = _broadcast_shapes(rng)
    a, b = _x(rng, sa, NP[t]), _x(rng, sb, NP[t])
    if op == "Pow":
        a = np.abs(a) + np.float32(0.5)
    if op == "Div":
        b = np.where(np.abs(b) < 0.25, 1, b).astype(NP[t])
    return Case(op, _model(op, [("a", t, sa), ("b", t, sb)], [("y", t)]), {"a": a, "b": b}, f"{sa} {sb}")


def integer_binary(rng):
    op = str(rng.choice(["Add", "Sub", "Mul", "Div", "Max", "Min", "Mod"]))
    sa, sb = _broadcast_shapes(rng)
    a = rng.integers(-20, 20, sa).astype(np.int64)
    b = rng.integers(1, 7, sb).astype(np.int64) * rng.choice([-1, 1], sb)
    attrs = {"fmod": 0} if op == "Mod" else None
    return Case(f"{op} (int64)", _model(op, [("a", I64, sa), ("b", I64, sb)], [("y", I64)], attrs),
                {"a": a, "b": b}, f"{sa} {sb}")


def compare_op(rng):
    op = str(rng.choice(["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"]))
    sa, sb = _broadcast_shapes(rng)
    a, b = rng.integers(-3, 3, sa).astype(np.float32), rng.integers(-3, 3, sb).astype(np.float32)
    return Case(op, _model(op, [("a", F32, sa), ("b", F32, sb)], [("y", TensorProto.BOOL)]), {"a": a, "b": b})


UNARY = {"Relu": {}, "Sigmoid": {}, "Tanh": {}, "Exp": {}, "Log": {}, "Sqrt": {}, "Abs": {}, "Neg": {},
         "Sin": {}, "Cos": {}, "Floor": {}, "Ceil": {}, "Erf": {}, "Softplus": {}, "Softsign": {},
         "LeakyRelu": {"alpha": 0.07}, "Elu": {"alpha": 0.8}, "Selu": {}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4},
         "Reciprocal": {}, "Sign": {}, "Atan": {}, "Asinh": {}, "Round": {}, "Gelu": {}, "Mish": {},
         "HardSwish": {}, "ThresholdedRelu": {"alpha": 0.3}, "Celu": {"alpha": 1.3}}


def unary(rng):
    op = str(rng.choice(sorted(UNARY)))
    t = _ftype(rng)
    x = _x(rng, [int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 4)))], NP[t], 2.0)
    if op in ("Log", "Sqrt"):
        x = (np.abs(x) + 0.1).astype(NP[t])
    if op == "Round":
        x = (np.round(x * 2) / 2 + rng.choice([0, 0.25], x.shape)).astype(NP[t])  # ties included
    if op == "Reciprocal":
        x = np.where(np.abs(x) < 0.25, 1, x).astype(NP[t])
    return Case(op, _model(op, [("x", t, x.shape)], [("y", t)], UNARY[op]), {"x": x}, str(t))


def softmax(rng):
    op = str(rng.choice(["Softmax", "LogSoftmax"]))
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(-len(shape), len(shape)))
    x = _x(rng, shape, scale=3)
    return Case(op, _model(op, [("x", F32, shape)], [("y", F32)], {"axis": axis}), {"x": x}, f"axis {axis}")


def reduce(rng):
    op = str(rng.choice(["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                         "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"]))
    shape = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 5)))]
    axes = sorted({int(a) for a in rng.integers(-len(shape), len(shape), int(rng.integers(1, len(shape) + 1)))})
    axes = sorted({a % len(shape) for a in axes})
    keep = int(rng.integers(0, 2))
    x = _x(rng, shape)
    return Case(op, _model(op, [("x", F32, shape)], [("y", F32)], {"keepdims": keep},
                           [_init("axes", np.array(axes, np.int64))], opset=18), {"x": x}, f"axes {axes} keep {keep}")


def arg(rng):
    op = str(rng.choice(["ArgMax", "ArgMin"]))
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape).astype(np.float32)  # no ties
    return Case(op, _model(op, [("x", F32, shape)], [("y", I64)], {"axis": axis, "keepdims": int(rng.integers(0, 2))}),
                {"x": x})


def matmul(rng):
    m, k, n = (int(v) for v in rng.integers(1, 9, 3))
    batch = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3)))]
    sa = batch + [m, k]
    sb = [d if rng.random() < 0.5 else 1 for d in batch][int(rng.integers(0, len(batch) + 1)):] + [k, n]
    a, b = _x(rng, sa), _x(rng, sb)
    return Case("MatMul", _model("MatMul", [("a", F32, sa), ("b", F32, sb)], [("y", F32)]), {"a": a, "b": b},
                f"{sa} @ {sb}")


def gemm(rng):
    m, k, n = (int(v) for v in rng.integers(1, 9, 3))
    ta, tb = int(rng.integers(0, 2)), int(rng.integers(0, 2))
    a = _x(rng, (k, m) if ta else (m, k))
    attrs = dict(transA=ta, transB=tb, alpha=float(rng.uniform(0.5, 2)), beta=float(rng.uniform(0.5, 2)))
    inits = [_init("B", _x(rng, (n, k) if tb else (k, n))), _init("C", _x(rng, (n,)))]
    return Case("Gemm", _model("Gemm", [("a", F32, a.shape)], [("y", F32)], attrs, inits), {"a": a}, str(attrs))


def transpose(rng):
    shape = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 6)))]
    perm = [int(p) for p in rng.permutation(len(shape))]
    x = _x(rng, shape)
    return Case("Transpose", _model("Transpose", [("x", F32, shape)], [("y", F32)], {"perm": perm}), {"x": x})


def reshape(rng):
    shape = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 5)))]
    size = int(np.prod(shape))
    target = [size] if rng.random() < 0.3 else [-1, shape[-1]] if rng.random() < 0.5 else [0] + [-1]
    x = _x(rng, shape)
    return Case("Reshape", _model("Reshape", [("x", F32, shape)], [("y", F32)], None,
                                  [_init("shape", np.array(target, np.int64))]), {"x": x}, str(target))


def concat(rng):
    shape = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    xs = []
    for i in range(int(rng.integers(2, 4))):
        s = list(shape)
        s[axis] = int(rng.integers(1, 4))
        xs.append(_x(rng, s))
    return Case("Concat", _model("Concat", [(f"x{i}", F32, x.shape) for i, x in enumerate(xs)], [("y", F32)],
                                 {"axis": axis}), {f"x{i}": x for i, x in enumerate(xs)})


def slice_(rng):
    shape = [int(rng.integers(2, 7)) for _ in range(int(rng.integers(1, 4)))]
    axes = sorted(rng.choice(len(shape), int(rng.integers(1, len(shape) + 1)), replace=False).tolist())
    starts, ends, steps = [], [], []
    for a in axes:
        step = int(rng.choice([1, 1, 2, -1, -2]))
        lo, hi = sorted(int(v) for v in rng.integers(-shape[a], shape[a], 2))
        starts.append(hi if step < 0 else lo)
        ends.append(lo - 1 if step < 0 and lo > -shape[a] else (-shape[a] - 1 if step < 0 else hi + 1))
        steps.append(step)
    x = _x(rng, shape)
    inits = [_init(n, np.array(v, np.int64)) for n, v in (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))]
    return Case("Slice", _model("Slice", [("x", F32, shape)], [("y", F32)], None, inits), {"x": x},
                f"{starts}:{ends}:{steps} axes {axes}")


def gather(rng):
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    idx = rng.integers(-shape[axis], shape[axis], [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3)))])
    x = _x(rng, shape)
    return Case("Gather", _model("Gather", [("x", F32, shape)], [("y", F32)], {"axis": axis},
                                 [_init("i", idx.astype(np.int64))]), {"x": x})


def gather_elements(rng):
    shape = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    ishape = list(shape)
    ishape[axis] = int(rng.integers(1, 5))
    idx = rng.integers(0, shape[axis], ishape).astype(np.int64)
    x = _x(rng, shape)
    return Case("GatherElements", _model("GatherElements", [("x", F32, shape), ("i", I64, ishape)], [("y", F32)],
                                         {"axis": axis}), {"x": x, "i": idx})


def pad(rng):
    shape = [int(rng.integers(2, 5)) for _ in range(int(rng.integers(1, 5)))]
    mode = str(rng.choice(["constant", "reflect", "edge"]))
    pads = [int(rng.integers(0, 2 if mode == "reflect" else 3)) for _ in range(2 * len(shape))]
    x = _x(rng, shape)
    return Case(f"Pad {mode}", _model("Pad", [("x", F32, shape)], [("y", F32)], {"mode": mode},
                                      [_init("pads", np.array(pads, np.int64))]), {"x": x}, str(pads))


def resize(rng):
    mode = str(rng.choice(["nearest", "linear", "cubic"]))
    coord = str(rng.choice(["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]))
    x = _x(rng, (1, 2, int(rng.integers(2, 6)), int(rng.integers(2, 6))))
    scales = np.array([1, 1, rng.choice([0.5, 1.5, 2.0, 3.0]), rng.choice([0.5, 2.0, 2.5])], np.float32)
    attrs = {"mode": mode, "coordinate_transformation_mode": coord}
    if mode == "nearest":
        attrs["nearest_mode"] = str(rng.choice(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    if mode == "cubic":
        attrs["cubic_coeff_a"] = -0.75
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)]
    return Case(f"Resize {mode}", _model("Resize", [("x", F32, x.shape)], [("y", F32)], None,
                                         [_init("scales", scales)], nodes=nodes), {"x": x}, f"{attrs} {scales}")


def topk(rng):
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    k = int(rng.integers(1, shape[axis] + 1))
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape).astype(np.float32)  # no ties
    return Case("TopK", _model("TopK", [("x", F32, shape)], [("v", F32), ("i", I64)],
                               {"axis": axis, "largest": int(rng.integers(0, 2))},
                               [_init("k", np.array([k], np.int64))]), {"x": x})


def cumsum(rng):
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    axis = int(rng.integers(0, len(shape)))
    attrs = {"exclusive": int(rng.integers(0, 2)), "reverse": int(rng.integers(0, 2))}
    x = _x(rng, shape)
    return Case("CumSum", _model("CumSum", [("x", F32, shape)], [("y", F32)], attrs,
                                 [_init("axis", np.array(axis, np.int64))]), {"x": x}, str(attrs))


def where(rng):
    sa, sb = _broadcast_shapes(rng)
    c = rng.random(sa) < 0.5
    a, b = _x(rng, sa), _x(rng, sb)
    return Case("Where", _model("Where", [("c", TensorProto.BOOL, sa), ("a", F32, sa), ("b", F32, sb)], [("y", F32)]),
                {"c": c, "a": a, "b": b})


def clip(rng):
    x = _x(rng, (3, 4), scale=2)
    lo, hi = sorted(rng.uniform(-1.5, 1.5, 2).astype(np.float32))
    return Case("Clip", _model("Clip", [("x", F32, x.shape)], [("y", F32)], None,
                               [_init("lo", np.float32(lo)), _init("hi", np.float32(hi))]), {"x": x})


def expand_tile(rng):
    if rng.random() < 0.5:
        x = _x(rng, (1, int(rng.integers(1, 4)), 1))
        target = [int(rng.integers(1, 4)), x.shape[1], int(rng.integers(1, 4))]
        return Case("Expand", _model("Expand", [("x", F32, x.shape)], [("y", F32)], None,
                                     [_init("shape", np.array(target, np.int64))]), {"x": x})
    x = _x(rng, (int(rng.integers(1, 4)), int(rng.integers(1, 4))))
    reps = rng.integers(1, 4, 2).astype(np.int64)
    return Case("Tile", _model("Tile", [("x", F32, x.shape)], [("y", F32)], None, [_init("r", reps)]), {"x": x})


def norms(rng):
    op = str(rng.choice(["LayerNormalization", "InstanceNormalization", "BatchNormalization"]))
    x = _x(rng, (2, 3, int(rng.integers(2, 5)), int(rng.integers(2, 5))), scale=2)
    c = x.shape[1]
    if op == "LayerNormalization":
        axis = int(rng.integers(1, 4))
        shape = x.shape[axis:]
        inits = [_init("g", _x(rng, shape)), _init("b", _x(rng, shape))]
        return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32)], {"axis": axis, "epsilon": 1e-5}, inits),
                    {"x": x}, f"axis {axis}")
    if op == "InstanceNormalization":
        inits = [_init("g", _x(rng, (c,))), _init("b", _x(rng, (c,)))]
        return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32)], {"epsilon": 1e-5}, inits), {"x": x})
    inits = [_init("g", _x(rng, (c,))), _init("b", _x(rng, (c,))), _init("m", _x(rng, (c,))),
             _init("v", np.abs(_x(rng, (c,))) + 0.5)]
    return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32)], {"epsilon": 1e-5}, inits), {"x": x})


def einsum(rng):
    eq, shapes = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("ii->i", [(4, 4)]),
                  ("ij->ji", [(3, 5)]), ("i,i->", [(6,), (6,)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
                  ("ij->", [(3, 4)])][int(rng.integers(0, 7))]
    xs = [_x(rng, s) for s in shapes]
    return Case("Einsum", _model("Einsum", [(f"x{i}", F32, x.shape) for i, x in enumerate(xs)], [("y", F32)],
                                 {"equation": eq}), {f"x{i}": x for i, x in enumerate(xs)}, eq)


def depth_to_space(rng):
    b = int(rng.integers(2, 4))
    mode = str(rng.choice(["DCR", "CRD"]))
    x = _x(rng, (1, b * b * int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))))
    return Case(f"DepthToSpace {mode}", _model("DepthToSpace", [("x", F32, x.shape)], [("y", F32)],
                                               {"blocksize": b, "mode": mode}), {"x": x})


def qdq(rng):
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 9)))
    axis = int(rng.integers(0, 2))
    per_axis = rng.random() < 0.5
    sshape = (shape[axis],) if per_axis else ()
    scale = rng.uniform(0.01, 0.3, sshape).astype(np.float32)
    x = _x(rng, shape, scale=10)
    x.flat[::3] = (np.round(x.flat[::3] / 0.05) + 0.5) * 0.05  # some ties
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=axis),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=axis)]
    inits = [_init("s", scale), _init("z", np.zeros(sshape, np.int8))]
    return Case("QuantizeLinear+DequantizeLinear (int8)",
                _model("QDQ", [("x", F32, shape)], [("y", F32)], None, inits, nodes=nodes), {"x": x},
                f"per-axis {per_axis} axis {axis}")


def lrn(rng):
    x = _x(rng, (1, int(rng.integers(2, 7)), 3, 3))
    attrs = dict(size=int(rng.choice([1, 3, 5])), alpha=float(rng.uniform(1e-4, 1e-2)), beta=0.75, bias=1.0)
    return Case("LRN", _model("LRN", [("x", F32, x.shape)], [("y", F32)], attrs), {"x": x}, str(attrs))


def recurrent(rng):
    op = str(rng.choice(["RNN", "GRU", "LSTM"]))
    seq, batch, inp, hid = (int(v) for v in rng.integers(1, 5, 4))
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    x = _x(rng, (seq, batch, inp))
    inits = [_init("W", _x(rng, (1, gates * hid, inp), scale=0.5)), _init("R", _x(rng, (1, gates * hid, hid), scale=0.5)),
             _init("B", _x(rng, (1, 2 * gates * hid), scale=0.5))]
    return Case(op, _model(op, [("x", F32, x.shape)], [("y", F32), ("y_h", F32)], {"hidden_size": hid}, inits),
                {"x": x}, f"seq {seq} batch {batch}")


GENERATORS = [conv, conv_transpose, pool, global_pool, binary, integer_binary, compare_op, unary, softmax, reduce,
              arg, matmul, gemm, transpose, reshape, concat, slice_, gather, gather_elements, pad, resize, topk,
              cumsum, where, clip, expand_tile, norms, einsum, depth_to_space, qdq, lrn, recurrent]


def generate(seed: int = 17, per_op: int = 3):
    """``per_op`` cases of every generator, from one seeded generator (same seed, same cases)."""
    rng = np.random.default_rng(seed)
    return [gen(rng) for gen in GENERATORS for _ in range(per_op)]


# ---------------------------------------------------------------- running and comparing


def tolerance(dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing float outputs: float32 sums in another order differ by a few ulp
    of the largest term, float16 rounds every operation."""
    return (2e-3, 2e-3) if np.dtype(dtype) == np.float16 else (1e-4, 1e-5)


def agree(got, want) -> tuple[bool, str]:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False, f"shape {got.shape} != {want.shape}"
    if want.dtype.kind in "iub":
        ok = np.array_equal(got.astype(want.dtype), want)
        return ok, "" if ok else f"{int(np.sum(got.astype(want.dtype) != want))} values differ"
    rtol, atol = tolerance(want.dtype if got.dtype != np.float16 else np.float16)
    g, w = got.astype(np.float64), want.astype(np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(w)))) if w.size else 1.0
    ok = bool(np.allclose(g, w, rtol=rtol, atol=atol * scale, equal_nan=True))
    return ok, "" if ok else f"max |diff| {float(np.nanmax(np.abs(g - w))):.3g} (scale {scale:.3g})"


def run_trt(trt, case):
    """The case through TensorRT's OnnxParser and trtlab.reference: {output: array}, or a str why not."""
    from trtlab import backend, compat, reference
    builder = trt.Builder(backend.logger(trt))
    network = compat.create_network(builder, trt)  # strongly typed on every backend
    parser = trt.OnnxParser(network, backend.logger(trt))
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        ok = parser.parse(case.model.SerializeToString())
    if not ok:
        return f"parser: {parser.get_error(0).desc().splitlines()[0][:120]}"
    case.layer_types = sorted({network.get_layer(i).type.name for i in range(network.num_layers)})
    names = {network.get_input(i).name for i in range(network.num_inputs)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reference.evaluate(network, {k: v for k, v in case.feeds.items() if k in names})


def compare(trt, case) -> dict:
    """Run the three; returns {verdict, detail, oracles}: verdict 'agree' (with every oracle that ran),
    'oracles differ' (the reference agrees with one of two oracles that disagree), 'mismatch',
    'parser' (TensorRT refused the model) or 'error'."""
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator
    out_names = [o.name for o in case.model.graph.output]
    oracles = {}
    try:
        sess = ort.InferenceSession(case.model.SerializeToString(), providers=["CPUExecutionProvider"])
        oracles["onnxruntime"] = dict(zip(out_names, sess.run(None, case.feeds)))
    except Exception as exc:  # noqa: BLE001 - an oracle that cannot run this case is recorded, not fatal
        oracles["onnxruntime"] = f"{type(exc).__name__}: {str(exc)[:100]}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oracles["onnx.reference"] = dict(zip(out_names, ReferenceEvaluator(case.model).run(None, case.feeds)))
    except Exception as exc:  # noqa: BLE001
        oracles["onnx.reference"] = f"{type(exc).__name__}: {str(exc)[:100]}"
    try:
        got = run_trt(trt, case)
    except Exception as exc:  # noqa: BLE001 - a survey: every failure is a row
        return {"verdict": "error", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
    if isinstance(got, str):
        return {"verdict": "parser", "detail": got}
    ran = {k: v for k, v in oracles.items() if isinstance(v, dict)}
    if not ran:
        return {"verdict": "error", "detail": "no oracle ran: " + "; ".join(map(str, oracles.values()))}
    results = {}
    for oracle, outs in ran.items():
        results[oracle] = all(agree(got[n], outs[n])[0] for n in out_names if n in got)
    details = "; ".join(f"{o}: " + ", ".join(agree(got[n], ran[o][n])[1] for n in out_names if n in got)
                        for o, ok in results.items() if not ok)
    oracles_agree = len(ran) < 2 or all(agree(ran["onnxruntime"][n], ran["onnx.reference"][n])[0] for n in out_names)
    if all(results.values()):
        return {"verdict": "agree", "detail": "", "oracles": sorted(ran)}
    if any(results.values()) and not oracles_agree:
        return {"verdict": "oracles differ", "detail": details, "oracles": sorted(ran)}
    return {"verdict": "mismatch", "detail": details, "oracles": sorted(ran)}


# Where ONNX Runtime and onnx.reference disagree, which one is right and why (checked by hand in
# tests/test_reference_differential.py). The CPU reference must agree with the one named right.
RESOLVED = {
    "LRN": ("onnxruntime", "onnx.reference's LRN loops over x.shape[0] (the batch) instead of the channels, "
                           "so channels past the batch size get no neighbours; ONNX Runtime follows the spec"),
    "Resize linear": ("onnxruntime", "onnx.reference puts the unrounded length in x scale into align_corners' "
                                     "(in - 1) / (out - 1) and pytorch_half_pixel's out > 1 test; the spec's "
                                     "length_resized is the output's integer length, as ONNX Runtime uses"),
    "Resize cubic": ("onnxruntime", "as for Resize linear"),
    "MaxPool": ("onnxruntime", "onnx.reference reads asymmetric pads [x1_begin, x2_begin, x1_end, x2_end] "
                               "in another order and gives another output shape"),
    "AveragePool": ("onnxruntime", "as for MaxPool"),
}


def verdict_ok(case, result) -> bool:
    """Agreement, or a disagreement between the oracles that RESOLVED explains, with the reference
    on the side named right."""
    if result["verdict"] == "agree":
        return True
    if result["verdict"] == "oracles differ" and case.op in RESOLVED:
        right = RESOLVED[case.op][0]
        return f"{right}:" not in result["detail"]  # the reference differs only from the other oracle
    return False
