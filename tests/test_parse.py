"""trtlab.parse: ONNX -> network with OnnxParser; every parser error listed."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab import backend, cli, parse, reference
from trtlab.common import UserError

RNG = np.random.default_rng(0)


def _small_cnn(path):
    """x (N,1,8,8) -> Conv 4@3x3 -> Relu -> MaxPool 2 -> Flatten -> Gemm 5: what the parser sees from tf2onnx, small."""
    w = numpy_helper.from_array(RNG.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(RNG.standard_normal(4).astype(np.float32), "b")
    fc = numpy_helper.from_array(RNG.standard_normal((36, 5)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], axis=1, name="flatten"),
             helper.make_node("MatMul", ["f", "fc"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], [w, b, fc])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def small(tmp_path):
    return _small_cnn(tmp_path / "small.onnx")


def _unknown_op(path, ops=("FancyActivation",)):
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        nodes.append(helper.make_node(op, [prev], [f"t{i}"], name=f"node_{op}"))
        prev = f"t{i}"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_parse_valid_model(small):
    import onnxruntime as ort

    builder, network, parser = parse.parse_onnx(small)
    assert parser.num_errors == 0
    assert parse.io_table(network) == [("input", "x", (-1, 1, 8, 8), "FLOAT"), ("output", "y", (-1, 5), "FLOAT")]
    types = {row["type"] for row in parse.layer_table(network)}
    assert {"CONVOLUTION", "ACTIVATION", "POOLING", "MATRIX_MULTIPLY"} <= types
    x = RNG.random((3, 1, 8, 8), dtype=np.float32)
    expected = ort.InferenceSession(str(small)).run(None, {"x": x})[0]
    np.testing.assert_allclose(reference.evaluate(network, {"x": x})["y"], expected, atol=1e-5)


def test_truncated_file(small):
    small.write_bytes(small.read_bytes()[:200])
    with pytest.raises(parse.ParseError) as info:
        parse.parse_onnx(small, quiet=True)
    exc = info.value
    assert isinstance(exc, UserError) and exc.exit_code == 2
    assert [i.code for i in exc.issues] == ["MODEL_DESERIALIZE_FAILED"]
    lines = str(exc).splitlines()
    assert lines[0] == f"{small}: the ONNX parser rejected the model (1 error)" == exc.summary
    assert lines[1].startswith("  [0] MODEL_DESERIALIZE_FAILED at model: ")


def test_unsupported_operator(tmp_path):
    path = _unknown_op(tmp_path / "op.onnx")
    with pytest.raises(parse.ParseError) as info:
        parse.parse_onnx(path, quiet=True)
    [issue] = info.value.issues
    assert issue.node == 0 and issue.node_name == "node_FancyActivation" and issue.node_operator == "FancyActivation"
    assert issue.code in ("INVALID_NODE", "UNSUPPORTED_NODE")
    assert "node 0 node_FancyActivation (FancyActivation)" in str(info.value)
    assert issue.description  # the parser's own words


def test_every_error_is_listed():
    issues = [parse.ParserIssue("UNSUPPORTED_NODE", 3, "a", "Foo", "no importer"),
              parse.ParserIssue("INVALID_NODE", 7, "b", "Bar", "bad attribute")]
    text = str(parse.ParseError("m.onnx", issues))
    assert text.splitlines() == ["m.onnx: the ONNX parser rejected the model (2 errors)",
                                 "  [0] UNSUPPORTED_NODE at node 3 a (Foo): no importer",
                                 "  [1] INVALID_NODE at node 7 b (Bar): bad attribute"]


def test_not_onnx_at_all(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not onnx")
    with pytest.raises(parse.ParseError) as info:
        parse.parse_onnx(junk, quiet=True)
    assert info.value.issues[0].code in ("EMPTY_MODEL", "MODEL_DESERIALIZE_FAILED")


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no such file"),
    (lambda p: (p.mkdir(), p)[1], "is a folder"),
    (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
])
def test_file_problems_are_user_errors(tmp_path, make, message):
    path = make(tmp_path / "model.onnx")
    with pytest.raises(UserError, match=message) as info:
        parse.parse_onnx(path)
    assert not isinstance(info.value, parse.ParseError)


def test_quiet_restores_the_logger(tmp_path):
    trt = backend.load()
    log = backend.logger(trt)
    before = log.min_severity
    with pytest.raises(parse.ParseError):
        parse.parse_onnx(_unknown_op(tmp_path / "op.onnx"), quiet=True)
    assert log.min_severity == before


def test_cli_build_reports_parser_errors(tmp_path, capsys):
    """`trtlab build` parses through parse_onnx: non-zero exit, the error code in its message, no engine."""
    path = _unknown_op(tmp_path / "op.onnx")
    code = cli.main(["build", str(path), "-o", str(tmp_path / "op.engine")])
    err = capsys.readouterr().err
    assert code == 2
    assert "rejected the model" in err and "FancyActivation" in err and "Traceback" not in err
    assert not (tmp_path / "op.engine").exists()


def test_missing_external_weights_file(tmp_path, capsys):
    """A model saved with its weights in a separate file, copied without that file (the parser alone
    said only 'Failed to import initializer: w')."""
    model = onnx.load(str(_small_cnn(tmp_path / "small.onnx")))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.weights", size_threshold=0)
    assert parse.parse_onnx(tmp_path / "ext.onnx")[1].num_outputs == 1  # with the file beside it: fine
    (tmp_path / "ext.weights").unlink()
    assert parse.missing_external_data(tmp_path / "ext.onnx") == ["ext.weights"]
    for extra in ([], ["--fp16"]):
        code = cli.main(["build", str(tmp_path / "ext.onnx"), "-o", str(tmp_path / "ext.engine"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "ext.weights" in err and "Traceback" not in err and not (tmp_path / "ext.engine").exists()
    assert "MISSING_EXTERNAL_DATA at model: the model keeps its weights in ext.weights beside it, and that file is " \
           "missing: copy it next to ext.onnx" in str(pytest.raises(parse.ParseError, parse.parse_onnx,
                                                                    tmp_path / "ext.onnx").value)


@pytest.mark.parametrize("case", ["empty", "unknown-op"])
def test_cli_build_fp16_names_the_users_model(case, tmp_path, capsys):
    """--fp16 parses a temporary FP16 copy: its errors named /tmp/trtlab-fp16-…/X.fp16.onnx."""
    path = tmp_path / "m.onnx"
    if case == "empty":
        path.write_bytes(b"")
    else:
        _unknown_op(path)
    code = cli.main(["build", str(path), "-o", str(tmp_path / "m.engine"), "--fp16"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"trtlab build: error: {path}") and "fp16.onnx" not in err, err
    assert ("is empty, not an ONNX model" if case == "empty" else "FancyActivation") in err
