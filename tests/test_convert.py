"""trtlab.convert and `trtlab convert`: frozen graph, SavedModel and .keras to ONNX; every bad
input a one-line reason, a non-zero exit and no file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trtlab import cli, convert, models
from trtlab.common import UserError

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def lenet():
    keras = models._keras()
    keras.utils.set_random_seed(2)
    return models.build_lenet()  # untrained: conversion does not care


@pytest.fixture(scope="module")
def sources(lenet, tmp_path_factory):
    """The same model as a frozen .pb, a .keras file and a SavedModel folder."""
    folder = tmp_path_factory.mktemp("sources")
    pb = models.freeze(lenet, folder / "lenet.pb")
    keras_file = folder / "lenet.keras"
    lenet.save(keras_file)
    saved_model = folder / "saved_model"
    lenet.export(str(saved_model), verbose=False)
    return {"pb": pb, "keras": keras_file, "saved_model": saved_model}


def _run_onnx(path, x):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path))
    [inp] = session.get_inputs()
    return inp, session.run(None, {inp.name: x})[0]


def _cli(capsys, *argv):
    code = cli.main(["convert", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_frozen_graph_finds_its_ends(sources, lenet, tmp_path, capsys):
    out_path = tmp_path / "lenet.onnx"
    code, out, err = _cli(capsys, sources["pb"], "-o", out_path)
    assert code == 0, err
    assert "Placeholder:0" in out and "logits:0" in out and f"wrote {out_path}" in out
    x = RNG.random((4, 28, 28, 1), dtype=np.float32)
    inp, y = _run_onnx(out_path, x)
    assert inp.name == "Placeholder:0" and inp.shape[1:] == [28, 28, 1]
    np.testing.assert_allclose(y, models.tf_logits(lenet, x), atol=1e-4)


def test_frozen_graph_nchw_and_named_ends(sources, lenet, tmp_path, capsys):
    out_path = tmp_path / "lenet_nchw.onnx"
    code, out, err = _cli(capsys, sources["pb"], "--inputs", "Placeholder", "--outputs", "logits:0",
                          "--nchw", "-o", out_path)
    assert code == 0, err
    x = RNG.random((3, 28, 28, 1), dtype=np.float32)
    inp, y = _run_onnx(out_path, np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    assert inp.shape[1:] == [1, 28, 28]
    np.testing.assert_allclose(y, models.tf_logits(lenet, x), atol=1e-4)


def test_inner_output_cuts_the_graph(sources, tmp_path):
    graph_def = convert.read_graph_def(sources["pb"])
    relu = next(n.name for n in graph_def.node if n.op == "Relu")  # fc1's ReLU
    out_path = convert.to_onnx(sources["pb"], tmp_path / "cut.onnx", outputs=[relu])
    _, y = _run_onnx(out_path, RNG.random((2, 28, 28, 1), dtype=np.float32))
    assert y.shape == (2, 500)


@pytest.mark.parametrize("kind", ["keras", "saved_model"])
def test_keras_file_and_saved_model(kind, sources, lenet, tmp_path, capsys):
    out_path = tmp_path / f"{kind}.onnx"
    trust = ["--trust-savedmodel"] if kind == "saved_model" else []  # its initializers run
    code, out, err = _cli(capsys, sources[kind], "--nchw", *trust, "-o", out_path)
    assert code == 0, err
    x = RNG.random((5, 28, 28, 1), dtype=np.float32)
    inp, y = _run_onnx(out_path, np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    assert inp.shape[1:] == [1, 28, 28]
    np.testing.assert_allclose(y, models.tf_logits(lenet, x), atol=1e-4)


def test_keras_model_object(lenet, tmp_path):
    out_path = convert.to_onnx(lenet, tmp_path / "obj.onnx")
    _, y = _run_onnx(out_path, RNG.random((2, 28, 28, 1), dtype=np.float32))
    assert y.shape == (2, 10)


# --- bad inputs ---------------------------------------------------------------------------------
def _bad(capsys, tmp_path, *argv):
    out_path = tmp_path / "never.onnx"
    code, out, err = _cli(capsys, *argv, "-o", out_path)
    assert code == 2
    assert not out_path.exists() and not list(tmp_path.glob(".never.onnx*"))  # nothing half-written
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtlab convert: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_missing_file(capsys, tmp_path):
    assert "no such file or folder" in _bad(capsys, tmp_path, tmp_path / "nope.pb")


def test_device_is_not_read(capsys, tmp_path):
    assert "/dev/zero is not a regular file (a device, pipe or socket)" in _bad(capsys, tmp_path, "/dev/zero")


def test_not_a_graph(capsys, tmp_path):
    junk = tmp_path / "notes.pb"
    junk.write_text("these are not the nodes you are looking for\n" * 20)
    assert "is not a frozen TensorFlow GraphDef" in _bad(capsys, tmp_path, junk)
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    assert "is not a frozen TensorFlow GraphDef" in _bad(capsys, tmp_path, empty)


def test_saved_model_pb_itself(sources, capsys, tmp_path):
    line = _bad(capsys, tmp_path, sources["saved_model"] / "saved_model.pb")
    assert "pass its folder instead" in line


def test_folder_that_is_not_a_saved_model(capsys, tmp_path):
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    assert "not a SavedModel (no saved_model.pb" in _bad(capsys, tmp_path, folder)


def test_corrupt_keras_file(capsys, tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert "is not a Keras model file" in _bad(capsys, tmp_path, bad)


def test_keras_file_that_is_not_a_zip(capsys, tmp_path):
    """Keras itself says 'File not found' for a .keras file that exists but is not a zip archive."""
    for name, data in (("empty.keras", b""), ("cut.keras", b"PK\x03\x04" + bytes(40)), ("random.keras", os.urandom(500))):
        (tmp_path / name).write_bytes(data)
        line = _bad(capsys, tmp_path, tmp_path / name)
        assert f"{tmp_path / name} is not a Keras model file: a .keras file is a zip archive" in line
        assert "File not found" not in line


@pytest.mark.parametrize("opset", [-3, 0, 7, 8, 19])
def test_opset_out_of_range(opset, sources, capsys, tmp_path):
    """Below 9 tf2onnx wrote weights as graph inputs; 0 silently meant its default; above 18 it failed late."""
    line = _bad(capsys, tmp_path, sources["pb"], "--opset", str(opset))
    assert f"--opset must be between 9 and 18 (the ONNX opsets tf2onnx writes and TensorRT's parser reads), not {opset}" \
        in line


def test_unknown_node_names(sources, capsys, tmp_path):
    line = _bad(capsys, tmp_path, sources["pb"], "--outputs", "Logits")
    assert "--outputs: no node named 'Logits' (did you mean 'logits'?)" in line
    line = _bad(capsys, tmp_path, sources["pb"], "--inputs", "input_1")
    assert "--inputs: no node named 'input_1'" in line


def test_tensor_port_that_does_not_exist(sources, capsys, tmp_path):
    """tf2onnx logs why before it raises: that reason joins the one line (it printed three more lines)."""
    line = _bad(capsys, tmp_path, sources["pb"], "--inputs", "Placeholder:5")
    assert "tf2onnx could not convert the frozen GraphDef: ValueError: Inputs/Outputs Not Found (" in line
    assert "Problematic inputs/outputs are: {'Placeholder:5'})" in line


def test_nchw_needs_4d_inputs(capsys, tmp_path):
    tf = models.import_tensorflow()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    w = tf.Variable(np.ones((3, 2), np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def f(x):
        return tf.identity(tf.matmul(x, w), name="y")

    graph_def = convert_variables_to_constants_v2(f.get_concrete_function()).graph.as_graph_def()
    pb = tmp_path / "dense.pb"
    pb.write_bytes(models.prune(graph_def, ["y"]).SerializeToString())
    assert "--nchw applies to 4-D image inputs only, not x:0 (rank 2)" in _bad(capsys, tmp_path, pb, "--nchw")
    assert convert.to_onnx(pb, tmp_path / "dense.onnx").exists()  # without --nchw it converts


def test_failed_conversion_keeps_the_old_file(sources, tmp_path):
    out_path = tmp_path / "keep.onnx"
    out_path.write_bytes(b"previous")
    with pytest.raises(UserError):
        convert.to_onnx(sources["pb"], out_path, outputs=["nope"])
    assert out_path.read_bytes() == b"previous"


@pytest.mark.parametrize("where", ["under-a-file", "a-folder", "unwritable"])
def test_output_that_cannot_be_written(where, sources, capsys, tmp_path):
    """-o under a file, onto a folder or into a place nobody may write: one line, no file, no temp file."""
    (tmp_path / "notes.txt").write_text("x")
    out_path, want = {
        "under-a-file": (tmp_path / "notes.txt" / "lenet.onnx", f"{tmp_path / 'notes.txt'} is a file, not a folder"),
        "a-folder": (tmp_path, f"{tmp_path} is a folder: give the name of the file to write in it"),
        "unwritable": (Path("/proc/lenet.onnx"), "/proc/lenet.onnx: cannot write it ("),
    }[where]
    code = cli.main(["convert", str(sources["pb"]), "-o", str(out_path)])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("trtlab convert: error: ") and want in lines[0], err
    assert "Traceback" not in err + out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_output_is_the_model_itself(sources, capsys, tmp_path):
    pb = tmp_path / "lenet.pb"
    pb.write_bytes(sources["pb"].read_bytes())
    code = cli.main(["convert", str(pb), "-o", str(tmp_path / "." / "lenet.pb")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == (f"trtlab convert: error: {tmp_path / '.' / 'lenet.pb'} is the model being "
                                         "converted: writing the ONNX file there would overwrite it; give it another "
                                         "name (e.g. lenet.onnx)")
    assert pb.read_bytes() == sources["pb"].read_bytes()


def test_real_process_exit_status(tmp_path):
    """The installed command, as a user runs it: exit status 2, one line, no traceback."""
    done = subprocess.run([sys.executable, "-m", "trtlab.cli", "convert", str(tmp_path / "missing.pb"),
                           "-o", str(tmp_path / "x.onnx")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"trtlab convert: error: {tmp_path / 'missing.pb'}: no such file or folder"
