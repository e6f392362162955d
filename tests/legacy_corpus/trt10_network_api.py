"""The LeNet network written with TensorRT 10's layer API; the checker must flag nothing.

Written for trtlab's migrate tests: the modern counterpart of trt7_network_api_mnist.py
(N-d layers, matrix multiply instead of fully connected, explicit batch, memory pools,
build_serialized_network + Runtime).
"""
import numpy as np
import tensorrt as trt

LOGGER = trt.Logger(trt.Logger.WARNING)


def dense(network, x, w, b):
    wt = network.add_constant(w.shape, trt.Weights(w)).get_output(0)
    y = network.add_matrix_multiply(x, trt.MatrixOperation.NONE, wt, trt.MatrixOperation.TRANSPOSE)
    bias = network.add_constant((1, b.size), trt.Weights(b.reshape(1, -1))).get_output(0)
    return network.add_elementwise(y.get_output(0), bias, trt.ElementWiseOperation.SUM)


def add_layers(network, w):
    data = network.add_input("data", trt.float32, (-1, 1, 28, 28))
    c1 = network.add_convolution_nd(data, 20, (5, 5), trt.Weights(w["conv1.weight"]), trt.Weights(w["conv1.bias"]))
    c1.stride_nd = (1, 1)
    c1.padding_nd = (0, 0)
    p1 = network.add_pooling_nd(c1.get_output(0), trt.PoolingType.MAX, (2, 2))
    p1.stride_nd = (2, 2)
    flat = network.add_shuffle(p1.get_output(0))
    flat.reshape_dims = (0, -1)
    f1 = dense(network, flat.get_output(0), w["fc1.weight"], w["fc1.bias"])
    r1 = network.add_activation(f1.get_output(0), trt.ActivationType.RELU)
    f2 = dense(network, r1.get_output(0), w["fc2.weight"], w["fc2.bias"])
    f2.get_output(0).name = "logits"
    network.mark_output(f2.get_output(0))


def build(weights, max_batch=64):
    builder = trt.Builder(LOGGER)
    network = builder.create_network()
    add_layers(network, weights)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 28)
    profile = builder.create_optimization_profile()
    profile.set_shape("data", (1, 1, 28, 28), (max_batch, 1, 28, 28), (max_batch, 1, 28, 28))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    engine = trt.Runtime(LOGGER).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    context.set_input_shape("data", (8, 1, 28, 28))
    return engine, context, np.zeros((8, 10), np.float32)
