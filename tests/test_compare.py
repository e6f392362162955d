"""trtlab.compare and `trtlab compare`: known model pairs give known errors; every bad input is one
line and exit 2. A LeNet-shaped ONNX model with seeded random weights stands in for the trained one
(the comparison does not care about accuracy, and it needs no TensorFlow)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab import backend, build, cli, compare, engine_file
from trtlab.build import BuildOptions


def lenet_like(path: Path, seed: int = 0, batch: str | int = "N", side: int = 28, in_name: str = "x",
               out_name: str = "logits", in_type: int = TensorProto.FLOAT) -> Path:
    """conv-relu-pool x2, fc-relu-fc: LeNet's layers and shapes, seeded weights."""
    r = np.random.default_rng(seed)

    def w(name: str, *shape: int, scale: float = 0.1) -> onnx.TensorProto:
        return numpy_helper.from_array((r.standard_normal(shape) * scale).astype(np.float32), name)

    flat = 64 * (side // 4) ** 2
    inits = [w("c1w", 32, 1, 5, 5), w("c1b", 32), w("c2w", 64, 32, 5, 5, scale=0.03), w("c2b", 64),
             w("f1w", flat, 128, scale=0.02), w("f1b", 128), w("f2w", 128, 10), w("f2b", 10)]
    n = helper.make_node
    x = in_name
    nodes = []
    if in_type != TensorProto.FLOAT:
        nodes.append(n("Cast", [in_name], ["x32"], to=TensorProto.FLOAT))
        x = "x32"
    nodes += [n("Conv", [x, "c1w", "c1b"], ["c1"], pads=[2, 2, 2, 2]), n("Relu", ["c1"], ["r1"]),
              n("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
              n("Conv", ["p1", "c2w", "c2b"], ["c2"], pads=[2, 2, 2, 2]), n("Relu", ["c2"], ["r2"]),
              n("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
              n("Flatten", ["p2"], ["f"]), n("MatMul", ["f", "f1w"], ["m1"]), n("Add", ["m1", "f1b"], ["a1"]),
              n("Relu", ["a1"], ["h"]), n("MatMul", ["h", "f2w"], ["m2"]), n("Add", ["m2", "f2b"], [out_name])]
    graph = helper.make_graph(nodes, "lenet", [helper.make_tensor_value_info(in_name, in_type, [batch, 1, side, side])],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("compare")
    fp32 = lenet_like(d / "lenet.onnx")
    onnx.save(build.fp16_onnx(onnx.load(fp32)), d / "lenet_fp16.onnx")
    return {"fp32": fp32, "fp16": d / "lenet_fp16.onnx", "dir": d}


@pytest.fixture(scope="module")
def engine(models) -> Path:
    if not backend.probe().can_build:
        pytest.skip(f"cannot build engines here: {backend.probe().build_reason}")
    built = build.build_onnx(models["fp32"], BuildOptions(max_batch=8, opt_batch=8, workspace_mib=64, opt_level=0))
    return engine_file.save(models["dir"] / "lenet.engine", built, source_model=models["fp32"])


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_models_agree_exactly(models, capsys):
    report = compare.compare(models["fp32"], models["fp32"])
    [out] = report.outputs
    assert (out.name, out.shape) == ("logits", (8, 10))
    assert out.max_abs == 0 and out.max_rel == 0 and out.beyond == 0 and out.passed
    assert report.exit_code == 0 and "ONNX Runtime" in report.a
    code, text, _ = run_cli([models["fp32"], models["fp32"]], capsys)
    assert code == 0 and "within tolerance" in text and "PASS" in text


def test_fp16_against_fp32_is_close_but_not_equal(models, capsys):
    # FP16 weights and activations: LeNet's logits move by ~1e-4 (half has an 11-bit mantissa)
    loose = compare.compare(models["fp16"], models["fp32"], atol=1e-2, rtol=1e-2)
    [out] = loose.outputs
    assert 1e-6 < out.max_abs < 1e-2 and out.passed and out.beyond == 0 and loose.exit_code == 0
    strict = compare.compare(models["fp16"], models["fp32"])  # Polygraphy's defaults, 1e-5 each
    [tight] = strict.outputs
    assert tight.max_abs == pytest.approx(out.max_abs) and not tight.passed and strict.exit_code == 1
    assert 0 < tight.share_beyond <= 1 and tight.count == 80
    code, text, _ = run_cli([models["fp16"], models["fp32"]], capsys)
    assert code == 1 and "BEYOND tolerance" in text and "FAIL" in text


def test_reference_runner_matches_onnx_runtime(models, capsys):
    report = compare.compare(models["fp32"], models["fp32"], runner="reference")
    assert "CPU reference" in report.a and report.outputs[0].max_abs == 0
    code, text, _ = run_cli([models["fp32"], models["fp32"], "--runner", "reference", "--json"], capsys)
    assert code == 0 and json.loads(text)["outputs"][0]["max_abs_error"] == 0


def test_inputs_file_is_used(models, capsys):
    x = np.random.default_rng(3).random((3, 1, 28, 28), dtype=np.float32)
    np.savez(models["dir"] / "in.npz", x=x)
    code, text, _ = run_cli([models["fp16"], models["fp32"], "--inputs", models["dir"] / "in.npz",
                             "--atol", "1e-2", "--rtol", "1e-2", "--json"], capsys)
    got = json.loads(text)
    assert code == 0 and got["outputs"][0]["shape"] == [3, 10] and got["outputs"][0]["max_abs_error"] > 0


def test_engine_runs_on_tensorrt_or_says_it_did_not(models, engine):
    report = compare.compare(engine, models["fp32"], atol=1e-4, rtol=1e-3)
    caps = backend.probe()
    [out] = report.outputs
    assert out.passed and out.max_abs < 1e-4
    if caps.can_run and engine_file.check(engine).can_run:  # the probe, and the engine's targets (not Turing's)
        assert report.a.endswith("on TensorRT") and not report.notes
    else:
        assert report.a.endswith("on CPU reference")
        assert report.notes and "cannot run here" in report.notes[0] and "lenet.onnx" in report.notes[0]


def _bad(models: dict, name: str, **kw) -> Path:
    return lenet_like(models["dir"] / name, **kw)


@pytest.mark.parametrize("make, args, want", [
    (None, ["missing.onnx"], "missing.onnx: no such file"),
    ("garbage", [], "not a readable ONNX model"),
    ("renamed_in", [], "the inputs differ by name"),
    ("renamed_out", [], "the outputs differ by name"),
    ("other_shape", [], "input 'x' differs by shape"),
    ("other_dtype", [], "input 'x' differs by dtype"),
    ("npz_missing", [], "has no array named 'x'"),
    ("npz_garbage", [], "not a readable .npz file"),
    ("npz_shape", [], "array 'x' has shape (2, 1, 32, 32)"),
    (None, ["--atol", "-1"], "--atol must be a finite number >= 0"),
])
def test_bad_input_is_one_line_exit_2(models, make, args, want, capsys, tmp_path):
    a, b = models["fp32"], models["fp32"]
    if make == "garbage":
        b = tmp_path / "garbage.onnx"
        b.write_bytes(b"\x08\x07not onnx at all" * 10)
    elif make == "renamed_in":
        b = _bad(models, "in.onnx", in_name="input")
    elif make == "renamed_out":
        b = _bad(models, "out.onnx", out_name="probs")
    elif make == "other_shape":
        b = _bad(models, "shape.onnx", side=32)
    elif make == "other_dtype":
        b = _bad(models, "dtype.onnx", in_type=TensorProto.FLOAT16)
    elif make == "npz_missing":
        np.savez(tmp_path / "in.npz", y=np.zeros((1, 1, 28, 28), np.float32))
        args = ["--inputs", tmp_path / "in.npz"]
    elif make == "npz_garbage":
        (tmp_path / "in.npz").write_bytes(b"PK\x03\x04 broken")
        args = ["--inputs", tmp_path / "in.npz"]
    elif make == "npz_shape":
        np.savez(tmp_path / "in.npz", x=np.zeros((2, 1, 32, 32), np.float32))
        args = ["--inputs", tmp_path / "in.npz"]
    if make is None and args[0] == "missing.onnx":
        a, args = tmp_path / "missing.onnx", []
    code, out, err = run_cli([a, b, *args], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and want in err, err


def test_corrupt_engine_is_one_line_exit_2(engine, tmp_path, capsys):
    cut = tmp_path / "cut.engine"
    cut.write_bytes(engine.read_bytes()[:3000])
    (tmp_path / "cut.engine.json").write_text(engine_file.sidecar_path(engine).read_text())
    code, out, err = run_cli([cut, engine], capsys)
    assert code == 2 and err.count("\n") == 1 and "truncated" in err, err


def test_outputs_whose_shapes_differ_at_run_time_fail(models, tmp_path, capsys):
    # declared (N, 10) in both, but B really returns (N, 5): a FAIL with a note, not a crash
    m = onnx.load(models["fp32"])
    m.graph.node[-1].output[0] = "full"
    m.graph.node.append(helper.make_node("Slice", ["full", "s0", "s1", "ax"], ["logits"]))
    m.graph.initializer.extend([numpy_helper.from_array(np.array([0]), "s0"), numpy_helper.from_array(np.array([5]), "s1"),
                                numpy_helper.from_array(np.array([1]), "ax")])
    onnx.save(m, tmp_path / "half.onnx")
    code, out, err = run_cli([models["fp32"], tmp_path / "half.onnx"], capsys)
    assert code == 1 and "FAIL" in out and "has shape (8, 10) in A but (8, 5) in B" in out, out + err


def test_inputs_outside_the_engines_profile_are_refused(models, engine, tmp_path, capsys):
    np.savez(tmp_path / "big.npz", x=np.zeros((9, 1, 28, 28), np.float32))  # the engine's profile stops at 8
    code, out, err = run_cli([engine, models["fp32"], "--inputs", tmp_path / "big.npz"], capsys)
    assert code == 2 and err.count("\n") == 1 and "outside the engine's optimization profile" in err, err
