"""Low-precision types and Q/DQ in the CPU reference (trtlab.lowp), exactly.

Three kinds of check: hand-computed small cases (ties, saturation, infinities, NaN); the same
Q/DQ ONNX graphs run by ONNX Runtime, by ONNX's reference evaluator and — parsed by
TensorRT(-RTX)'s OnnxParser — by trtlab.reference, bit for bit; and round trips.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from trtlab import backend, lowp, reference

trt = backend.load()
RNG = np.random.default_rng(17)
nan, inf = float("nan"), float("inf")


def f32(*v):
    return np.array(v, dtype=np.float32)


# ---------------------------------------------------------------- hand-computed cases


def test_int8_quantize_rounds_half_to_even_and_saturates():
    x = f32(0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 253, 255, -257, -1000, 1e30)
    q = lowp.quantize(x, 2.0, np.int8)
    # x / 2 = .25 .75 1.25 -.25 -.75 -1.25 126.5 127.5 -128.5 -500 5e29
    assert q.dtype == np.int8
    assert q.tolist() == [0, 1, 1, 0, -1, -1, 126, 127, -128, -128, 127]
    assert lowp.quantize(f32(1.0, 3.0, 5.0, 7.0), 2.0, np.int8).tolist() == [0, 2, 2, 4]  # .5 1.5 2.5 3.5


def test_zero_point_is_added_after_rounding_then_clamped():
    x = f32(0.5, 1.5, -3.0, 200.0)
    assert lowp.quantize(x, 1.0, np.int8, zero_point=np.int8(10)).tolist() == [10, 12, 7, 127]
    assert lowp.dequantize(np.array([10, 12, 7, 127], np.int8), 1.0, zero_point=np.int8(10)).tolist() == [0, 2, -3, 117]


def test_per_channel_scale_along_axis():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    q = lowp.quantize(x, f32(1, 2, 4), np.int8, axis=0)
    assert q.tolist() == [[0, 1, 2, 3], [2, 2, 3, 4], [2, 2, 2, 3]]  # 4/2=2, 5/2=2.5->2, 9/4=2.25->2, 10/4=2.5->2
    q1 = lowp.quantize(x, f32(1, 2, 4, 8), np.int8, axis=1)
    assert q1[:, 3].tolist() == [0, 1, 1]  # 3/8, 7/8, 11/8


def test_int4_block_quantization_with_block_scales():
    x = np.array([[1, 2, 3, 40, 5, 6, 70, 8]], np.float32)
    scale = f32(1, 10).reshape(1, 2)  # blocks of 4 along axis 1
    q = lowp.quantize(x, scale, lowp.INT4, axis=1, block=(1, 4))
    assert q.dtype == lowp.INT4
    assert q.astype(int).tolist() == [[1, 2, 3, 7, 0, 1, 7, 1]]  # 40 saturates to 7; 5/10=.5->0; 6/10->1
    assert lowp.dequantize(q, scale, axis=1, block=(1, 4)).tolist() == [[1, 2, 3, 7, 0, 10, 70, 10]]
    assert lowp.quantize(f32(-100, -8.5, -7.5, 7.5), 1.0, lowp.INT4).astype(int).tolist() == [-8, -8, -8, 7]
    # a last block shorter than the others (ceil(6 / 4) = 2 blocks)
    q = lowp.quantize(np.ones((1, 6), np.float32) * 3, f32(1, 3).reshape(1, 2), lowp.INT4, axis=1, block=(1, 4))
    assert q.astype(int).tolist() == [[3, 3, 3, 3, 1, 1]]


def test_fp8_e4m3_rounds_to_nearest_even_and_saturates():
    x = f32(17, 19, 0.0703125, 480, 1e6, inf, -inf, nan, 2.0 ** -10, 3 * 2.0 ** -10, -0.0, 464)
    y = lowp.cast(x, lowp.FP8_E4M3)
    # 17 ties 16|18 -> 16; 19 ties 18|20 -> 20; 480 (the NaN pattern's place) saturates to 448;
    # 2^-10 ties 0|2^-9 -> 0; 3*2^-10 ties 2^-9|2^-8 -> 2^-8 (even); 464 ties 448|480 -> 448 (even)
    want = [16, 20, 0.0703125, 448, 448, 448, -448, nan, 0, 2.0 ** -8, -0.0, 448]
    np.testing.assert_array_equal(y.astype(np.float32), f32(*want))
    assert np.signbit(y.astype(np.float32)[-2])
    loose = lowp.cast(x, lowp.FP8_E4M3, saturate=False).astype(np.float32)
    assert np.isnan(loose[[3, 4, 5, 6, 7]]).all() and loose[0] == 16 and loose[-1] == 448


def test_fp8_e5m2_saturating_and_not():
    x = f32(57344, 61440, 1e6, inf, -inf)
    assert lowp.cast(x, lowp.FP8_E5M2).astype(np.float32).tolist() == [57344, 57344, 57344, 57344, -57344]
    assert lowp.cast(x, lowp.FP8_E5M2, saturate=False).astype(np.float32).tolist() == [57344, inf, inf, inf, -inf]


def test_fp4_e2m1_values_ties_and_saturation():
    x = f32(0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 7, -7, 1e9, -0.1)
    y = lowp.cast(x, lowp.FP4_E2M1).astype(np.float32)
    assert y.tolist() == [0, 1, 1, 2, 2, 4, 4, 6, -6, 6, -0.0]
    q = lowp.quantize(f32(1, 2, 3, 100), 0.5, lowp.FP4_E2M1)  # 2 4 6 200->6
    assert q.dtype == lowp.FP4_E2M1 and q.astype(np.float32).tolist() == [2, 4, 6, 6]


def test_bf16_rounds_to_nearest_even_and_keeps_infinity():
    x = f32(1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 3.4e38, inf, nan)
    y = lowp.cast(x, lowp.BF16).astype(np.float32)
    assert y[0] == 1 and y[1] == 1 + 2.0 ** -6
    assert y[2] == inf and y[3] == inf and np.isnan(y[4])  # BF16 overflow is infinity (no saturation)


def test_int4_cast_from_float_rounds_and_clamps():
    y = lowp.cast(f32(-9, -8.5, 2.5, 3.5, 7.4, 8, 100), lowp.INT4)
    assert y.astype(int).tolist() == [-8, -8, 2, 4, 7, 7, 7]
    assert lowp.cast(y, np.float32).tolist() == [-8, -8, 2, 4, 7, 7, 7]


def test_every_trt_data_type_has_a_lossless_numpy_dtype():
    for dt in trt.DataType.__members__.values():
        assert reference.numpy_dtype(dt).itemsize >= 1
    assert reference.numpy_dtype(trt.DataType.FP4) == lowp.FP4_E2M1
    assert reference.numpy_dtype(trt.DataType.INT4) == lowp.INT4
    # every INT4 and FP4 value survives float32 and back
    for dtype, values in ((lowp.INT4, range(-8, 8)), (lowp.FP4_E2M1, [0, .5, 1, 1.5, 2, 3, 4, 6])):
        v = np.array(list(values), np.float32)
        assert lowp.cast(lowp.cast(v, dtype), np.float32).tolist() == v.tolist()


# ---------------------------------------------------------------- against ONNX Runtime and ONNX's evaluator

TYPES = {"int8": (T.INT8, lowp.quantize), "int4": (T.INT4, None), "fp8": (T.FLOAT8E4M3FN, None), "fp4": (T.FLOAT4E2M1, None)}


def qdq_model(to, x_shape, s_shape, axis=None, block=None, zero=False, in_type=T.FLOAT):
    """x -> QuantizeLinear -> DequantizeLinear -> y (float): what ONNX Runtime can run for every type."""
    attrs = {k: v for k, v in (("axis", axis), ("block_size", block)) if v is not None}
    scale = (RNG.uniform(0.05, 0.5, s_shape)).astype(np.float16 if in_type == T.FLOAT16 else np.float32)
    inits = [numpy_helper.from_array(scale, "s")]
    args = ["x", "s"]
    if zero:
        inits.append(helper.make_tensor("z", to, list(s_shape), [0] * int(np.prod(s_shape))))
        args.append("z")
    q_attrs = attrs if zero else dict(attrs, output_dtype=to)  # else ONNX quantizes to UINT8
    nodes = [helper.make_node("QuantizeLinear", args, ["q"], **q_attrs),
             helper.make_node("DequantizeLinear", ["q"] + args[1:], ["y"], **attrs)]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", in_type, list(x_shape))],
                              [helper.make_tensor_value_info("y", in_type, list(x_shape))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)], ir_version=10), scale


def hard_input(shape, scale_full, top):
    """Random values, plus exact ties (k + 1/2) * scale and values beyond the range."""
    x = RNG.standard_normal(shape).astype(np.float32) * top * np.broadcast_to(scale_full, shape)
    k = RNG.integers(-int(top), int(top), shape)
    ties = ((k + 0.5) * scale_full).astype(np.float32)
    pick = RNG.random(shape)
    x = np.where(pick < 0.3, ties, x)
    return np.where(pick > 0.9, x * 10, x).astype(np.float32)


def parse(model):
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, backend.logger(trt))
    ok = parser.parse(model.SerializeToString())
    return (builder, network, parser) if ok else None


CASES = [  # (type, x shape, scale shape, axis, block, zero point)
    ("int8", (4, 8), (), None, None, True),
    ("int8", (4, 8), (4,), 0, None, True),
    ("int8", (2, 3, 5), (3,), 1, None, False),
    ("int8", (4, 8), (4, 2), 1, 4, False),
    ("int4", (4, 8), (), None, None, False),
    ("int4", (4, 8), (4,), 0, None, True),
    ("int4", (4, 16), (4, 2), 1, 8, False),
    ("int4", (8, 6), (2, 6), 0, 4, False),
    ("fp8", (4, 8), (), None, None, False),
    ("fp8", (4, 8), (8,), 1, None, False),
    ("fp4", (4, 16), (4, 1), 1, 16, True),  # (ONNX Runtime has FP4 Q/DQ only with a zero point)
    ("fp4", (2, 32), (2, 2), 1, 16, True),
]


@pytest.mark.parametrize("kind,x_shape,s_shape,axis,block,zero", CASES, ids=lambda v: str(v))
def test_qdq_matches_onnx_runtime_and_onnx_reference_bit_for_bit(kind, x_shape, s_shape, axis, block, zero):
    ort = pytest.importorskip("onnxruntime")
    from onnx.reference import ReferenceEvaluator
    to = TYPES[kind][0]
    model, scale = qdq_model(to, x_shape, s_shape, axis, block, zero)
    full = lowp.expand_scale(scale, x_shape, axis, None if block is None else
                             [block if j == (axis or 0) % len(x_shape) else 1 for j in range(len(x_shape))])
    top = {"int8": 127, "int4": 7, "fp8": 448, "fp4": 6}[kind]
    x = hard_input(x_shape, np.broadcast_to(full, x_shape), top)
    want_ref = ReferenceEvaluator(model).run(None, {"x": x})[0]
    if kind == "fp4":  # ONNX Runtime 1.2x has no CPU kernel for FP4 QuantizeLinear: one oracle
        want_ort = want_ref
    else:
        want_ort = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        np.testing.assert_array_equal(want_ort, want_ref)  # the two oracles agree here, bit for bit
    # trtlab.lowp directly
    dtype = {"int8": np.int8, "int4": lowp.INT4, "fp8": lowp.FP8_E4M3, "fp4": lowp.FP4_E2M1}[kind]
    blk = None if block is None else [block if j == axis % len(x_shape) else 1 for j in range(len(x_shape))]
    q = lowp.quantize(x, scale, dtype, axis=axis, block=blk)
    np.testing.assert_array_equal(lowp.dequantize(q, scale, axis=axis, block=blk), want_ort)
    # through TensorRT's parser and the CPU reference
    parsed = parse(model)
    if parsed is None:
        pytest.fail(f"TensorRT's parser refused the {kind} Q/DQ model")
    got = reference.evaluate(parsed[1], {"x": x})["y"]
    np.testing.assert_array_equal(got, want_ort)


def test_float16_qdq_computes_in_float32_then_rounds():
    ort = pytest.importorskip("onnxruntime")
    model, scale = qdq_model(T.INT8, (64,), (), zero=True, in_type=T.FLOAT16)
    x = (RNG.standard_normal(64) * 20).astype(np.float16)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    _, network, _ = parse(model)
    got = reference.evaluate(network, {"x": x})["y"]
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- dynamic block quantization


def test_nvfp4_dynamic_quantization_by_hand():
    x = np.zeros((1, 32), np.float32)
    x[0, :16] = np.linspace(-3, 3, 16)  # amax 3: scale 3 / 6 = 0.5 (exact in FP8)
    x[0, 16:] = 0.0  # an all-zero block: scale 0, data 0
    builder = trt.Builder(backend.logger(trt))
    net = builder.create_network(0)
    inp = net.add_input("x", trt.float32, (1, 32))
    dq = net.add_dynamic_quantize(inp, 1, 16, trt.DataType.FP4, trt.DataType.FP8)
    one = net.add_constant((), np.array(1.0, np.float32))
    dq.set_input(1, one.get_output(0))
    for j in range(2):
        net.mark_output(dq.get_output(j))
    out = reference.evaluate(net, {"x": x})
    data, scales = out[dq.get_output(0).name], out[dq.get_output(1).name]
    assert data.dtype == lowp.FP4_E2M1 and scales.dtype == lowp.FP8_E4M3 and scales.shape == (1, 2)
    assert scales.astype(np.float32).tolist() == [[0.5, 0.0]]
    want = lowp.cast(x[0, :16] / 0.5, lowp.FP4_E2M1).astype(np.float32)  # x / 0.5 in [-6, 6], rounded
    np.testing.assert_array_equal(data.astype(np.float32)[0, :16], want)
    assert not data.astype(np.float32)[0, 16:].any()


def test_mxfp8_scale_rounds_up_to_a_power_of_two():
    x = np.full((2, 32), 500.0, np.float32)  # 500 / 448 = 1.116 -> 2**1
    data, scales = lowp.dynamic_block_quantize(x, (1, 32), lowp.FP8_E4M3, lowp.E8M0)
    assert scales.astype(np.float32).tolist() == [[2.0], [2.0]]
    assert (data.astype(np.float32) == 256).all()  # 500 / 2 = 250 -> 256 in E4M3 (step 16 at 128..256)


def test_float_feeds_for_narrow_inputs_round_and_saturate():
    builder = trt.Builder(backend.logger(trt))
    net = builder.create_network(0)
    inp = net.add_input("x", trt.DataType.FP8, (4,))
    up = net.add_cast(inp, trt.float32)
    net.mark_output(up.get_output(0))
    got = reference.evaluate(net, {"x": f32(17, 1000, -1e9, 0.5)})[up.get_output(0).name]
    assert got.tolist() == [16, 448, -448, 0.5]  # (astype would give NaN for 1000)
