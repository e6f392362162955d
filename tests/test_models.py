"""trtlab.models and trtlab.lenet: the LeNet, its weights in TensorRT's layouts, the frozen
graph with the guide's node names, the cached ONNX file."""
from __future__ import annotations

import numpy as np
import pytest

from trtlab import backend, convert, lenet as trtlab_network, models, reference

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def untrained():
    """A LeNet with random (seeded) weights: layout tests need no training."""
    keras = models._keras()
    keras.utils.set_random_seed(1)
    return models.build_lenet()


@pytest.fixture(scope="module")
def images():
    return RNG.random((16, 28, 28, 1), dtype=np.float32)


def test_build_lenet_shapes(untrained):
    shapes = {layer.name: tuple(layer.output.shape) for layer in untrained.layers}
    assert shapes == {"conv1": (None, 24, 24, 20), "pool1": (None, 12, 12, 20), "conv2": (None, 8, 8, 50),
                      "pool2": (None, 4, 4, 50), "flatten": (None, 800), "fc1": (None, 500), "fc2": (None, 10)}
    assert untrained.get_layer("fc2").activation.__name__ == "linear"  # logits, no softmax/ReLU


def test_weights_layouts(untrained):
    w = models.lenet_weights(untrained)
    assert {k: v.shape for k, v in w.items()} == {
        "conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,), "conv2.weight": (50, 20, 5, 5), "conv2.bias": (50,),
        "fc1.weight": (500, 800), "fc1.bias": (500,), "fc2.weight": (10, 500), "fc2.bias": (10,)}
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in w.values())
    kernel = untrained.get_layer("conv2").get_weights()[0]  # HWIO
    k, c, r, s = 7, 13, 1, 4
    assert w["conv2.weight"][k, c, r, s] == kernel[r, s, c, k]  # KCRS
    fc1 = untrained.get_layer("fc1").get_weights()[0]           # (800, 500), rows (h, w, c)
    out, ch, h, x = 42, 31, 2, 3
    assert w["fc1.weight"][out, (ch * 4 + h) * 4 + x] == fc1[(h * 4 + x) * 50 + ch, out]  # NCHW flatten order
    np.testing.assert_array_equal(w["fc2.weight"], untrained.get_layer("fc2").get_weights()[0].T)


def test_fc1_permutation_matches_keras_numerically(untrained, images):
    """pool2's NHWC output, transposed to NCHW and flattened, times fc1.weightᵀ = Keras's fc1."""
    keras = models._keras()
    probe = keras.Model(untrained.inputs, [untrained.get_layer("pool2").output, untrained.get_layer("fc1").output])
    pool2, fc1 = (np.asarray(a) for a in probe.predict(images, verbose=0))
    w = models.lenet_weights(untrained)
    ours = np.maximum(pool2.transpose(0, 3, 1, 2).reshape(len(images), -1) @ w["fc1.weight"].T + w["fc1.bias"], 0)
    np.testing.assert_allclose(ours, fc1, atol=1e-5)


def test_populate_lenet_matches_keras(untrained, images):
    trt = backend.load()
    weights = models.lenet_weights(untrained)
    builder, network = trtlab_network.lenet_network(weights, trt)
    assert (network.num_inputs, network.num_outputs) == (1, 1)
    x = network.get_input(0)
    assert (x.name, tuple(x.shape)) == ("input", (-1, 1, 28, 28))
    out = network.get_output(0)
    assert (out.name, tuple(out.shape)) == ("logits", (-1, 10))
    types = [network.get_layer(i).type.name for i in range(network.num_layers)]
    assert types.count("CONVOLUTION") == 2 and types.count("POOLING") == 2
    assert types.count("MATRIX_MULTIPLY") == 2 and "ACTIVATION" in types
    got = reference.evaluate(network, {"input": np.ascontiguousarray(images.transpose(0, 3, 1, 2))})["logits"]
    np.testing.assert_allclose(got, models.tf_logits(untrained, images), atol=1e-4)


def test_wrong_flatten_order_is_caught(untrained, images):
    trt = backend.load()
    weights = models.lenet_weights(untrained)
    weights["fc1.weight"] = np.ascontiguousarray(untrained.get_layer("fc1").get_weights()[0].T)
    builder, network = trtlab_network.lenet_network(weights, trt)
    got = reference.evaluate(network, {"input": np.ascontiguousarray(images.transpose(0, 3, 1, 2))})["logits"]
    assert np.max(np.abs(got - models.tf_logits(untrained, images))) > 1e-3


def test_frozen_graph_has_the_guides_names(untrained, images, tmp_path):
    tf = models.import_tensorflow()
    path = models.freeze(untrained, tmp_path / "lenet.pb")
    graph_def = convert.read_graph_def(path)
    nodes = {n.name: n.op for n in graph_def.node}
    assert nodes["Placeholder"] == "Placeholder"
    assert nodes["logits"] == "Identity" and "fc2/Relu" not in nodes  # named for what it holds
    assert "Identity" not in nodes  # tf.function's own return node (named Identity) pruned
    assert convert.graph_ends(graph_def) == (["Placeholder:0"], ["logits:0"])
    # the frozen graph computes what the model computes
    fn = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    run = fn.prune(fn.graph.get_tensor_by_name("Placeholder:0"), fn.graph.get_tensor_by_name("logits:0"))
    np.testing.assert_allclose(run(tf.constant(images)).numpy(), models.tf_logits(untrained, images), atol=1e-5)


def test_trained_lenet_accuracy_and_cache(shared_artifacts):
    """Trains once per test session (shared with the notebook tests, which reuse the cache)."""
    model = models.trained_lenet(artifacts=shared_artifacts)
    info = models.training_info(shared_artifacts)
    if info:  # trained by this session (or an earlier one in the same folder)
        assert info["test_accuracy"] >= 0.97, info
        assert info["train_seconds"] < 120
    assert (shared_artifacts / "lenet.keras").exists()
    from trtlab.data import load_mnist

    ds = load_mnist()
    accuracy = float(np.mean(models.tf_logits(model, ds.x_test).argmax(axis=1) == ds.y_test))
    assert accuracy >= 0.97
    again = models.trained_lenet(artifacts=shared_artifacts)  # from the cache: same weights
    np.testing.assert_array_equal(again.get_layer("fc2").get_weights()[0], model.get_layer("fc2").get_weights()[0])


def test_lenet_onnx(shared_artifacts):
    import onnx
    import onnxruntime as ort

    path = models.lenet_onnx(shared_artifacts)
    assert path == shared_artifacts / "lenet.onnx"
    graph = onnx.load(str(path)).graph
    [inp], [out] = graph.input, graph.output
    dims = [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "Placeholder:0" and dims[1:] == [1, 28, 28] and isinstance(dims[0], str)
    assert out.name == "logits:0" and out.type.tensor_type.shape.dim[1].dim_value == 10
    model = models.trained_lenet(artifacts=shared_artifacts)
    x = RNG.random((8, 28, 28, 1), dtype=np.float32)
    got = ort.InferenceSession(str(path)).run(None, {"Placeholder:0": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]
    np.testing.assert_allclose(got, models.tf_logits(model, x), atol=1e-4)
    mtime = path.stat().st_mtime_ns
    assert models.lenet_onnx(shared_artifacts) == path and path.stat().st_mtime_ns == mtime  # cached
