"""LeNet in a TensorRT network definition, layer by layer (the guide's 3.2.1, on today's API).

(This module was ``trtlab.network``; renamed so it no longer shadows the ``network`` variable
every sample uses.)

    builder = trt.Builder(trtlab.backend.logger(trt))
    network = compat.create_network(builder, trt)            # explicit batch, strongly typed everywhere
    logits = populate_lenet(network, models.lenet_weights(model), trt)

Notebook 02 writes these calls out in its own cells; this helper exists so later chapters can
make the same network in one line. Weights come in TensorRT's layouts (see
``trtlab.models.lenet_weights``): convolution kernels K×C×R×S, fully connected weights out×in,
fc1's inputs in NCHW-flatten order.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from . import backend, compat

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
INPUT_SHAPE = (-1, 1, 28, 28)  # N (dynamic: chosen by the optimization profile) x C x H x W
OUTPUT_SIZE = 10


def fully_connected(network: Any, x: Any, weight: np.ndarray, bias: np.ndarray, name: str, trt: ModuleType) -> Any:
    """``y = x · weightᵀ + bias`` for x of shape (N, in) or (N, C, H, W) (flattened first).

    What replaced ``add_fully_connected`` (removed in TensorRT 10.0): a shuffle that flattens
    to (N, in), a constant holding the (out, in) weight, a matrix multiply that transposes it,
    and an elementwise sum with a (1, out) bias constant that broadcasts over the batch.
    """
    out_features, in_features = weight.shape
    flat = network.add_shuffle(x)
    flat.reshape_dims = (0, -1)          # 0: keep the batch dimension; -1: everything else in one
    flat.name = f"{name}.flatten"
    w = network.add_constant((out_features, in_features), trt.Weights(np.ascontiguousarray(weight, np.float32)))
    w.name = f"{name}.weight"
    mm = network.add_matrix_multiply(flat.get_output(0), trt.MatrixOperation.NONE,
                                     w.get_output(0), trt.MatrixOperation.TRANSPOSE)
    mm.name = f"{name}.matmul"
    b = network.add_constant((1, out_features), trt.Weights(np.ascontiguousarray(bias, np.float32)))
    b.name = f"{name}.bias"
    add = network.add_elementwise(mm.get_output(0), b.get_output(0), trt.ElementWiseOperation.SUM)
    add.name = name
    return add


def populate_lenet(network: Any, weights: dict[str, np.ndarray], trt: ModuleType | None = None) -> Any:
    """Add LeNet to an empty explicit-batch ``network``; returns the marked output tensor
    (``logits``, shape (N, 10)). The input is ``input`` (N, 1, 28, 28) float32."""
    trt = trt or backend.load()
    x = network.add_input(name=INPUT_NAME, dtype=trt.float32, shape=INPUT_SHAPE)

    conv1 = network.add_convolution_nd(x, 20, (5, 5), trt.Weights(weights["conv1.weight"]),
                                       trt.Weights(weights["conv1.bias"]))
    conv1.stride_nd = (1, 1)
    conv1.name = "conv1"
    pool1 = network.add_pooling_nd(conv1.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool1.stride_nd = (2, 2)
    pool1.name = "pool1"

    conv2 = network.add_convolution_nd(pool1.get_output(0), 50, (5, 5), trt.Weights(weights["conv2.weight"]),
                                       trt.Weights(weights["conv2.bias"]))
    conv2.stride_nd = (1, 1)
    conv2.name = "conv2"
    pool2 = network.add_pooling_nd(conv2.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool2.stride_nd = (2, 2)
    pool2.name = "pool2"

    fc1 = fully_connected(network, pool2.get_output(0), weights["fc1.weight"], weights["fc1.bias"], "fc1", trt)
    relu1 = network.add_activation(fc1.get_output(0), trt.ActivationType.RELU)
    relu1.name = "relu1"
    fc2 = fully_connected(network, relu1.get_output(0), weights["fc2.weight"], weights["fc2.bias"], "fc2", trt)

    out = fc2.get_output(0)
    out.name = OUTPUT_NAME
    network.mark_output(out)
    return out


def lenet_network(weights: dict[str, np.ndarray], trt: ModuleType | None = None) -> tuple[Any, Any]:
    """A fresh (builder, network) holding LeNet. Keep both alive, and ``weights`` too:
    ``trt.Weights`` points at the NumPy arrays, it does not copy them until the build."""
    trt = trt or backend.load()
    builder = trt.Builder(backend.logger(trt))
    network = compat.create_network(builder, trt)  # strongly typed on every backend
    populate_lenet(network, weights, trt)
    return builder, network
