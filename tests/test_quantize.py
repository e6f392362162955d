"""trtlab.quantize and `trtlab quantize`: Q/DQ models that TensorRT builds, and one line for every bad input.

The model is a small LeNet-shaped ONNX graph made here (Conv -> Relu -> Flatten -> MatMul -> Add),
so these tests need no TensorFlow and no training.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab import backend, build, cli, quantize
from trtlab.common import UserError


def _model(k: int = 64) -> onnx.ModelProto:
    """x (N,1,8,8) -> Conv 4x3x3 -> Relu -> Flatten (N,144) -> MatMul (144,k) -> Add -> Relu -> MatMul (k,10)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.normal(0, 0.1, (144, k)).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(0, 0.1, k).astype(np.float32), "b2"),
             numpy_helper.from_array(rng.normal(0, 0.1, (k, 10)).astype(np.float32), "w3")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "w2"], ["m"], name="fc1"),
             helper.make_node("Add", ["m", "b2"], ["a"], name="fc1_bias"),
             helper.make_node("Relu", ["a"], ["h"], name="relu2"),
             helper.make_node("MatMul", ["h", "w3"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "small.onnx"
    onnx.save(_model(), path)
    return path


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    x = np.random.default_rng(1).uniform(0, 1, (96, 1, 8, 8)).astype(np.float32)
    path = tmp_path_factory.mktemp("c") / "calib.npy"
    np.save(path, x)
    return path


def _run(path, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # see test_fp8_ort_extended
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("precision", ["int8", "fp8"])
def test_int8_fp8_qdq_close_to_fp32(model_path, calib, tmp_path, precision):
    out = tmp_path / f"{precision}.onnx"
    report = quantize.quantize(model_path, out, precision, calibration=calib, samples=64)
    assert report.samples == 64 and report.method == "minmax"
    model = onnx.load(out)
    info = quantize.describe(model)
    assert info["q"] == report.q_nodes >= 4                       # activations: input, conv, fc1, relu2 …
    weight_rows = {r["tensor"] for r in quantize.qdq_table(model) if r["kind"] == "weight"}
    assert weight_rows == {"w1", "w2", "w3", "b2"}               # b1, the Conv's bias, stays FP32
    assert info["dq"] - info["q"] == 4
    want = "INT8" if precision == "int8" else "FLOAT8E4M3FN"
    assert info["types"] == [want]
    # no INT32 bias DequantizeLinear (TensorRT refuses it): QuantizeBias False
    assert not any(r["type"] == "INT32" for r in quantize.qdq_table(model))
    weights = [r for r in quantize.qdq_table(model) if r["kind"] == "weight" and r["tensor"] in ("w1", "w2", "w3")]
    assert all(r["granularity"].startswith("per-channel") for r in weights)
    x = np.load(calib)[64:]
    ref, got = _run(model_path, x), _run(out, x)
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert rel < (0.05 if precision == "int8" else 0.15), rel
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.8


def test_fp8_scales_are_amax_over_448(model_path, calib, tmp_path):
    """ORT's FP8 scales come from std(x) and clip; ours are amax/448 of the calibrated range."""
    out = tmp_path / "fp8.onnx"
    quantize.quantize(model_path, out, "fp8", calibration=calib)
    model = onnx.load(out)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    [q_in] = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    amax = float(np.abs(np.load(calib)).max())
    assert inits[q_in.input[1]] == pytest.approx(amax / 448, rel=1e-5)
    std = tmp_path / "fp8_std.onnx"
    quantize.quantize(model_path, std, "fp8", calibration=calib, fp8_scales="std")
    inits_std = {i.name: numpy_helper.to_array(i) for i in onnx.load(std).graph.initializer}
    assert inits_std[q_in.input[1]] != pytest.approx(amax / 448, rel=1e-3)


def test_int4_blocks_and_skip(model_path, tmp_path):
    """fc1's K=144 does not divide into 32-wide blocks: it stays FP32 and the report says why."""
    out32 = tmp_path / "int4_32.onnx"
    r32 = quantize.quantize(model_path, out32, "int4", block_size=32)
    assert r32.method is None and r32.samples == 0              # weight-only: no calibration
    assert [(r["type"], r["granularity"]) for r in quantize.qdq_table(onnx.load(out32))] == \
        [("INT4", "blocks of 32 along axis 0")]
    assert [r["tensor"] for r in quantize.qdq_table(onnx.load(out32))] == ["w3"]
    assert any("fc1: K=144 does not divide into 32-wide blocks" in n for n in r32.notes)
    x = np.random.default_rng(2).uniform(0, 1, (8, 1, 8, 8)).astype(np.float32)
    assert np.abs(_run(out32, x) - _run(model_path, x)).max() < 0.1


def test_int4_fc1_block16(model_path, tmp_path):
    out = tmp_path / "int4.onnx"
    quantize.quantize(model_path, out, "int4", block_size=16)
    assert sorted(r["tensor"] for r in quantize.qdq_table(onnx.load(out))) == ["w2", "w3"]


def test_calibration_methods_change_scales(model_path, calib, tmp_path):
    scales = {}
    for method in quantize.METHODS:
        out = tmp_path / f"{method}.onnx"
        quantize.quantize(model_path, out, "int8", calibration=calib, method=method)
        scales[method] = [r["scale"] for r in quantize.qdq_table(onnx.load(out)) if r["kind"] == "activation"]
    assert len(scales["minmax"]) == len(scales["percentile"]) > 0
    assert scales["percentile"] != scales["minmax"]             # percentile clips the largest values
    assert max(p / m for p, m in zip(scales["percentile"], scales["minmax"])) <= 1.0 + 1e-6


def test_default_calibration_is_training_digits():
    x = quantize.calibration_data((None, 1, 28, 28), None, samples=8)
    from trtlab import data

    mnist = data.load_mnist()
    assert x.shape == (8, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x, data.nchw(mnist.x_train[:8]))


@pytest.mark.parametrize("precision", ["int8", "fp8", "int4"])
def test_tensorrt_parses_and_builds(model_path, calib, tmp_path, precision):
    """The quantized models build with this machine's backend; FP8 needs Ada (8.9) or newer."""
    caps = backend.probe()
    if not caps.can_build:
        pytest.skip(f"cannot build engines here: {caps.build_reason}")
    out = tmp_path / f"{precision}.onnx"
    quantize.quantize(model_path, out, precision, calibration=calib, block_size=16)
    if caps.backend == "tensorrt_rtx":
        built = build.build_onnx(out, build.BuildOptions(max_batch=8, compute_capabilities=("8.9",)))
        assert built.size > 0
        if precision == "fp8":
            with pytest.raises(UserError, match="Cannot compile for target.*sm86.*fp8"):
                build.build_onnx(out, build.BuildOptions(max_batch=8, compute_capabilities=("8.6",)))
    else:
        assert build.build_onnx(out, build.BuildOptions(max_batch=8)).size > 0


def _bad(tmp_path, argv):
    out = tmp_path / "out.onnx"
    try:
        code = cli.main(["quantize", *argv, "-o", str(out)] if "-o" not in argv else ["quantize", *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    return code, out


def test_cli_writes_and_reports(model_path, calib, tmp_path, capsys):
    out = tmp_path / "q.onnx"
    assert cli.main(["quantize", str(model_path), "--precision", "int8", "--calibration-data", str(calib),
                     "--samples", "32", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "INT8 by ort, minmax calibration on 32 samples in" in text
    assert f"{quantize.describe(onnx.load(out))['q']} Q/DQ pairs on activations" in text


def test_cli_bad_inputs(model_path, tmp_path, capsys):
    np.save(tmp_path / "f64.npy", np.zeros((4, 1, 8, 8)))
    np.save(tmp_path / "shape.npy", np.zeros((4, 8, 8), np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 1, 8, 8), np.float32))
    np.save(tmp_path / "nan.npy", np.full((4, 1, 8, 8), np.nan, np.float32))
    np.save(tmp_path / "obj.npy", np.array([{}]), allow_pickle=True)
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x07garbage")
    (tmp_path / "empty.onnx").write_bytes(b"")
    cases = {
        "missing": ([str(tmp_path / "nope.onnx"), "--precision", "int8"], "no such ONNX model"),
        "corrupt": ([str(tmp_path / "corrupt.onnx"), "--precision", "int8"], "not"),
        "empty model": ([str(tmp_path / "empty.onnx"), "--precision", "int8"], "is empty"),
        "folder": ([str(tmp_path), "--precision", "int8"], "is a folder"),
        "precision": ([str(model_path), "--precision", "int2"], "invalid choice: 'int2'"),
        "float64": ([str(model_path), "--precision", "int8", "--calibration-data", str(tmp_path / "f64.npy")],
                    "must be a float32 array, not float64"),
        "shape": ([str(model_path), "--precision", "int8", "--calibration-data", str(tmp_path / "shape.npy")],
                  "does not fit the model's input"),
        "empty array": ([str(model_path), "--precision", "int8", "--calibration-data", str(tmp_path / "empty.npy")],
                        "is empty"),
        "nan": ([str(model_path), "--precision", "int8", "--calibration-data", str(tmp_path / "nan.npy")], "NaN"),
        "pickle": ([str(model_path), "--precision", "int8", "--calibration-data", str(tmp_path / "obj.npy")],
                   "pickled objects are refused"),
        "samples": ([str(model_path), "--precision", "int8", "--samples", "0"], "at least 1"),
        "same": ([str(model_path), "--precision", "int8", "-o", str(model_path)], "is the input model"),
        "block": ([str(model_path), "--precision", "int4", "--block-size", "24"], "power of two"),
        "modelopt method": ([str(model_path), "--precision", "int8", "--tool", "modelopt", "--method", "percentile"],
                            "not offered here"),
    }
    before = model_path.read_bytes()
    for name, (argv, reason) in cases.items():
        code, out = _bad(tmp_path, argv)
        err = capsys.readouterr().err
        assert code != 0, name
        assert err.count("\n") == 1 and err.startswith("trtlab quantize: error:"), (name, err)
        assert reason in err, (name, err)
        assert "Traceback" not in err
        assert not out.exists(), name
    assert model_path.read_bytes() == before


def test_modelopt_missing_is_one_line(model_path, tmp_path, capsys):
    try:
        import modelopt.onnx.quantization  # noqa: F401
        pytest.skip("ModelOpt is installed here")
    except ImportError:
        pass
    code, out = _bad(tmp_path, [str(model_path), "--precision", "int8", "--tool", "modelopt"])
    err = capsys.readouterr().err
    assert code != 0 and "pip install 'trtlab[modelopt]'" in err and err.count("\n") == 1
    assert not out.exists()
