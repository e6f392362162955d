"""TensorFlow MNIST through UFF, the TensorRT 5-7 way.

Written for trtlab's migrate tests; exercises the calls of the end_to_end_tensorflow_mnist
sample (TensorRT 7.x): the uff converter, UffParser with hand-declared inputs and outputs.
Step 1 was a shell command:  convert-to-uff lenet5.pb -o lenet5.uff
"""
import tensorrt as trt
import uff

LOGGER = trt.Logger(trt.Logger.WARNING)


def to_uff(frozen_pb):
    return uff.from_tensorflow_frozen_model(frozen_pb, ["dense_1/Softmax"], output_filename="lenet5.uff")


def make_engine(uff_path):
    with trt.Builder(LOGGER) as builder, builder.create_network() as network, trt.UffParser() as parser:
        builder.max_workspace_size = 1 << 30
        parser.register_input("input_1", (1, 28, 28))
        parser.register_output("dense_1/Softmax")
        parser.parse(uff_path, network)
        return builder.build_cuda_engine(network)
