"""An ONNX model with a dynamic batch, the TensorRT 8 way.

Written for trtlab's migrate tests; exercises the calls of introductory_parser_samples/
onnx_resnet50.py and the dynamic-shape helpers of the 8.x samples: EXPLICIT_BATCH,
OnnxParser, config.max_workspace_size, build_engine, set_binding_shape, device_memory_size.
"""
import tensorrt as trt
from cuda import cudart

LOGGER = trt.Logger(trt.Logger.WARNING)
FLAGS = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def make_engine(onnx_path, max_batch=8):
    builder = trt.Builder(LOGGER)
    network = builder.create_network(FLAGS)
    parser = trt.OnnxParser(network, LOGGER)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            raise RuntimeError(parser.get_error(0))
    config = builder.create_builder_config()
    config.max_workspace_size = 1 << 28
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 224, 224), (max_batch, 3, 224, 224), (max_batch, 3, 224, 224))
    config.add_optimization_profile(profile)
    return builder.build_engine(network, config)


def prepare(engine, batch):
    context = engine.create_execution_context()
    context.set_binding_shape(0, (batch, 3, 224, 224))
    err, scratch = cudart.cudaMalloc(engine.device_memory_size)
    return context, scratch
