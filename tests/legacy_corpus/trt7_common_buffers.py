"""Host/device buffers and inference the TensorRT 7-8 way (pycuda, bindings, implicit batch).

Written for trtlab's migrate tests; exercises the API calls of the samples' shared helper
module (samples/python/common.py, TensorRT 7.x-8.x). Not meant to run.
"""
import numpy as np
import pycuda.autoinit  # noqa: F401  (creates the CUDA context on import)
import pycuda.driver as cuda
import tensorrt as trt

EXPLICIT = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def gib(n):
    return n << 30


class Buffer:
    def __init__(self, host, device):
        self.host, self.device = host, device


def make_buffers(engine):
    """One pinned host array and one device allocation per binding."""
    ins, outs, addresses = [], [], []
    stream = cuda.Stream()
    for name in engine:
        count = trt.volume(engine.get_binding_shape(name)) * engine.max_batch_size
        host = cuda.pagelocked_empty(count, trt.nptype(engine.get_binding_dtype(name)))
        device = cuda.mem_alloc(host.nbytes)
        addresses.append(int(device))
        (ins if engine.binding_is_input(name) else outs).append(Buffer(host, device))
    return ins, outs, addresses, stream


def run_implicit(context, addresses, ins, outs, stream, batch_size=1):
    for b in ins:
        cuda.memcpy_htod_async(b.device, b.host, stream)
    context.execute_async(batch_size=batch_size, bindings=addresses, stream_handle=stream.handle)
    for b in outs:
        cuda.memcpy_dtoh_async(b.host, b.device, stream)
    stream.synchronize()
    return [b.host for b in outs]


def run_explicit(context, addresses, ins, outs, stream):
    for b in ins:
        cuda.memcpy_htod_async(b.device, b.host, stream)
    context.execute_async_v2(bindings=addresses, stream_handle=stream.handle)
    for b in outs:
        cuda.memcpy_dtoh_async(b.host, b.device, stream)
    stream.synchronize()
    return [np.copy(b.host) for b in outs]
