"""Buffers and inference the TensorRT 10 way: named I/O tensors, set_tensor_address,
execute_async_v3, cuda-python's cuda.bindings. The checker must flag nothing here.

Written for trtlab's migrate tests; mirrors the patterns of the 10.x samples' runtime
helpers (samples/python/common_runtime.py). It also holds objects that share method names
with old TensorRT calls (a database cursor's execute, an argparse parser) to catch
false positives.
"""
import argparse
import sqlite3

import numpy as np
import tensorrt as trt
from cuda.bindings import runtime as cudart


def check(result):
    err, *rest = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


def io_tensors(engine):
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        yield name, engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT, \
            tuple(engine.get_tensor_shape(name)), trt.nptype(engine.get_tensor_dtype(name))


def infer(engine, feeds):
    context = engine.create_execution_context()
    stream = check(cudart.cudaStreamCreate())
    outputs, device = {}, []
    for name, is_input, shape, dtype in io_tensors(engine):
        if is_input:
            context.set_input_shape(name, feeds[name].shape)
            shape = feeds[name].shape
        host = feeds[name] if is_input else np.empty(tuple(context.get_tensor_shape(name)), dtype)
        ptr = check(cudart.cudaMalloc(host.nbytes))
        device.append(ptr)
        context.set_tensor_address(name, ptr)
        if is_input:
            check(cudart.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream))
        else:
            outputs[name] = (host, ptr)
    context.execute_async_v3(stream)
    for host, ptr in outputs.values():
        check(cudart.cudaMemcpyAsync(host.ctypes.data, ptr, host.nbytes,
                                     cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream))
    check(cudart.cudaStreamSynchronize(stream))
    scratch = engine.device_memory_size_v2
    for ptr in device:
        check(cudart.cudaFree(ptr))
    return {k: v[0] for k, v in outputs.items()}, scratch


def log_run(db_path, name):
    cursor = sqlite3.connect(db_path).cursor()
    cursor.execute("insert into runs values (?)", (name,))
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine")
    for row in cursor:
        print(row)
