"""An ONNX model built ahead of time with TensorRT-RTX; the checker must flag nothing.

Written for trtlab's migrate tests: tensorrt_rtx imported under an alias, OnnxParser,
strong typing by default, a flagless create_network() and an engine saved to disk.
"""
import tensorrt_rtx as rtx

LOG = rtx.Logger(rtx.Logger.WARNING)


def build(onnx_path, out_path):
    builder = rtx.Builder(LOG)
    network = builder.create_network(0)
    parser = rtx.OnnxParser(network, LOG)
    if not parser.parse_from_file(str(onnx_path)):
        raise RuntimeError("; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(rtx.MemoryPoolType.WORKSPACE, 1 << 28)
    plan = builder.build_serialized_network(network, config)
    with open(out_path, "wb") as f:
        f.write(plan)
    return len(plan)
