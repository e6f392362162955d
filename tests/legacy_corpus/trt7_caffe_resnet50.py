"""ResNet-50 from a Caffe prototxt/caffemodel pair, the TensorRT 7 way.

Written for trtlab's migrate tests; exercises the calls of introductory_parser_samples/
caffe_resnet50.py (TensorRT 7.x): CaffeParser, builder-level settings, build_cuda_engine,
and binding indices at inference.
"""
import tensorrt as trt

LOGGER = trt.Logger(trt.Logger.WARNING)


def make_engine(deploy, weights, out_name="prob"):
    with trt.Builder(LOGGER) as builder, builder.create_network() as network, trt.CaffeParser() as parser:
        builder.max_workspace_size = 1 << 30
        builder.fp16_mode = True
        blobs = parser.parse(deploy=deploy, model=weights, network=network, dtype=trt.float32)
        network.mark_output(blobs.find(out_name))
        return builder.build_cuda_engine(network)


def shapes(engine):
    return [tuple(engine.get_binding_shape(i)) for i in range(engine.num_bindings)]


def classify(engine, addresses):
    with engine.create_execution_context() as context:
        context.execute(batch_size=1, bindings=addresses)
