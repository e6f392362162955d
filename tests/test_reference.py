"""trtlab.reference against independent implementations: naive NumPy loops and TensorFlow.

Each test defines a small network with the real TensorRT(-RTX) layer API, evaluates it on
the CPU reference and compares with a computation written differently (direct shift-and-add
convolution rather than im2col, explicit loops for pooling, tf.nn for an external anchor).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from trtlab import backend, reference
from trtlab.common import UserError

trt = backend.load()
F32 = trt.float32
RNG = np.random.default_rng(1234)


@pytest.fixture
def net():
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    yield network  # the builder stays alive while the test runs


@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow")
    return tf


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def run(network, feeds, tensor):
    """Mark ``tensor`` as the output and evaluate it on the CPU reference."""
    network.mark_output(tensor)
    return reference.evaluate(network, feeds)[tensor.name]


# ---------------------------------------------------------------- naive references


def naive_conv(x, w, b, stride, pre, post, dilation, groups):
    """Direct convolution: shift the padded input for each kernel tap and accumulate."""
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pre[0], post[0]), (pre[1], post[1])])
    oh = (xp.shape[2] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    y = np.zeros((n, k, oh, ow))
    kg = k // groups
    for g, i, j in itertools.product(range(groups), range(r), range(s)):
        top, left = i * dilation[0], j * dilation[1]
        patch = xp[:, g * cg:(g + 1) * cg, top:top + stride[0] * (oh - 1) + 1:stride[0],
                   left:left + stride[1] * (ow - 1) + 1:stride[1]]
        y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, w[g * kg:(g + 1) * kg, :, i, j])
    return y + (0 if b is None else b[None, :, None, None])


def naive_pool(x, window, stride, pre, post, kind, exclude_padding=True):
    n, c, h, w = x.shape
    oh = (h + pre[0] + post[0] - window[0]) // stride[0] + 1
    ow = (w + pre[1] + post[1] - window[1]) // stride[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        top, left = i * stride[0] - pre[0], j * stride[1] - pre[1]
        rows = slice(max(top, 0), min(top + window[0], h))
        cols = slice(max(left, 0), min(left + window[1], w))
        patch = x[:, :, rows, cols]
        if kind == "max":
            y[:, :, i, j] = patch.max(axis=(2, 3))
        else:
            count = patch.shape[2] * patch.shape[3] if exclude_padding else window[0] * window[1]
            y[:, :, i, j] = patch.sum(axis=(2, 3)) / count
    return y


# ---------------------------------------------------------------- convolution


@pytest.mark.parametrize("seed", range(6))
def test_convolution_random_parameters(net, seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3]))
    c, k = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 4))
    r, s = (int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    pre, post = tuple(int(v) for v in rng.integers(0, 3, 2)), tuple(int(v) for v in rng.integers(0, 3, 2))
    x = rand(int(rng.integers(1, 3)), c, int(rng.integers(7, 11)), int(rng.integers(7, 11)))
    w, b = rand(k, c // groups, r, s), rand(k)
    inp = net.add_input("x", F32, (-1, c, -1, -1))
    conv = net.add_convolution_nd(inp, k, (r, s), w, b if seed % 2 else None)
    conv.num_groups, conv.stride_nd, conv.dilation_nd = groups, stride, dilation
    conv.pre_padding, conv.post_padding = pre, post
    got = run(net, {"x": x}, conv.get_output(0))
    want = naive_conv(x, w, b if seed % 2 else None, stride, pre, post, dilation, groups)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_convolution_matches_tensorflow_with_dilation_and_asymmetric_padding(net, tf):
    x, w, b = rand(2, 3, 12, 11), rand(4, 3, 3, 2), rand(4)
    inp = net.add_input("x", F32, (2, 3, 12, 11))
    conv = net.add_convolution_nd(inp, 4, (3, 2), w, b)
    conv.dilation_nd, conv.pre_padding, conv.post_padding = (2, 3), (1, 0), (2, 3)
    got = run(net, {"x": x}, conv.get_output(0))
    want = tf.nn.conv2d(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), strides=1,
                        padding=[[0, 0], [1, 2], [0, 3], [0, 0]], dilations=(2, 3)).numpy()
    np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2) + b[None, :, None, None], rtol=1e-4, atol=1e-4)


def test_convolution_same_padding_matches_tensorflow(net, tf):
    x, w = rand(1, 2, 9, 10), rand(3, 2, 4, 3)
    inp = net.add_input("x", F32, (1, 2, 9, 10))
    conv = net.add_convolution_nd(inp, 3, (4, 3), w, None)
    conv.stride_nd, conv.padding_mode = (2, 3), trt.PaddingMode.SAME_UPPER
    got = run(net, {"x": x}, conv.get_output(0))
    want = tf.nn.conv2d(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), strides=(2, 3), padding="SAME").numpy()
    np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-4)


def test_convolution_3d_is_a_sum_of_2d(net):
    x, w = rand(1, 2, 4, 6, 6), rand(3, 2, 2, 3, 3)
    inp = net.add_input("x", F32, (1, 2, 4, 6, 6))
    conv = net.add_convolution_nd(inp, 3, (2, 3, 3), w, None)
    got = run(net, {"x": x}, conv.get_output(0))
    want = np.stack([sum(naive_conv(x[:, :, d + t], w[:, :, t], None, (1, 1), (0, 0), (0, 0), (1, 1), 1)
                         for t in range(2)) for d in range(3)], axis=2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- pooling


@pytest.mark.parametrize("kind,exclude", [("max", True), ("avg", True), ("avg", False)])
def test_pooling_with_padding(net, kind, exclude):
    x = rand(2, 3, 9, 8)
    inp = net.add_input("x", F32, (-1, 3, 9, 8))
    pool = net.add_pooling_nd(inp, trt.PoolingType.MAX if kind == "max" else trt.PoolingType.AVERAGE, (3, 2))
    pool.stride_nd, pool.pre_padding, pool.post_padding = (2, 2), (1, 0), (1, 1)
    pool.average_count_excludes_padding = exclude
    got = run(net, {"x": x}, pool.get_output(0))
    np.testing.assert_allclose(got, naive_pool(x, (3, 2), (2, 2), (1, 0), (1, 1), kind, exclude), rtol=1e-5, atol=1e-6)


def test_max_pooling_matches_tensorflow(net, tf):
    x = rand(2, 4, 10, 10)
    inp = net.add_input("x", F32, (2, 4, 10, 10))
    pool = net.add_pooling_nd(inp, trt.PoolingType.MAX, (2, 2))
    pool.stride_nd = (2, 2)
    want = tf.nn.max_pool2d(x.transpose(0, 2, 3, 1), 2, 2, "VALID").numpy().transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(run(net, {"x": x}, pool.get_output(0)), want)


# ---------------------------------------------------------------- activation


def _gelu_erf(x):
    import math
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel()]).reshape(x.shape)


ACTIVATIONS = {
    "RELU": lambda x, a, b: np.where(x > 0, x, 0),
    "SIGMOID": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "TANH": lambda x, a, b: np.tanh(x),
    "LEAKY_RELU": lambda x, a, b: np.where(x > 0, x, a * x),
    "ELU": lambda x, a, b: np.where(x > 0, x, a * (np.exp(x) - 1)),
    "SELU": lambda x, a, b: b * np.where(x > 0, x, a * (np.exp(x) - 1)),
    "SOFTSIGN": lambda x, a, b: x / (1 + abs(x)),
    "SOFTPLUS": lambda x, a, b: a * np.log(1 + np.exp(b * x)),
    "CLIP": lambda x, a, b: np.minimum(np.maximum(x, a), b),
    "HARD_SIGMOID": lambda x, a, b: np.maximum(0, np.minimum(1, a * x + b)),
    "SCALED_TANH": lambda x, a, b: a * np.tanh(b * x),
    "THRESHOLDED_RELU": lambda x, a, b: np.where(x > a, x, 0),
    "GELU_ERF": lambda x, a, b: _gelu_erf(x),
    "GELU_TANH": lambda x, a, b: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
}


@pytest.mark.parametrize("kind", sorted(ACTIVATIONS))
def test_activation(net, kind):
    x = rand(3, 4, 5) * 3
    inp = net.add_input("x", F32, (-1, 4, 5))
    act = net.add_activation(inp, getattr(trt.ActivationType, kind))
    act.alpha, act.beta = 0.3, 1.7
    got = run(net, {"x": x}, act.get_output(0))
    np.testing.assert_allclose(got, ACTIVATIONS[kind](x.astype(np.float64), 0.3, 1.7), rtol=1e-5, atol=1e-6)


def test_every_activation_type_of_the_backend_is_covered():
    assert set(trt.ActivationType.__members__) <= set(reference.ACTIVATIONS)


# ---------------------------------------------------------------- shuffle


def test_shuffle_transpose_reshape_with_zero_and_minus_one_transpose(net):
    x = rand(2, 3, 4, 5)
    inp = net.add_input("x", F32, (-1, 3, 4, 5))
    sh = net.add_shuffle(inp)
    sh.first_transpose = (0, 2, 1, 3)            # (2, 4, 3, 5)
    sh.reshape_dims = (0, -1, 5)                 # (2, 12, 5): 0 copies the batch
    sh.second_transpose = (2, 0, 1)              # (5, 2, 12)
    got = run(net, {"x": x}, sh.get_output(0))
    np.testing.assert_array_equal(got, x.transpose(0, 2, 1, 3).reshape(2, 12, 5).transpose(2, 0, 1))


def test_shuffle_zero_as_a_real_dimension(net):
    inp = net.add_input("x", F32, (2, 0, 3))
    sh = net.add_shuffle(inp)
    sh.zero_is_placeholder = False
    sh.reshape_dims = (3, 0, 4)
    got = run(net, {"x": np.zeros((2, 0, 3), np.float32)}, sh.get_output(0))
    assert got.shape == (3, 0, 4)


def test_shuffle_reshape_from_a_shape_tensor(net):
    x = rand(4, 6)
    inp = net.add_input("x", F32, (-1, 6))
    dims = net.add_constant((3,), np.array([2, 3, 4], dtype=np.int64))
    sh = net.add_shuffle(inp)
    sh.set_input(1, dims.get_output(0))
    np.testing.assert_array_equal(run(net, {"x": x}, sh.get_output(0)), x.reshape(2, 3, 4))


def test_shuffle_reshape_to_the_shape_of_another_tensor(net):
    x, y = rand(6, 4), rand(2, 3, 4)
    a, b = net.add_input("a", F32, (6, 4)), net.add_input("b", F32, (2, 3, 4))
    sh = net.add_shuffle(a)
    sh.set_input(1, net.add_shape(b).get_output(0))
    np.testing.assert_array_equal(run(net, {"a": x, "b": y}, sh.get_output(0)), x.reshape(2, 3, 4))


# ---------------------------------------------------------------- matrix multiply


@pytest.mark.parametrize("op0,op1", list(itertools.product(["NONE", "TRANSPOSE", "VECTOR"], repeat=2)))
def test_matrix_multiply_operations_with_batch_broadcast(net, op0, op1):
    m, k, n = 3, 4, 5
    a = {"NONE": rand(2, 1, m, k), "TRANSPOSE": rand(2, 1, k, m), "VECTOR": rand(2, 1, k)}[op0]
    b = {"NONE": rand(1, 3, k, n), "TRANSPOSE": rand(1, 3, n, k), "VECTOR": rand(1, 3, k)}[op1]
    ia, ib = net.add_input("a", F32, a.shape), net.add_input("b", F32, b.shape)
    mm = net.add_matrix_multiply(ia, getattr(trt.MatrixOperation, op0), ib, getattr(trt.MatrixOperation, op1))
    got = run(net, {"a": a, "b": b}, mm.get_output(0))
    am = a[..., None, :] if op0 == "VECTOR" else a.swapaxes(-1, -2) if op0 == "TRANSPOSE" else a
    bm = b[..., :, None] if op1 == "VECTOR" else b.swapaxes(-1, -2) if op1 == "TRANSPOSE" else b
    want = np.einsum("...ij,...jk->...ik", np.broadcast_to(am, (2, 3) + am.shape[2:]),
                     np.broadcast_to(bm, (2, 3) + bm.shape[2:]))
    if op1 == "VECTOR":
        want = want[..., 0]
    if op0 == "VECTOR":
        want = want[..., 0] if op1 == "VECTOR" else want[..., 0, :]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- elementwise and constant


ELEMENTWISE = {
    "SUM": lambda a, b: a + b, "PROD": lambda a, b: a * b, "SUB": lambda a, b: a - b,
    "DIV": lambda a, b: a / b, "MAX": np.maximum, "MIN": np.minimum,
    "POW": lambda a, b: np.abs(a) ** b, "FLOOR_DIV": lambda a, b: np.floor(a / b),
    "EQUAL": lambda a, b: a == b, "GREATER": lambda a, b: a > b, "LESS": lambda a, b: a < b,
}


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_elementwise_with_broadcasting(net, op):
    a, b = rand(2, 1, 4), rand(1, 3, 1)
    if op == "POW":
        a = np.abs(a)
    if op in ("EQUAL", "GREATER", "LESS"):  # small integers: some equal, some not
        a, b = (RNG.integers(0, 3, v.shape).astype(np.float32) for v in (a, b))
    ia = net.add_input("a", F32, (-1, 1, 4))
    cb = net.add_constant(b.shape, b)
    e = net.add_elementwise(ia, cb.get_output(0), getattr(trt.ElementWiseOperation, op))
    got = run(net, {"a": a}, e.get_output(0))
    want = ELEMENTWISE[op](a.astype(np.float64), b.astype(np.float64))
    assert got.shape == (2, 3, 4)
    if want.dtype == bool:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,want", [("DIV", [3, -3, -3, 3]), ("FLOOR_DIV", [3, -4, -4, 3])])
def test_integer_division(net, op, want):
    a = np.array([7, -7, 7, -7], np.int32)
    ia = net.add_input("a", trt.int32, (4,))
    cb = net.add_constant((4,), np.array([2, 2, -2, -2], np.int32))
    e = net.add_elementwise(ia, cb.get_output(0), getattr(trt.ElementWiseOperation, op))
    np.testing.assert_array_equal(run(net, {"a": a}, e.get_output(0)), want)


def test_logical_elementwise(net):
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    ia, ib = net.add_input("a", trt.bool, (4,)), net.add_input("b", trt.bool, (4,))
    outs = [net.add_elementwise(ia, ib, getattr(trt.ElementWiseOperation, op)).get_output(0) for op in ("AND", "OR", "XOR")]
    for t in outs:
        net.mark_output(t)
    got = list(reference.evaluate(net, {"a": a, "b": b}).values())
    np.testing.assert_array_equal(got, [a & b, a | b, a ^ b])


def test_constant_keeps_its_dtype_and_shape(net):
    w = np.arange(6, dtype=np.int64).reshape(2, 3)
    c = net.add_constant((2, 3), w)
    got = run(net, {}, c.get_output(0))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, w)


def test_lenet_against_naive_numpy():
    """The benchmark's LeNet (ONNX, parsed by TensorRT) against plain NumPy on its weights."""
    import importlib.util
    from pathlib import Path

    from onnx import numpy_helper
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_reference.py"
    spec = importlib.util.spec_from_file_location("bench_reference", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = bench.lenet_onnx(np.random.default_rng(7))
    _, network, _ = bench.parse(trt, model)
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x = RNG.random((3, 1, 28, 28), dtype=np.float32)
    every = reference.evaluate(network, {"input": x}, outputs="all")
    y = naive_conv(x, w["w1"], w["b1"], (1, 1), (0, 0), (0, 0), (1, 1), 1)
    y = naive_pool(y, (2, 2), (2, 2), (0, 0), (0, 0), "max")
    y = naive_conv(y, w["w2"], w["b2"], (1, 1), (0, 0), (0, 0), (1, 1), 1)
    y = naive_pool(y, (2, 2), (2, 2), (0, 0), (0, 0), "max").reshape(3, -1)
    y = np.maximum(y @ w["w3"] + w["b3"], 0) @ w["w4"] + w["b4"]
    np.testing.assert_allclose(every["logits"], y, rtol=1e-4, atol=1e-4)
    assert every["input"] is not None and len(every) == 1 + sum(
        network.get_layer(i).num_outputs for i in range(network.num_layers))


# ---------------------------------------------------------------- errors


def test_unsupported_layer_names_its_name_type_and_index(net, monkeypatch):
    # every layer type of TensorRT's parser is known now: take one away to see the refusal
    monkeypatch.delitem(reference.LAYERS, "GRID_SAMPLE")
    inp = net.add_input("x", F32, (1, 4))
    relu = net.add_activation(inp, trt.ActivationType.RELU)
    shuffled = net.add_shuffle(relu.get_output(0))
    shuffled.reshape_dims = (1, 1, 2, 2)
    grid = net.add_constant((1, 2, 2, 2), np.zeros((1, 2, 2, 2), np.float32))
    sample = net.add_grid_sample(shuffled.get_output(0), grid.get_output(0))
    sample.name = "my_grid_sample"
    net.mark_output(sample.get_output(0))
    with pytest.raises(reference.UnsupportedLayer) as err:
        reference.evaluate(net, {"x": rand(1, 4)})
    assert isinstance(err.value, UserError)
    message = str(err.value)
    assert "my_grid_sample" in message and "GRID_SAMPLE" in message and "layer 3" in message
    assert (err.value.layer_name, err.value.layer_type, err.value.index) == ("my_grid_sample", "GRID_SAMPLE", 3)
    assert "\n" not in message


def test_unsupported_layer_not_needed_for_the_outputs_is_skipped(net):
    inp = net.add_input("x", F32, (1, 4))
    relu = net.add_activation(inp, trt.ActivationType.RELU)
    grid = net.add_constant((1, 2, 2, 2), np.zeros((1, 2, 2, 2), np.float32))
    square = net.add_shuffle(inp)
    square.reshape_dims = (1, 1, 2, 2)
    net.add_grid_sample(square.get_output(0), grid.get_output(0))  # not marked: not needed
    x = rand(1, 4)
    np.testing.assert_array_equal(run(net, {"x": x}, relu.get_output(0)), np.maximum(x, 0))


@pytest.mark.parametrize("feeds,words", [
    ({}, ["missing", "'x'", "(-1, 3, 8)"]),
    ({"x": np.zeros((2, 3), np.float32)}, ["'x'", "(2, 3)", "(-1, 3, 8)"]),
    ({"x": np.zeros((2, 4, 8), np.float32)}, ["'x'", "(2, 4, 8)", "(-1, 3, 8)"]),
    ({"x": np.zeros((2, 3, 8), np.float32), "y": np.zeros(1)}, ["'y'", "'x'"]),
    ({"x": np.zeros((2, 3, 8), np.complex64)}, ["'x'", "complex64", "FLOAT"]),
])
def test_wrong_feeds_are_user_errors(net, feeds, words):
    inp = net.add_input("x", F32, (-1, 3, 8))
    net.mark_output(net.add_activation(inp, trt.ActivationType.RELU).get_output(0))
    with pytest.raises(UserError) as err:
        reference.evaluate(net, feeds)
    for word in words:
        assert word in str(err.value)


def test_no_marked_output_is_a_user_error(net):
    inp = net.add_input("x", F32, (2,))
    relu = net.add_activation(inp, trt.ActivationType.RELU)
    with pytest.raises(UserError, match="mark_output"):
        reference.evaluate(net, {"x": rand(2)})
    assert set(reference.evaluate(net, {"x": rand(2)}, outputs="all")) == {"x", relu.get_output(0).name}


def test_feeds_are_converted_to_the_declared_dtype(net):
    inp = net.add_input("x", F32, (2,))
    ints = net.add_input("i", trt.int32, (2,))
    net.mark_output(net.add_identity(inp).get_output(0))
    net.mark_output(net.add_identity(ints).get_output(0))
    got = list(reference.evaluate(net, {"x": [1.5, 2.0], "i": np.array([3, 4], np.int64)}).values())
    assert got[0].dtype == np.float32 and got[1].dtype == np.int32
    np.testing.assert_array_equal(got[0], [1.5, 2.0])
    with pytest.raises(UserError, match="'i'.*float64.*INT32"):
        reference.evaluate(net, {"x": [1.5, 2.0], "i": np.array([3.5, 4])})


def test_unknown_output_name(net):
    inp = net.add_input("x", F32, (2,))
    net.add_activation(inp, trt.ActivationType.RELU)
    with pytest.raises(UserError, match="nope"):
        reference.evaluate(net, {"x": rand(2)}, outputs=["nope"])


def test_networks_like_these_build_with_tensorrt():
    """The layer settings used above make a network TensorRT accepts: build a plan from one."""
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    inp = network.add_input("x", F32, (1, 2, 9, 8))
    conv = network.add_convolution_nd(inp, 4, (3, 3), rand(4, 1, 3, 3), rand(4))
    conv.num_groups, conv.dilation_nd, conv.pre_padding, conv.post_padding = 2, (2, 1), (1, 0), (2, 1)
    pool = network.add_pooling_nd(conv.get_output(0), trt.PoolingType.AVERAGE, (2, 2))
    pool.stride_nd = (2, 2)
    sh = network.add_shuffle(pool.get_output(0))
    sh.first_transpose, sh.reshape_dims = (0, 2, 3, 1), (0, -1)
    w = network.add_constant((sh.get_output(0).shape[1], 3), rand(sh.get_output(0).shape[1], 3))
    mm = network.add_matrix_multiply(sh.get_output(0), trt.MatrixOperation.NONE, w.get_output(0), trt.MatrixOperation.NONE)
    out = network.add_softmax(mm.get_output(0))
    out.axes = 1 << 1
    network.mark_output(out.get_output(0))
    x = rand(1, 2, 9, 8)
    got = reference.evaluate(network, {"x": x})[out.get_output(0).name]
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)
    config = builder.create_builder_config()
    plan = builder.build_serialized_network(network, config)
    assert plan is not None and plan.nbytes > 0


