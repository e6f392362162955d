"""trtlab.compat: the one module that knows how the backends differ — strong typing on every backend
(real networks from the installed backend, and stand-in modules for TensorRT 10.x / 11.x / lean),
dims, dtypes, the error recorder."""
from __future__ import annotations

import types
from enum import IntEnum

import ml_dtypes
import numpy as np
import pytest

from trtlab import backend, compat, lenet, parse, testing
from trtlab.common import UserError


def _module(name: str, version: str, strongly_typed_flag: bool) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__version__ = version
    if strongly_typed_flag:
        m.NetworkDefinitionCreationFlag = IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0,
                                                                                     "STRONGLY_TYPED": 5})
    return m


@pytest.mark.parametrize("name, version, flag, want", [
    ("tensorrt", "10.13.0", True, 1 << 5),  # 10.x: weakly typed unless asked
    ("tensorrt", "11.4.0", True, 1 << 5),  # 11.x: always strongly typed; the flag is accepted
    ("tensorrt_rtx", "1.7.0", False, 0),  # TensorRT-RTX: always strongly typed, no flag
    ("tensorrt_lean", "11.4.0", False, 0),  # runtime only: no networks at all
])
def test_network_flags_ask_for_strong_typing_where_it_is_not_the_default(name, version, flag, want):
    assert compat.network_flags(_module(name, version, flag)) == want


def test_every_network_trtlab_creates_is_strongly_typed(tmp_path):
    trt = backend.load()
    _builder, network, _parser = parse.parse_onnx(testing.make_onnx(tmp_path / "t.onnx"), trt)
    assert compat.is_strongly_typed(network, trt)
    shapes = {"conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,), "conv2.weight": (50, 20, 5, 5), "conv2.bias": (50,),
              "fc1.weight": (500, 800), "fc1.bias": (500,), "fc2.weight": (10, 500), "fc2.bias": (10,)}
    weights = {k: np.zeros(v, np.float32) for k, v in shapes.items()}  # LeNet's layouts (models.lenet_weights)
    _b, net = lenet.lenet_network(weights, trt)
    assert compat.is_strongly_typed(net, trt)


def test_names_dims_and_dtypes():
    assert compat.name_of(_module("tensorrt_lean", "11.4", False)) == "tensorrt_lean"
    assert compat.name_of(_module("tensorrt_rtx", "1.7", False)) == "tensorrt_rtx"
    assert compat.dims([2, -1, 3]) == (2, -1, 3) and compat.dims(()) == ()
    dt = IntEnum("DataType", {"FLOAT": 0, "HALF": 1, "INT64": 2, "BF16": 3})
    assert compat.np_dtype(dt.FLOAT) == np.float32 and compat.np_dtype(dt.HALF) == np.float16
    assert compat.dtype_name(None, dt.INT64) == "int64" and compat.dtype_name(None, dt.BF16) == "bfloat16"
    assert compat.np_dtype(dt.BF16) == ml_dtypes.bfloat16  # one table, ml_dtypes for what NumPy lacks
    with pytest.raises(UserError, match="NVFP9 has no NumPy equivalent"):
        compat.np_dtype("DataType.NVFP9")
    assert compat.parse_dtype("DataType.FLOAT") == np.float32 and compat.parse_dtype("int8") == np.int8
    with pytest.raises(UserError, match="unknown tensor dtype 'complex512'"):
        compat.parse_dtype("complex512")
    assert compat.is_input("TensorIOMode.INPUT") and not compat.is_input("TensorIOMode.OUTPUT")
    assert compat.version_tuple("10.13.0.35") == (10, 13, 0, 35) and compat.version_tuple("1.7.0rc") == (1, 7, 0)


def test_error_recorder_keeps_messages_and_the_header_reader_refuses_junk():
    trt = backend.load()
    rec = compat.error_recorder(trt)
    assert rec.first() == "no error message from TensorRT"
    rec.report_error(None, "bad thing (In f at /_src/x.cpp:25 (cudaErrorNoDevice))")
    assert rec.num_errors() == 1 and "/_src" not in rec.first() and "bad thing" in rec.first()
    assert type(compat.error_recorder(trt)) is type(rec)  # one class per backend, made once
    assert compat.read_header(b"\0" * 100) is None and compat.read_header(b"vtrt") is None


def test_one_dtype_table_for_every_trt_type_and_module():
    from trtlab import reference, runtime
    trt = backend.load()
    for member in trt.DataType.__members__.values():  # every type of this backend, losslessly
        dtype = compat.np_dtype(member)
        assert reference.numpy_dtype(member) == dtype
        assert compat.parse_dtype(compat.dtype_name(trt, member)) == dtype  # a sidecar's name reads back
        assert compat.parse_dtype(str(member)) == dtype  # "DataType.FP8"
    assert reference.DTYPES is compat.DTYPES and runtime.np_dtype is compat.np_dtype
    want = {"BF16": "bfloat16", "FP8": "float8_e4m3fn", "INT4": "int4", "FP4": "float4_e2m1fn", "E8M0": "float8_e8m0fnu"}
    for member, name in want.items():
        assert compat.dtype_name(trt, member) == name and compat.np_dtype(member).itemsize == 1 + (member == "BF16")
        assert compat.parse_dtype(member.lower()) == compat.parse_dtype(name)  # older sidecars wrote "bf16"
    with pytest.raises(UserError, match="unknown tensor dtype 'float8_e5m3'"):
        compat.parse_dtype("float8_e5m3")
