"""Hostile engine files, sidecars and models (issue 16, items 7, 11, 12, 13): every case is a one-line
reason and a non-zero exit (or a clean refusal from the Python API), never a traceback, and no file
that existed before is changed."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trtlab import engine_file, runtime, testing
from trtlab.common import UserError


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return testing.make_engine(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def engine(made, tmp_path) -> Path:
    """A fresh copy of the tiny engine, its sidecar and its model in tmp_path."""
    for name in ("tiny.engine", "tiny.engine.json", "tiny.onnx"):
        (tmp_path / name).write_bytes((made.parent / name).read_bytes())
    return tmp_path / "tiny.engine"


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _cli(capfd, *argv: str) -> tuple[int, str, str]:
    from trtlab import cli

    rc = cli.main(list(argv))
    out, err = capfd.readouterr()
    from trtlab import backend

    if rc and backend.simulated() and not backend.real_gpus() and "deserialize_cuda_engine failed" in err:
        pytest.skip(f"{backend.SIMULATE_ENV}: the probe says engines run here, so {argv[0]} deserializes the "
                    f"engine on a GPU that is not there ({err.strip()[-80:]})")
    return rc, out, err


def _edit(engine: Path, change) -> None:
    side = engine_file.sidecar_path(engine)
    data = json.loads(side.read_text())
    change(data)
    side.write_text(json.dumps(data))


def _one_line_refusal(capfd, engine: Path, command: str, want: str) -> None:
    before = _hashes(engine.parent)
    rc, out, err = _cli(capfd, command, str(engine), *(["--iters", "1", "--warmup", "0"] if command == "bench" else []))
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"trtlab {command}: error: ") and want in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert _hashes(engine.parent) == before


def _set(path: str, value):
    def change(d):
        node = d
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


# --- sidecar content (item 11) ----------------------------------------------------------------
@pytest.mark.parametrize("change, want", [
    (_set("engine.size", True), "'engine' needs a positive integer size"),
    (_set("engine.sha256", ""), "'engine' needs a positive integer size and a sha256"),
    (_set("io.0.dtype", "complex512"), "'io[0].dtype' 'complex512' is not a tensor type"),
    (_set("io.0.shape", [2 ** 40, 4]), "has a dimension outside -1..2147483647"),
    (_set("io.0.name", "x" * 5000), "'io[0].name' is longer than 4096 characters or holds a NUL"),
    (_set("source_model.path", "tiny\0.onnx"), "'source_model.path' is longer than 4096 characters or holds a NUL"),
    (_set("profiles.0.x.max", []), "'profiles[0].'x''.max has 0 dimensions, the tensor 2"),
    (_set("profiles.0.x.min", [9, 4]), "needs min <= opt <= max"),
    (lambda d: d.__setitem__("io", [t for t in d["io"] if t["mode"] == "output"]), "'io' lists no input"),
    (_set("targets", []), "'targets' must be an object"),
])
@pytest.mark.parametrize("command", ["inspect", "bench"])
def test_malformed_sidecar_is_one_line(engine, capfd, change, want, command):
    _edit(engine, change)
    _one_line_refusal(capfd, engine, command, want)
    assert "malformed sidecar: " in str(engine_file.check(engine).reason)


@pytest.mark.parametrize("text, want", [
    ("[" * 100_000 + "]" * 100_000, "not valid JSON (RecursionError"),
    ('{"format": "trtlab-engine/1", "n": ' + "9" * 5000 + "}", "not valid JSON (ValueError: Exceeds the limit"),
    ("\udcff", "not valid JSON"),
])
def test_sidecar_that_is_not_json_is_one_line(engine, capfd, text, want):
    engine_file.sidecar_path(engine).write_bytes(text.encode("utf-8", "surrogateescape"))
    _one_line_refusal(capfd, engine, "inspect", want)


def test_options_null_is_read_as_no_options(engine, capfd):
    _edit(engine, _set("options", None))
    side = engine_file.read_sidecar(engine)
    assert side.options == {} and side.get("options", {}) == {}
    rc, out, err = _cli(capfd, "inspect", str(engine))
    assert "Traceback" not in out + err and "options" in out


def test_sidecar_round_trips_through_the_schema(engine):
    side = engine_file.read_sidecar(engine)
    again = engine_file.Sidecar.from_json(side.to_json())
    assert again == side and again.io[0]["name"] == "x" and again["profiles"] == side.profiles


def test_a_device_as_sidecar_is_refused(engine, tmp_path):
    other = tmp_path / "other.engine"
    other.write_bytes(engine.read_bytes())
    os.symlink("/dev/zero", engine_file.sidecar_path(other))
    with pytest.raises(UserError, match="the sidecar is not a regular file"):
        engine_file.read_sidecar(other)


# --- what a sidecar names (item 7) ------------------------------------------------------------
def test_source_model_must_be_a_regular_file_with_a_matching_hash(engine, tmp_path):
    x = np.ones((2, 4), np.float32)
    with runtime.open_runner(engine) as r:  # as built: works (CPU reference here, TensorRT on a GPU)
        np.testing.assert_allclose(r.infer(x), testing.expected(x), rtol=1e-5, atol=1e-6)
    for digest in (None, ""):  # no hash: refused, not a pass
        _edit(engine, _set("source_model.sha256", digest))
        with pytest.raises(UserError, match="gives no sha256 for the source model"):
            runtime.source_model(engine, engine_file.read_sidecar(engine))
    _edit(engine, _set("source_model.path", "/dev/zero"))
    with pytest.raises(UserError, match="is not a regular file"):
        runtime.source_model(engine, engine_file.read_sidecar(engine))
    _edit(engine, _set("source_model.path", "/etc/hostname"))
    _edit(engine, _set("source_model.sha256", "0" * 64))
    with pytest.raises(UserError, match="changed since the engine was built"):
        runtime.source_model(engine, engine_file.read_sidecar(engine))


def test_engine_and_model_in_different_folders_keep_working(made, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "engines").mkdir()
    model = tmp_path / "models" / "tiny.onnx"
    model.write_bytes((made.parent / "tiny.onnx").read_bytes())
    from trtlab import build

    built = build.build_onnx(model, build.BuildOptions(max_batch=4))
    path = engine_file.save(tmp_path / "engines" / "tiny.engine", built)
    assert engine_file.read_sidecar(path).source_model["path"] == "../models/tiny.onnx"
    assert runtime.source_model(path, engine_file.read_sidecar(path)) == tmp_path / "engines" / "../models/tiny.onnx"
    with runtime.open_runner(path) as r:
        assert r.infer(np.zeros((1, 4), np.float32)).shape == (1, 3)


def _external_model(folder: Path, location: str) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(testing.W, "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(testing.W.nbytes))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "ext",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "ext.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("setup, want", [
    (lambda d: os.symlink("/etc/hostname", d / "w.bin") or "w.bin", "goes through a symbolic link"),
    (lambda d: "/dev/zero", "is not a relative path inside the model's folder"),
    (lambda d: "../w.bin", "is not a relative path inside the model's folder"),
    (lambda d: os.mkfifo(d / "w.bin") or "w.bin", "is not a regular file"),
])
def test_external_data_only_inside_the_model_folder_never_through_a_link(tmp_path, capfd, setup, want):
    folder = tmp_path / "m"
    folder.mkdir()
    model = _external_model(folder, setup(folder))
    before = _hashes(folder)
    rc, out, err = _cli(capfd, "build", str(model), "-o", str(tmp_path / "out.engine"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and want in lines[0], err
    assert not (tmp_path / "out.engine").exists() and _hashes(folder) == before


def test_onnx_dims_beyond_32_bits_are_refused_not_truncated(tmp_path, capfd):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "big",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2 ** 32 + 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2 ** 32 + 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "big.onnx"))
    rc, out, err = _cli(capfd, "build", str(tmp_path / "big.onnx"), "-o", str(tmp_path / "big.engine"))
    assert rc == 2 and "dimension 0 is 4294967300, beyond the 32-bit dimensions TensorRT takes" in err, err


# --- engine files (items 11, 12) --------------------------------------------------------------
def test_a_20_gb_engine_file_is_not_read_into_memory(tmp_path):
    """A sparse 20 GB file: check/inspect read its header only (the child runs under a 3 GB address limit)."""
    big = tmp_path / "big.engine"
    with open(big, "wb") as f:
        f.truncate(20 << 30)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
            "from trtlab import cli; sys.exit(cli.main(['inspect', sys.argv[1]]))")
    out = subprocess.run([sys.executable, "-c", code, str(big)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "MemoryError" not in out.stderr and "Traceback" not in out.stderr


def test_replaced_is_not_called_truncated(engine, made, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    longer = testing.make_engine(other, max_batch=64)  # another whole engine of another size
    engine.write_bytes(longer.read_bytes())
    reason = engine_file.check(engine).reason
    if engine_file.read_header(engine.read_bytes()) is not None:  # TensorRT-RTX: its header says it is whole
        assert "replaced by another engine" in reason and "truncated" not in reason, reason
    else:
        assert "longer than saved" in reason or "sha256" in reason, reason


def test_the_cpu_reference_has_one_lane(engine):
    with runtime.open_runner(engine, force_reference=True) as r:
        assert r.label == runtime.CPU_REFERENCE and r.why == "the CPU reference was asked for"
        with pytest.raises(UserError, match="lane 5 does not exist: the CPU reference has one lane"):
            r.infer(np.zeros((1, 4), np.float32), lane=5)
        r.infer(np.zeros((1, 4), np.float32), lane=0)


def test_a_4_tib_static_input_is_refused_by_the_reference(engine):
    _edit(engine, lambda d: [t.__setitem__("shape", [1024, 1024, 1024, 1024]) for t in d["io"] if t["mode"] == "input"]
          and d.__setitem__("profiles", []))
    with pytest.raises(UserError, match=r"input 'x' \(1024, 1024, 1024, 1024\) float32 needs 4,096 GiB"):
        runtime.open_runner(engine, force_reference=True)


def test_reference_failure_on_a_built_engine_is_one_line(tmp_path):
    """A Gather with an out-of-range constant index: TensorRT builds it; the CPU reference refuses in one line."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], "gather",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
                              [numpy_helper.from_array(np.array([1, 7], np.int64), "i")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "gather.onnx"))
    from trtlab import build

    try:
        built = build.build_onnx(tmp_path / "gather.onnx", build.BuildOptions(max_batch=4))
    except UserError as exc:  # a backend that refuses it at build time is also one line
        assert "\n" not in str(exc)
        return
    path = engine_file.save(tmp_path / "gather.engine", built)
    with runtime.open_runner(path, force_reference=True) as r:
        with pytest.raises(UserError, match="the CPU reference could not evaluate gather.onnx: IndexError") as info:
            r.infer(np.zeros((1, 4), np.float32))
        assert "\n" not in str(info.value)


# --- output hygiene (item 13) -----------------------------------------------------------------
def test_sidecar_strings_are_printed_escaped(engine, capfd):
    _edit(engine, lambda d: (d["built"].__setitem__("host", "evil\x1b]0;pwned\x07host"),
                             d["io"][1].__setitem__("name", "y\x1b[31m")))
    rc, out, err = _cli(capfd, "inspect", str(engine))
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "evil\\x1b]0;pwned\\x07host" in out and "y\\x1b[31m" in out


# --- bench's default batches (issue 10, Also) -------------------------------------------------
def test_bench_defaults_to_the_batches_the_engine_accepts(made, tmp_path):
    from trtlab import bench

    static = testing.make_engine(tmp_path, batch=4)
    with runtime.open_runner(static) as r:
        assert r.fixed_batch == 4 and r.batches() == [4]
    with runtime.open_runner(made) as r:
        assert r.fixed_batch is None and r.batches() == [1, 8]  # min 1, opt 8, max 8
    report = bench.bench_engine(static, iters=2, warmup=0, efficiency_s=0.05, accuracy=False, max_time_s=0.2)
    assert [row.batch for row in report.rows] == [4]
