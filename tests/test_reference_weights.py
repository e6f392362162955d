"""Weights stored in FP8, INT4 and FP4 (weight-only quantization), read by the CPU reference.

TensorRT-RTX's ``Weights.numpy()`` gives no array for these types, so trtlab.reference reads
the bytes TensorRT holds and decodes them (INT4/FP4 two to a byte). Each model is parsed by
TensorRT's OnnxParser and evaluated by trtlab.reference, then checked against ONNX's reference
evaluator and ONNX Runtime (basic graph optimizations: its extended CPU ones mis-execute FP8
Q/DQ, see trtlab.quantize): the dequantized weights bit for bit, the layer outputs to float32
rounding.
"""
from __future__ import annotations

import ml_dtypes
import onnx
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from trtlab import backend, lowp, reference

trt = backend.load()
RNG = np.random.default_rng(29)


def stored(values: np.ndarray, to: int, name: str):
    """An ONNX initializer of type ``to`` from values already representable in it."""
    packed = {T.INT4: ml_dtypes.int4, T.FLOAT4E2M1: ml_dtypes.float4_e2m1fn}
    if to in packed:  # two to a byte, low nibble first
        nibbles = np.ascontiguousarray(values.astype(packed[to])).view(np.uint8).reshape(-1) & 0x0F
        nibbles = np.concatenate([nibbles, np.zeros(nibbles.size % 2, np.uint8)])
        raw = (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    else:
        raw = np.ascontiguousarray(values.astype(ml_dtypes.float8_e4m3fn)).tobytes()
    return helper.make_tensor(name, to, list(values.shape), raw, raw=True)


def weight_model(to: int, w: np.ndarray, scale: np.ndarray, op: str, x_shape, axis=None, block=None):
    """x -> op(x, DequantizeLinear(w stored as ``to``, scale)) -> y; the dequantized weight is output 'w_dq'."""
    attrs = {k: v for k, v in (("axis", axis), ("block_size", block)) if v is not None}
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "s"], ["w_dq"], **attrs),
             helper.make_node(op, ["x", "w_dq"], ["y"])]
    y_shape = None  # let ONNX Runtime infer it
    graph = helper.make_graph(
        nodes, "weights", [helper.make_tensor_value_info("x", T.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", T.FLOAT, y_shape), helper.make_tensor_value_info("w_dq", T.FLOAT, None)],
        [stored(w, to, "w_q"), numpy_helper.from_array(scale.astype(np.float32), "s")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def parse(model):
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, backend.logger(trt))
    if not parser.parse(model.SerializeToString()):
        pytest.fail("; ".join(parser.get_error(i).desc() for i in range(parser.num_errors)))
    return builder, network, parser


def oracles(model, x):
    ort = pytest.importorskip("onnxruntime")
    from onnx.reference import ReferenceEvaluator
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(["y", "w_dq"], {"x": x}), ReferenceEvaluator(model).run(["y", "w_dq"], {"x": x})


def check(model, x, w_dtype, w_values):
    (ort_y, ort_w), (onnx_y, onnx_w) = oracles(model, x)
    _, network, _ = parse(model)
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    constants = [layer for layer in layers if layer.type.name == "CONSTANT" and layer.get_output(0).dtype == w_dtype]
    assert constants, f"the parser kept no {w_dtype.name} constant"  # else nothing here is tested
    got = reference.evaluate(network, {"x": x}, outputs="all")
    # the stored weights, decoded: the very values written into the model
    raw = got[constants[0].get_output(0).name]
    assert raw.dtype == reference.numpy_dtype(w_dtype) and raw.shape == w_values.shape
    np.testing.assert_array_equal(raw.astype(np.float32), w_values.astype(np.float32))
    np.testing.assert_array_equal(got["w_dq"], onnx_w)  # dequantized: bit for bit, both oracles
    np.testing.assert_array_equal(got["w_dq"], ort_w)
    np.testing.assert_allclose(got["y"], onnx_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["y"], ort_y, rtol=1e-5, atol=1e-5)
    return got


def test_fp8_convolution_weights_per_channel():
    w = lowp.cast(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32) * 100, lowp.FP8_E4M3)
    w.reshape(-1)[:3] = lowp.cast(np.float32([448, -448, 0.001953125]), lowp.FP8_E4M3)  # extremes, a subnormal
    scale = RNG.uniform(0.001, 0.01, 4).astype(np.float32)
    model = weight_model(T.FLOAT8E4M3FN, w, scale, "Conv", (2, 3, 8, 8), axis=0)
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    got = check(model, x, trt.DataType.FP8, w)
    assert got["y"].shape == (2, 4, 6, 6)


@pytest.mark.parametrize("shape,block", [((16, 6), 8), ((32, 5), 16)], ids=["16x6", "32x5"])
def test_int4_matmul_weights_per_block(shape, block):
    w = RNG.integers(-8, 8, shape).astype(ml_dtypes.int4)
    w[0, 0], w[0, 1] = -8, 7  # both ends of the range, each nibble of one byte
    scale = RNG.uniform(0.01, 0.1, (shape[0] // block, shape[1])).astype(np.float32)
    model = weight_model(T.INT4, w, scale, "MatMul", (3, shape[0]), axis=0, block=block)
    x = RNG.standard_normal((3, shape[0])).astype(np.float32)
    got = check(model, x, trt.DataType.INT4, w)
    assert got["y"].shape == (3, shape[1])


def test_packed_values_decode_low_nibble_first_and_odd_counts():
    assert lowp.from_bytes(bytes([0x21, 0xF8, 0x07]), lowp.INT4, 5).astype(int).tolist() == [1, 2, -8, -1, 7]
    assert lowp.from_bytes(bytes([0x71, 0x0F]), lowp.FP4_E2M1, 3).astype(np.float32).tolist() == [0.5, 6.0, -6.0]
    assert lowp.from_bytes(bytes([0x7E, 0xFE]), lowp.FP8_E4M3, 2).astype(np.float32).tolist() == [448.0, -448.0]
    assert lowp.storage_bytes(lowp.INT4, 5) == 3 and lowp.storage_bytes(lowp.BF16, 5) == 10
    with pytest.raises(ValueError, match="2 bytes for 5 int4 values"):
        lowp.from_bytes(bytes(2), lowp.INT4, 5)


class _NotWeights:
    """Quacks like a Weights whose numpy() gives no array, but is no TensorRT object at all."""

    __slots__ = ()
    dtype = trt.DataType.FP8
    size = 4

    def numpy(self):
        return self


def test_weights_that_cannot_be_read_are_unsupported_not_a_crash():
    with pytest.raises(reference._Unsupported, match="FP8 weights cannot be read"):
        reference._weights(_NotWeights())


def _small_model() -> onnx.ModelProto:
    """x (N,1,8,8) -> Conv 4x3x3 -> Relu -> Flatten (N,144) -> MatMul (144,64) -> Relu -> MatMul (64,10)."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.1, (144, 64)).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(0, 0.1, (64, 10)).astype(np.float32), "w3")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "w2"], ["m"], name="fc1"),
             helper.make_node("Relu", ["m"], ["h"], name="relu2"),
             helper.make_node("MatMul", ["h", "w3"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", T.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", T.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("precision", ["fp8", "int4"])
def test_models_from_trtlab_quantize_match_onnx_runtime_and_onnx_reference(precision, tmp_path):
    from onnx.reference import ReferenceEvaluator
    ort = pytest.importorskip("onnxruntime")
    from trtlab import quantize
    source, out, calib = tmp_path / "small.onnx", tmp_path / f"small_{precision}.onnx", tmp_path / "calib.npy"
    onnx.save(_small_model(), source)
    np.save(calib, RNG.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32))
    quantize.quantize(source, out, precision, calibration=calib)
    model = onnx.load(out)
    x = RNG.uniform(0, 1, (32, 1, 8, 8)).astype(np.float32)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    want_ort = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want_onnx = ReferenceEvaluator(model).run(None, {"x": x})[0]
    _, network, _ = parse(model)
    kinds = {network.get_layer(i).get_output(0).dtype.name for i in range(network.num_layers)}
    assert {"fp8": "FP8", "int4": "INT4"}[precision] in kinds  # weights stored quantized reach the reference
    got = reference.evaluate(network, {"x": x})["y"]
    for want in (want_onnx, want_ort):  # measured: equal bit for bit, both precisions, on this machine
        if precision == "int4":  # weight-only: float activations, the same dequantized weights
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        else:  # FP8 activations: a float sum on a rounding boundary may land one E4M3 step (<= 1/8) apart
            np.testing.assert_allclose(got, want, rtol=2 ** -3, atol=1e-6)
            assert (got == want).mean() >= 0.9
        np.testing.assert_array_equal(got.argmax(1), want.argmax(1))
