"""LeNet-style MNIST network written layer by layer with the TensorRT 5-7 network API.

Written for trtlab's migrate tests; exercises the calls of the network_api_pytorch_mnist
sample (TensorRT 7.x): implicit batch, 2-D layer API, fully connected layers, build_cuda_engine.
"""
import tensorrt as trt

LOGGER = trt.Logger(trt.Logger.WARNING)
INPUT, OUTPUT, SHAPE, CLASSES = "data", "prob", (1, 28, 28), 10


def add_layers(network, w):
    data = network.add_input(name=INPUT, dtype=trt.float32, shape=SHAPE)
    c1 = network.add_convolution(input=data, num_output_maps=20, kernel_shape=(5, 5),
                                 kernel=w["conv1.weight"], bias=w["conv1.bias"])
    c1.stride = (1, 1)
    p1 = network.add_pooling(input=c1.get_output(0), type=trt.PoolingType.MAX, window_size=(2, 2))
    p1.stride = (2, 2)
    c2 = network.add_convolution(p1.get_output(0), 50, (5, 5), w["conv2.weight"], w["conv2.bias"])
    c2.stride = (1, 1)
    c2.padding = (0, 0)
    p2 = network.add_pooling(c2.get_output(0), trt.PoolingType.MAX, (2, 2))
    p2.stride = (2, 2)
    f1 = network.add_fully_connected(input=p2.get_output(0), num_outputs=500,
                                     kernel=w["fc1.weight"], bias=w["fc1.bias"])
    r1 = network.add_activation(input=f1.get_output(0), type=trt.ActivationType.RELU)
    f2 = network.add_fully_connected(r1.get_output(0), CLASSES, w["fc2.weight"], w["fc2.bias"])
    f2.get_output(0).name = OUTPUT
    network.mark_output(tensor=f2.get_output(0))


def make_engine(weights):
    with trt.Builder(LOGGER) as builder, builder.create_network() as network:
        builder.max_workspace_size = 1 << 30
        builder.max_batch_size = 1
        add_layers(network, weights)
        return builder.build_cuda_engine(network)