# ---------------------------------------------------------------- the other layers


def test_dynamic_dims_come_from_the_feeds(net):
    inp = net.add_input("x", F32, (-1, 3, -1))
    sh = net.add_shuffle(inp)
    sh.reshape_dims = (0, -1)
    for shape in [(1, 3, 2), (5, 3, 7)]:
        x = rand(*shape)
        np.testing.assert_array_equal(reference.evaluate(net, {"x": x}, outputs=[sh.get_output(0).name])[
            sh.get_output(0).name], x.reshape(shape[0], -1))


def test_float16_network_stays_float16(net):
    x = rand(2, 3, 6, 6, dtype=np.float16)
    w = rand(4, 3, 3, 3, dtype=np.float16)
    inp = net.add_input("x", trt.float16, (-1, 3, 6, 6))
    conv = net.add_convolution_nd(inp, 4, (3, 3), w, None)
    got = run(net, {"x": x}, conv.get_output(0))
    assert got.dtype == np.float16
    want = naive_conv(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (0, 0), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("axes", [0b10, 0b100, 0b1000])
def test_softmax_axes(net, axes):
    x = rand(2, 3, 4, 5) * 5
    inp = net.add_input("x", F32, x.shape)
    sm = net.add_softmax(inp)
    sm.axes = axes
    axis = axes.bit_length() - 1
    e = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(run(net, {"x": x}, sm.get_output(0)), e / e.sum(axis=axis, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("op,keep", [("SUM", True), ("PROD", False), ("MAX", False), ("MIN", True), ("AVG", False)])
def test_reduce(net, op, keep):
    x = rand(2, 3, 4, 5)
    inp = net.add_input("x", F32, x.shape)
    red = net.add_reduce(inp, getattr(trt.ReduceOperation, op), 0b1010, keep)
    fn = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min, "AVG": np.mean}[op]
    want = fn(x.astype(np.float64), axis=(1, 3), keepdims=keep)
    np.testing.assert_allclose(run(net, {"x": x}, red.get_output(0)), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["UNIFORM", "CHANNEL", "ELEMENTWISE"])
def test_scale_modes(net, mode):
    x = np.abs(rand(2, 3, 4, 5)) + 0.1
    shape = {"UNIFORM": (1,), "CHANNEL": (3,), "ELEMENTWISE": (3, 4, 5)}[mode]
    scale, shift, power = rand(*shape), rand(*shape), np.full(shape, 2.0, np.float32)
    inp = net.add_input("x", F32, x.shape)
    sc = net.add_scale(inp, getattr(trt.ScaleMode, mode), shift, scale, power)
    bshape = {"UNIFORM": (1,), "CHANNEL": (3, 1, 1), "ELEMENTWISE": (3, 4, 5)}[mode]
    want = (x * scale.reshape(bshape) + shift.reshape(bshape)) ** 2
    np.testing.assert_allclose(run(net, {"x": x}, sc.get_output(0)), want, rtol=1e-5)


def test_scale_shift_only_on_another_channel_axis(net):
    x, shift = rand(2, 4, 3), rand(3)
    inp = net.add_input("x", F32, x.shape)
    sc = net.add_scale_nd(inp, trt.ScaleMode.CHANNEL, shift, None, None, 2)
    np.testing.assert_allclose(run(net, {"x": x}, sc.get_output(0)), x + shift, rtol=1e-6)


UNARY = {
    "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RECIP": lambda x: 1 / x, "ABS": abs, "NEG": lambda x: -x,
    "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "SINH": np.sinh, "COSH": np.cosh, "ASIN": np.arcsin,
    "ACOS": np.arccos, "ATAN": np.arctan, "ASINH": np.arcsinh, "ACOSH": np.arccosh, "ATANH": np.arctanh,
    "CEIL": np.ceil, "FLOOR": np.floor, "SIGN": np.sign, "ROUND": np.round,
    "ERF": lambda x: np.vectorize(__import__("math").erf)(x),
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary(net, op):
    x = RNG.uniform(0.05, 0.95, (3, 4)).astype(np.float32)
    if op == "ACOSH":
        x = x + 1
    if op in ("ROUND", "CEIL", "FLOOR", "SIGN", "NEG", "ABS"):
        x = np.array([[-2.5, -1.5, -0.4, 0.0], [0.5, 1.5, 2.5, 3.7]], np.float32)
    inp = net.add_input("x", F32, x.shape)
    u = net.add_unary(inp, getattr(trt.UnaryOperation, op))
    np.testing.assert_allclose(run(net, {"x": x}, u.get_output(0)), UNARY[op](x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_unary_bool_results(net):
    x = np.array([1.0, np.inf, np.nan, -np.inf], np.float32)
    inp = net.add_input("x", F32, (4,))
    outs = {op: net.add_unary(inp, getattr(trt.UnaryOperation, op)).get_output(0) for op in ("ISINF", "ISNAN")}
    nt = net.add_unary(outs["ISNAN"], trt.UnaryOperation.NOT).get_output(0)
    got = reference.evaluate(net, {"x": x}, outputs=[outs["ISINF"].name, outs["ISNAN"].name, nt.name])
    np.testing.assert_array_equal(list(got.values()), [np.isinf(x), np.isnan(x), ~np.isnan(x)])


def test_cast_identity_and_shape(net):
    x = np.array([[-1.7, 0.2, 2.9]], np.float32)
    inp = net.add_input("x", F32, (-1, 3))
    cast = net.add_cast(inp, trt.int32).get_output(0)
    half = net.add_cast(inp, trt.float16).get_output(0)
    ident = net.add_identity(inp).get_output(0)
    shp = net.add_shape(inp).get_output(0)
    got = reference.evaluate(net, {"x": x}, outputs=[cast.name, half.name, ident.name, shp.name])
    assert got[cast.name].dtype == np.int32 and got[half.name].dtype == np.float16
    np.testing.assert_array_equal(got[cast.name], [[-1, 0, 2]])
    np.testing.assert_array_equal(got[half.name], x.astype(np.float16))
    np.testing.assert_array_equal(got[ident.name], x)
    np.testing.assert_array_equal(got[shp.name], [1, 3])
    assert got[shp.name].dtype == np.int64


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concatenation(net, axis):
    arrays = [rand(*[2 + i if a == axis else 3 for a in range(3)]) for i in range(3)]
    inputs = [net.add_input(f"x{i}", F32, a.shape) for i, a in enumerate(arrays)]
    cat = net.add_concatenation(inputs)
    cat.axis = axis
    got = run(net, {f"x{i}": a for i, a in enumerate(arrays)}, cat.get_output(0))
    np.testing.assert_array_equal(got, np.concatenate(arrays, axis))


def test_slice_static_and_strided(net):
    x = rand(4, 6, 8)
    inp = net.add_input("x", F32, x.shape)
    sl = net.add_slice(inp, (1, 0, 7), (2, 3, 4), (2, 2, -2))
    np.testing.assert_array_equal(run(net, {"x": x}, sl.get_output(0)), x[1:4:2, 0:6:2, 7::-2])


@pytest.mark.parametrize("mode", ["WRAP", "CLAMP", "FILL", "REFLECT"])
def test_slice_modes_outside_the_input(net, mode):
    x = np.arange(5, dtype=np.float32).reshape(1, 5)
    inp = net.add_input("x", F32, x.shape)
    sl = net.add_slice(inp, (0, -3), (1, 11), (1, 1))
    sl.mode = getattr(trt.SampleMode, mode)
    if mode == "FILL":
        sl.set_input(4, net.add_constant((), np.array(9.0, np.float32)).get_output(0))
    got = run(net, {"x": x}, sl.get_output(0))
    want = {"WRAP": [2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2], "CLAMP": [0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4],
            "FILL": [9, 9, 9, 0, 1, 2, 3, 4, 9, 9, 9], "REFLECT": [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]}[mode]
    np.testing.assert_array_equal(got, [want])


def test_slice_dynamic_start_size_stride_and_axes(net):
    x = rand(3, 8, 5)
    inp = net.add_input("x", F32, (-1, 8, 5))
    sl = net.add_slice(inp, (0,), (0,), (0,))
    for i, v in [(1, [1]), (2, [3]), (3, [2])]:
        sl.set_input(i, net.add_constant((1,), np.array(v, np.int64)).get_output(0))
    sl.set_input(5, net.add_constant((1,), np.array([1], np.int64)).get_output(0))
    np.testing.assert_array_equal(run(net, {"x": x}, sl.get_output(0)), x[:, 1:7:2])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_default(net, axis):
    x, index = rand(3, 4, 5), np.array([[2, 0], [1, 1]], np.int32)
    inp = net.add_input("x", F32, x.shape)
    g = net.add_gather(inp, net.add_constant(index.shape, index).get_output(0), axis)
    np.testing.assert_array_equal(run(net, {"x": x}, g.get_output(0)), np.take(x, index, axis))


def test_gather_element_and_nd(net):
    x = rand(3, 4)
    e_index = RNG.integers(0, 3, (2, 4)).astype(np.int32)
    nd_index = np.array([[0, 1], [2, 3]], np.int32)
    inp = net.add_input("x", F32, x.shape)
    e = net.add_gather_v2(inp, net.add_constant(e_index.shape, e_index).get_output(0), trt.GatherMode.ELEMENT)
    e.axis = 0
    nd = net.add_gather_v2(inp, net.add_constant(nd_index.shape, nd_index).get_output(0), trt.GatherMode.ND)
    got = reference.evaluate(net, {"x": x}, outputs=[e.get_output(0).name, nd.get_output(0).name])
    np.testing.assert_array_equal(got[e.get_output(0).name], [[x[i, j] for j, i in enumerate(r)] for r in e_index])
    np.testing.assert_array_equal(got[nd.get_output(0).name], [x[0, 1], x[2, 3]])


def naive_deconv(x, w, stride, pre, post, groups):
    n, c, h, wd = x.shape
    _, kg, r, s = w.shape
    y = np.zeros((n, kg * groups, (h - 1) * stride[0] + r, (wd - 1) * stride[1] + s))
    cg = c // groups
    for ci, i, j in itertools.product(range(c), range(h), range(wd)):
        g = ci // cg
        y[:, g * kg:(g + 1) * kg, i * stride[0]:i * stride[0] + r, j * stride[1]:j * stride[1] + s] += (
            x[:, ci, i, j][:, None, None, None] * w[ci][None])
    return y[:, :, pre[0]:y.shape[2] - post[0], pre[1]:y.shape[3] - post[1]]


def test_deconvolution(net):
    x, w, b = rand(2, 4, 3, 4), rand(4, 3, 3, 2), rand(6)
    inp = net.add_input("x", F32, x.shape)
    de = net.add_deconvolution_nd(inp, 6, (3, 2), w, b)
    de.num_groups, de.stride_nd, de.pre_padding, de.post_padding = 2, (2, 3), (1, 0), (0, 1)
    want = naive_deconv(x, w, (2, 3), (1, 0), (0, 1), 2) + b[None, :, None, None]
    np.testing.assert_allclose(run(net, {"x": x}, de.get_output(0)), want, rtol=1e-5, atol=1e-5)


def test_padding_pads_and_crops(net):
    x = rand(1, 2, 4, 5)
    inp = net.add_input("x", F32, x.shape)
    pad = net.add_padding_nd(inp, (1, -1), (2, 0))
    np.testing.assert_array_equal(run(net, {"x": x}, pad.get_output(0)), np.pad(x, [(0, 0)] * 2 + [(1, 2), (0, 0)])[..., 1:])


def test_select_prelu_squeeze_unsqueeze_einsum(net):
    a, b = rand(2, 1, 3), rand(2, 1, 3)
    ia, ib = net.add_input("a", F32, a.shape), net.add_input("b", F32, b.shape)
    cond = net.add_elementwise(ia, ib, trt.ElementWiseOperation.GREATER).get_output(0)
    sel = net.add_select(cond, ia, ib).get_output(0)
    slope = net.add_constant((1, 1, 3), np.array([[[0.1, 0.2, 0.3]]], np.float32)).get_output(0)
    prelu = net.add_parametric_relu(ia, slope).get_output(0)
    axes = net.add_constant((1,), np.array([1], np.int64)).get_output(0)
    sq = net.add_squeeze(ia, axes).get_output(0)
    unsq = net.add_unsqueeze(sq, net.add_constant((1,), np.array([-1], np.int64)).get_output(0)).get_output(0)
    ein = net.add_einsum([sq, sq], "ij,kj->ik").get_output(0)
    got = reference.evaluate(net, {"a": a, "b": b}, outputs=[sel.name, prelu.name, sq.name, unsq.name, ein.name])
    np.testing.assert_array_equal(got[sel.name], np.maximum(a, b))
    np.testing.assert_allclose(got[prelu.name], np.where(a > 0, a, a * [0.1, 0.2, 0.3]), rtol=1e-6)
    np.testing.assert_array_equal(got[sq.name], a[:, 0])
    np.testing.assert_array_equal(got[unsq.name], a[:, 0, :, None])
    np.testing.assert_allclose(got[ein.name], a[:, 0] @ a[:, 0].T, rtol=1e-5)


def test_topk_values_and_indices(net):
    x = rand(3, 6)
    inp = net.add_input("x", F32, x.shape)
    tk = net.add_topk(inp, trt.TopKOperation.MAX, 2, 0b10)
    got = reference.evaluate(net, {"x": x}, outputs=[tk.get_output(0).name, tk.get_output(1).name])
    order = np.argsort(-x, axis=1)[:, :2]
    np.testing.assert_array_equal(got[tk.get_output(1).name], order)
    np.testing.assert_array_equal(got[tk.get_output(0).name], np.take_along_axis(x, order, 1))


def test_normalization_as_layer_norm(net):
    x, gamma, beta = rand(2, 3, 4), rand(1, 1, 4), rand(1, 1, 4)
    inp = net.add_input("x", F32, x.shape)
    g, b = net.add_constant(gamma.shape, gamma).get_output(0), net.add_constant(beta.shape, beta).get_output(0)
    norm = net.add_normalization(inp, g, b, 0b100)
    norm.epsilon = 1e-5
    xd = x.astype(np.float64)
    want = (xd - xd.mean(-1, keepdims=True)) / np.sqrt(xd.var(-1, keepdims=True) + 1e-5) * gamma + beta
    np.testing.assert_allclose(run(net, {"x": x}, norm.get_output(0)), want, rtol=1e-4, atol=1e-5)


def test_cumulative_one_hot_non_zero_scatter(net):
    x = np.array([[1, 0, 2], [0, 3, 0]], np.float32)
    inp = net.add_input("x", F32, x.shape)
    axis = net.add_constant((), np.array(1, np.int32)).get_output(0)
    cum = net.add_cumulative(inp, axis, trt.CumulativeOperation.SUM, True, True).get_output(0)
    index = net.add_constant((3,), np.array([0, 2, -1], np.int32)).get_output(0)
    onoff = net.add_constant((2,), np.array([0.0, 5.0], np.float32)).get_output(0)
    depth = net.add_constant((), np.array(4, np.int32)).get_output(0)
    hot = net.add_one_hot(index, onoff, depth, -1).get_output(0)
    nz = net.add_non_zero(inp).get_output(0)
    sc_index = net.add_constant((1, 1), np.array([[1]], np.int32)).get_output(0)
    updates = net.add_constant((1, 3), np.array([[7, 8, 9]], np.float32)).get_output(0)
    sc = net.add_scatter(inp, sc_index, updates, trt.ScatterMode.ND).get_output(0)
    got = reference.evaluate(net, {"x": x}, outputs=[cum.name, hot.name, nz.name, sc.name])
    np.testing.assert_array_equal(got[cum.name], [[2, 2, 0], [3, 0, 0]])  # exclusive, reversed
    np.testing.assert_array_equal(got[hot.name], [[5, 0, 0, 0], [0, 0, 5, 0], [0, 0, 0, 5]])
    np.testing.assert_array_equal(got[nz.name], [[0, 0, 1], [0, 2, 1]])
    np.testing.assert_array_equal(got[sc.name], [[1, 0, 2], [7, 8, 9]])


def test_lrn_matches_tensorflow(net, tf):
    x = rand(2, 7, 3, 3)
    inp = net.add_input("x", F32, x.shape)
    lrn = net.add_lrn(inp, 5, 1e-2, 0.75, 2.0)
    want = tf.nn.local_response_normalization(x.transpose(0, 2, 3, 1), depth_radius=2, bias=2.0,
                                               alpha=1e-2 / 5, beta=0.75).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(run(net, {"x": x}, lrn.get_output(0)), want, rtol=1e-5)


# ---------------------------------------------------------------- ONNX models parsed by TensorRT vs onnxruntime


def _parsed(model):
    builder = trt.Builder(backend.logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, backend.logger(trt))
    assert parser.parse(model.SerializeToString()), [str(parser.get_error(i)) for i in range(parser.num_errors)]
    return builder, parser, network


def _onnx(nodes, inputs, outputs, initializers, opset=17):
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_parsed_onnx_model_matches_onnxruntime():
    """What the ONNX parser makes of Conv, BatchNorm, pools (ceil mode, padding counted), Gemm,
    shape arithmetic (Shape/Gather/Concat/Reshape), Slice and ConvTranspose."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import helper
    x = rand(3, 4, 11, 10)
    c = dict(w1=rand(6, 2, 3, 3) * 0.3, b1=rand(6), s=np.abs(rand(6)) + 0.5, bb=rand(6), m=rand(6),
             v=np.abs(rand(6)) + 0.5, wf=rand(7, 36) * 0.3, bf=rand(7), zero=np.array(0), ax0=np.array([0]),
             m1=np.array([-1]), st=np.array([1]), en=np.array([9]), axs=np.array([1]), stp=np.array([3]),
             wt=rand(6, 3, 3, 3) * 0.3)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2], group=2),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("AveragePool", ["r1"], ["p1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], count_include_pad=1),
        helper.make_node("MaxPool", ["p1"], ["p2"], kernel_shape=[2, 2], strides=[1, 1], ceil_mode=1),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["g"], transB=1),
        helper.make_node("LeakyRelu", ["g"], ["lr"], alpha=0.2),
        helper.make_node("Softmax", ["lr"], ["y"], axis=-1),
        helper.make_node("ReduceMean", ["lr"], ["rm"], keepdims=1),
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "zero"], ["n0"], axis=0),
        helper.make_node("Unsqueeze", ["n0", "ax0"], ["n1"]),
        helper.make_node("Concat", ["n1", "m1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["lr", "newshape"], ["rs"]),
        helper.make_node("Sigmoid", ["rs"], ["sg"]),
        helper.make_node("Slice", ["sg", "st", "en", "axs", "stp"], ["sl"]),
        helper.make_node("ConvTranspose", ["p1", "wt"], ["ct"], strides=[2, 2], pads=[0, 1, 1, 0]),
    ]
    outputs = ["y", "rm", "sl", "ct", "p2"]
    model = _onnx(nodes, [("x", ["N", 4, 11, 10])], outputs, c)
    want = ort.InferenceSession(model.SerializeToString()).run(outputs, {"x": x})
    _, _, network = _parsed(model)
    got = reference.evaluate(network, {"x": x})
    for name, w in zip(outputs, want):
        np.testing.assert_allclose(got[name], w, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("mode,transform,sizes", [
    ("nearest", "asymmetric", False), ("nearest", "half_pixel", True), ("linear", "half_pixel", False),
    ("linear", "align_corners", True), ("cubic", "half_pixel", False), ("cubic", "asymmetric", True),
])
def test_parsed_resize_matches_onnxruntime(mode, transform, sizes):
    ort = pytest.importorskip("onnxruntime")
    from onnx import helper
    x = rand(2, 3, 5, 4)
    attrs = dict(mode=mode, coordinate_transformation_mode=transform)
    if sizes:
        node, init = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attrs), {"sizes": np.array([2, 3, 3, 7])}
    else:
        node, init = helper.make_node("Resize", ["x", "", "scales"], ["y"], **attrs), {"scales": np.array([1, 1, 2, 1.5], np.float32)}
    model = _onnx([node], [("x", list(x.shape))], ["y"], init, opset=13)
    want = ort.InferenceSession(model.SerializeToString()).run(["y"], {"x": x})[0]
    _, _, network = _parsed(model)
    np.testing.assert_allclose(reference.evaluate(network, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)


def _onnx_cases():
    from onnx import TensorProto, helper, numpy_helper
    n = helper.make_node
    x = rand(2, 3, 4, 5)
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    return {  # name: (nodes, initializers, feeds, opset)
        "Range": ([n("Shape", ["x"], ["s"]), n("Gather", ["s", "k"], ["e"], axis=0), n("Range", ["z", "e", "o"], ["r"]),
                   n("Cast", ["r"], ["y"], to=TensorProto.FLOAT)], dict(k=np.array(3), z=np.array(0), o=np.array(2)), x, 18),
        "Expand": ([n("Expand", ["x", "s"], ["y"])], dict(s=i64(2, 3, 4, 5)), rand(1, 3, 1, 5), 18),
        "Tile": ([n("Tile", ["x", "r"], ["y"])], dict(r=i64(1, 2, 1, 3)), x, 18),
        "PadReflect": ([n("Pad", ["x", "p"], ["y"], mode="reflect")], dict(p=i64(0, 0, 1, 2, 0, 0, 2, 1)), x, 18),
        "PadEdge": ([n("Pad", ["x", "p"], ["y"], mode="edge")], dict(p=i64(0, 0, 1, 2, 0, 0, 2, 1)), x, 18),
        "PadConstant": ([n("Pad", ["x", "p", "v"], ["y"])], dict(p=i64(0, 1, 0, 2, 0, 0, 2, 1), v=np.array(3.0, np.float32)), x, 18),
        "Where": ([n("Greater", ["x", "t"], ["c"]), n("Where", ["c", "x", "t"], ["y"])], dict(t=np.array([0.1], np.float32)), x, 18),
        "ArgMax": ([n("ArgMax", ["x"], ["a"], axis=2), n("Cast", ["a"], ["y"], to=TensorProto.FLOAT)], {}, x, 18),
        "LayerNormalization": ([n("LayerNormalization", ["x", "g", "b"], ["y"], axis=-2)], dict(g=rand(4, 5), b=rand(4, 5)), x, 18),
        "InstanceNormalization": ([n("InstanceNormalization", ["x", "g", "b"], ["y"])], dict(g=rand(3), b=rand(3)), x, 18),
        "GroupNormalization": ([n("GroupNormalization", ["x", "g", "b"], ["y"], num_groups=3)], dict(g=rand(6), b=rand(6)),
                               rand(2, 6, 4, 5), 21),
        "CumSum": ([n("CumSum", ["x", "a"], ["y"], exclusive=1)], dict(a=np.array(2)), x, 18),
        "DepthToSpace": ([n("DepthToSpace", ["x"], ["y"], blocksize=2)], {}, rand(2, 8, 3, 4), 18),
        "Split": ([n("Split", ["x", "s"], ["y", "y2"], axis=3)], dict(s=i64(2, 3)), x, 18),
        "TopK": ([n("TopK", ["x", "k"], ["y", "i"], largest=0)], dict(k=i64(3)), x, 18),
        "LogSoftmax": ([n("LogSoftmax", ["x"], ["y"], axis=1)], {}, x, 18),
        "PRelu": ([n("PRelu", ["x", "s"], ["y"])], dict(s=rand(3, 1, 1)), x, 18),
        "GlobalAveragePool": ([n("GlobalAveragePool", ["x"], ["y"])], {}, x, 18),
        "Mod": ([n("Mod", ["x", "m"], ["y"], fmod=1)], dict(m=np.array([0.7], np.float32)), x, 18),
        "Gelu": ([n("Gelu", ["x"], ["y"], approximate="tanh")], {}, x, 20),
        "ConstantOfShape": ([n("Shape", ["x"], ["s"]), n("ConstantOfShape", ["s"], ["c"],
                             value=numpy_helper.from_array(np.array([2.5], np.float32))), n("Add", ["x", "c"], ["y"])], {}, x, 18),
        "MaxPool3d": ([n("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 3], strides=[1, 2, 1], pads=[0, 1, 1, 1, 0, 1])], {},
                      rand(1, 2, 4, 5, 6), 18),
        "AveragePoolCeil": ([n("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], {}, x, 18),
        "Conv1d": ([n("Conv", ["x", "w"], ["y"], pads=[2, 1], strides=[2], dilations=[2])], dict(w=rand(4, 3, 3)), rand(2, 3, 11), 18),
        "DepthwiseSameUpper": ([n("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2], group=3)],
                               dict(w=rand(3, 1, 3, 3)), x, 18),
        "IntegerDiv": ([n("Cast", ["x"], ["i"], to=TensorProto.INT32), n("Div", ["i", "d"], ["q"]),
                        n("Cast", ["q"], ["y"], to=TensorProto.FLOAT)], dict(d=np.array([3], np.int32)), x * 10, 18),
        "GatherND": ([n("GatherND", ["x", "i"], ["y"], batch_dims=1)], dict(i=i64(0, 1, 2, 3, 1, 0, 0, 0).reshape(2, 2, 2)), x, 18),
        "QuantizeDequantize": ([n("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1), n("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
                               dict(s=np.array([0.02, 0.05, 0.1], np.float32), z=np.zeros(3, np.int8)), x * 3, 19),
        "ScatterElements": ([n("ScatterElements", ["x", "i", "u"], ["y"], axis=1)],
                            dict(i=RNG.integers(0, 3, (2, 1, 4, 5)), u=rand(2, 1, 4, 5)), x, 18),
    }


@pytest.mark.parametrize("case", sorted(_onnx_cases()))
def test_parsed_onnx_operator_matches_onnxruntime(case):
    ort = pytest.importorskip("onnxruntime")
    nodes, initializers, x, opset = _onnx_cases()[case]
    model = _onnx(nodes, [("x", list(x.shape))], [nodes[-1].output[0]], initializers, opset=opset)
    want = ort.InferenceSession(model.SerializeToString()).run(["y"], {"x": x})[0]
    _, _, network = _parsed(model)
    np.testing.assert_allclose(reference.evaluate(network, {"x": x})["y"], want, rtol=1e-5, atol=2e-6)


def test_slice_outside_the_input_is_a_user_error(net):
    inp = net.add_input("x", F32, (-1, 4))
    sl = net.add_slice(inp, (0, 2), (1, 3), (1, 1))
    sl.name = "tail"
    with pytest.raises(UserError, match=r"layer 0 'tail' \(SLICE\).*outside.*\(2, 4\)"):
        run(net, {"x": rand(2, 4)}, sl.get_output(0))
