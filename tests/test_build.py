"""trtlab.build: options, profiles, targets, FP16, build failures — with the real backend, on tiny models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab import UserError, backend, build
from trtlab.build import BuildOptions


def tiny_onnx(path: Path, n: int = 4, m: int = 3, batch: str | int = "N") -> Path:
    """x (batch, n) -> relu(x @ w + b) (batch, m), float32 — builds in a fraction of a second."""
    w = numpy_helper.from_array((np.arange(n * m, dtype=np.float32).reshape(n, m) / 10), "w")
    b = numpy_helper.from_array(np.ones(m, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, m])], [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx", n=64, m=32)


@pytest.fixture(scope="module")
def built(model) -> build.Built:
    return build.build_onnx(model, BuildOptions(max_batch=8, opt_batch=4, workspace_mib=64, opt_level=2))


def test_options_validate():
    with pytest.raises(UserError, match="min .* <= opt"):
        BuildOptions(max_batch=4, opt_batch=8).validate()
    with pytest.raises(UserError, match="0-5"):
        BuildOptions(opt_level=9).validate()
    with pytest.raises(UserError, match="compute capability"):
        BuildOptions(compute_capabilities=("9.0",)).validate()
    with pytest.raises(UserError, match="workspace"):
        BuildOptions(workspace_mib=0).validate()
    with pytest.raises(UserError, match="'current' .* must be the only target"):
        BuildOptions(compute_capabilities=("current", "8.6")).validate()
    assert BuildOptions(max_batch=16).opt == 16
    assert BuildOptions(compute_capabilities=["8.6"]).as_dict()["compute_capabilities"] == ["8.6"]


def test_configure_sets_what_it_says(model):
    trt = backend.load()
    builder, network, _ = build.parse_onnx(model, trt)
    config, profiles, _notes = build.configure(trt, builder, network,
                                               BuildOptions(max_batch=32, opt_batch=8, workspace_mib=128, opt_level=1,
                                                            tf32=False))
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 128 << 20
    assert config.builder_optimization_level == 1
    assert config.num_optimization_profiles == 1
    assert profiles == [{"x": {"min": [1, 64], "opt": [8, 64], "max": [32, 64]}}]
    if hasattr(trt.BuilderFlag, "TF32"):
        assert not config.get_flag(trt.BuilderFlag.TF32)


def test_build_records_time_size_io(built):
    assert built.size == len(built.plan) > 10_000
    assert 0 < built.seconds < 30
    assert built.io == [{"name": "x", "mode": "input", "shape": [-1, 64], "dtype": "float32"},
                        {"name": "y", "mode": "output", "shape": [-1, 32], "dtype": "float32"}]
    assert built.profiles[0]["x"]["max"] == [8, 64]
    assert built.summary()["size_bytes"] == built.size
    assert len(built.sha256) == 64


@pytest.mark.skipif(backend.name_of(backend.load()) != "tensorrt_rtx", reason="TensorRT-RTX AOT targets")
def test_rtx_targets_default_and_explicit(built, model):
    auto = backend.default_targets("tensorrt_rtx")  # None: the portable set; else this (or a simulated) GPU
    if auto and any("built the portable set" in n for n in built.notes):
        auto = None  # Turing: TensorRT-RTX compiles no FP32 matrix multiply for 7.5, so the portable set
    assert built.targets["kind"] == "aot" and built.targets["default"] is (auto is None)
    want = {"8.6", "8.9", "12.0"} if auto is None else {backend.gpus()[0].cc}
    assert want <= set(built.targets["compute_capabilities"])
    assert built.header["version"] == ".".join(backend.load().__version__.split(".")[:3])
    one = build.build_onnx(model, BuildOptions(max_batch=2, compute_capabilities=("12.0",)))
    assert one.targets["compute_capabilities"] == ["12.0"] and not one.targets["default"]
    assert one.header["compute_capabilities"] == ["12.0"]


@pytest.mark.skipif(backend.name_of(backend.load()) != "tensorrt_rtx", reason="TensorRT-RTX ignores these")
def test_rtx_notes_for_enterprise_only_options(model, tmp_path):
    b = build.build_onnx(model, BuildOptions(max_batch=2, timing_cache=str(tmp_path / "t.cache"),
                                             version_compatible=True, hardware_compatibility="ampere_plus"))
    text = " ".join(b.notes)
    assert "timing cache ignored" in text and "runtime cache" in text
    assert "version_compatible ignored" in text and "hardware_compatibility ignored" in text
    assert not (tmp_path / "t.cache").exists()


def test_fp16_onnx_keeps_fp32_io_and_halves_weights(model):
    half = build.fp16_onnx(onnx.load(str(model)))
    onnx.checker.check_model(half)
    assert {i.data_type for i in half.graph.initializer} == {TensorProto.FLOAT16}
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert half.graph.node[0].op_type == "Cast" and half.graph.node[-1].op_type == "Cast"
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
    full = ort.InferenceSession(model.SerializeToString() if hasattr(model, "SerializeToString") else str(model),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    fp16 = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert fp16.dtype == np.float32
    np.testing.assert_allclose(fp16, full, rtol=2e-2, atol=2e-2)


def test_fp16_engine_is_smaller(tmp_path):
    big = tiny_onnx(tmp_path / "big.onnx", n=512, m=512)  # 1 MiB of FP32 weights
    fp32 = build.build_onnx(big, BuildOptions(max_batch=4))
    fp16 = build.build_onnx(big, BuildOptions(max_batch=4, fp16=True))
    assert fp16.options.fp16 and fp16.io[0]["dtype"] == "float32"
    saved = fp32.size - fp16.size
    assert saved > 300_000, saved  # most of the 512 KiB that half-precision weights save


def test_fp16_needs_fp16_network(model):
    trt = backend.load()
    builder, network, _ = build.parse_onnx(model, trt)
    with pytest.raises(UserError, match="no FP16 tensor"):
        build.build(builder, network, BuildOptions(fp16=True), trt=trt)


def test_progress_monitor_sees_phases(model, capsys):
    trt = backend.load()
    if not hasattr(trt, "IProgressMonitor"):
        pytest.skip("backend has no IProgressMonitor")
    b = build.build_onnx(model, BuildOptions(max_batch=2, progress=True))
    assert b.size > 0
    err = capsys.readouterr().err
    assert "Building engine" in err and "100%" in err


def test_missing_and_rejected_models(tmp_path):
    with pytest.raises(UserError, match="no such ONNX model"):
        build.build_onnx(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not protobuf")
    with pytest.raises(UserError):
        build.build_onnx(bad)
    # A valid protobuf with an operator TensorRT does not know.
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"], domain="example.com")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                      helper.make_opsetid("example.com", 1)]), tmp_path / "op.onnx")
    with pytest.raises(UserError, match="NoSuchOp|parser|rejected"):
        build.build_onnx(tmp_path / "op.onnx")


def test_static_batch_has_no_profile(tmp_path):
    b = build.build_onnx(tiny_onnx(tmp_path / "s.onnx", batch=2), BuildOptions(max_batch=8))
    assert b.profiles == [] and "no dynamic input" in b.notes[0]


def test_build_failure_is_one_line(model):
    trt = backend.load()
    if backend.probe().can_run or backend.name_of(trt) != "tensorrt_rtx":
        pytest.skip("needs a GPU-less TensorRT-RTX machine: 'current' target fails without a driver")
    with pytest.raises(UserError, match="the build failed: target 'current' means the GPU of this machine, "
                                        "and this machine has none .*(CUDA|driver|Cuda).*8.6 or 12.0") as exc:
        build.build_onnx(model, BuildOptions(max_batch=2, compute_capabilities=("current",)))
    assert "\n" not in str(exc.value)


def test_header_of_random_bytes_is_none():
    assert build.read_header(b"\0" * 100) is None
    assert build.read_header(b"vtrt") is None
