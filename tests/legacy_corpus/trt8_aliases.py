"""TensorRT imported under other names: the checker must follow aliases and from-imports.

Written for trtlab's migrate tests (no NVIDIA sample mirrored).
"""
import tensorrt as T
from tensorrt import Builder, BuilderFlag, Logger, UffParser

log = Logger(Logger.WARNING)
b = Builder(log)
net = b.create_network()
cfg = b.create_builder_config()
cfg.set_flag(BuilderFlag.FP16)
cfg.set_flag(T.BuilderFlag.TF32)
b.max_batch_size = 4
p = UffParser()
p.register_input("x", (3, 8, 8))
eng = b.build_engine(net, cfg)
ctx = eng.create_execution_context()
ctx.execute_async_v2([0, 0], 0)
print(eng.num_bindings, eng.num_io_tensors)
