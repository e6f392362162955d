"""trtlab.engine_file: sidecar, atomic save (with a killed writer), and every refusal before deserializing."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from test_build import tiny_onnx
from trtlab import UserError, backend, build, engine_file
from trtlab.build import BuildOptions

RTX = backend.name_of(backend.load()) == "tensorrt_rtx"
NO_GPU = not backend.gpus()


def fits_here(targets: dict) -> bool:
    """The expectation from the probe and the engine's targets: False only where TensorRT-RTX runs on
    this GPU and the build left it out (Turing, 7.5, gets the portable set for an FP32 matrix multiply)."""
    gpus = backend.gpus()
    if not RTX or not gpus or not backend.can_run_on("tensorrt_rtx", gpus[0].compute_capability)[0]:
        return True
    return gpus[0].cc in (targets.get("compute_capabilities") or [])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx", n=16, m=8)


@pytest.fixture(scope="module")
def built(model) -> build.Built:
    return build.build_onnx(model, BuildOptions(max_batch=8))


@pytest.fixture()
def saved(built, model, tmp_path) -> Path:
    return engine_file.save(tmp_path / "engines" / "tiny.engine", built, extra={"note": "test"})


def copy_pair(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    shutil.copy(engine_file.sidecar_path(src), engine_file.sidecar_path(dst))
    return dst


def test_sidecar_contents(saved, built, model):
    side = engine_file.read_sidecar(saved)
    assert engine_file.sidecar_path(saved).name == "tiny.engine.json"
    assert side["engine"] == {"file": "tiny.engine", "size": built.size, "sha256": built.sha256}
    assert side["engine"]["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert side["backend"] == backend.name_of(backend.load()) and side["version"] == backend.load().__version__
    assert side["io"][0] == {"name": "x", "mode": "input", "shape": [-1, 16], "dtype": "float32"}
    assert side["profiles"] == [{"x": {"min": [1, 16], "opt": [8, 16], "max": [8, 16]}}]
    assert side["options"]["max_batch"] == 8 and side["options"]["fp16"] is False
    assert side["source_model"]["path"] == os.path.relpath(model.resolve(), saved.parent.resolve())
    assert side["source_model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert (saved.parent / side["source_model"]["path"]).resolve() == model.resolve()
    assert side["extra"] == {"note": "test"}
    assert side["built"]["seconds"] > 0
    if RTX:
        auto = backend.default_targets("tensorrt_rtx")
        gpu = backend.gpus()[0] if auto else None
        if gpu is not None and gpu.compute_capability in backend.RTX_NO_FP32_GEMM:  # Turing: no FP32 GEMM
            assert side["targets"]["compute_capabilities"] == [f"{a}.{b}" for a, b in backend.RTX_DEFAULT_BUILD]
            assert any("portable set" in n and "Turing" in n for n in built.notes), built.notes
        else:
            cc = "8.6" if auto is None else gpu.cc
            assert side["targets"]["kind"] == "aot" and cc in side["targets"]["compute_capabilities"]


def test_good_engine_passes_every_file_and_build_check(saved, built):
    v = engine_file.check(saved)
    assert v.intact and v.compatible is fits_here(built.targets), v.reasons
    assert all(c.ok is not False for c in v.checks if c.kind != "machine" and (c.name != "gpu" or fits_here(built.targets)))
    if not fits_here(built.targets):
        assert not v.can_run and "rebuild with that target" in v.reason
    if NO_GPU:
        assert not v.can_load and len(v.reasons) == 1
        assert "cannot be deserialized on this machine" in v.reason and "GPU" in v.reason


@pytest.mark.skipif(not NO_GPU, reason="the refusal for a machine without a GPU")
def test_load_refuses_without_gpu_before_deserializing(saved, monkeypatch):
    trt = backend.load()

    def boom(*a, **k):
        raise AssertionError("deserialize_cuda_engine must not be reached")

    monkeypatch.setattr(trt.Runtime, "deserialize_cuda_engine", boom)
    with pytest.raises(UserError, match="cannot be deserialized on this machine"):
        engine_file.load(saved)


def _refusal(path: Path) -> str:
    v = engine_file.check(path)
    assert not v.can_load
    with pytest.raises(UserError) as exc, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no sidecar" where there is none
        engine_file.load(path)
    assert str(exc.value) == v.reason and "\n" not in v.reason
    return v.reason


def test_truncated(saved, tmp_path):
    bad = copy_pair(saved, tmp_path / "trunc.engine")
    bad.write_bytes(saved.read_bytes()[:5000])
    assert "truncated: 5000 of" in _refusal(bad)
    assert not engine_file.check(bad).intact


def test_truncated_without_sidecar(saved, tmp_path):
    if not RTX:
        pytest.skip("the plan header is read on TensorRT-RTX only")
    bad = tmp_path / "trunc_alone.engine"
    bad.write_bytes(saved.read_bytes()[:5000])
    reason = _refusal(bad)
    assert "truncated: 5000 of" in reason and "plan header" in reason
    assert any("no sidecar" in w for w in engine_file.check(bad).warnings)


def test_corrupt_byte_is_a_hash_mismatch(saved, tmp_path):
    bad = copy_pair(saved, tmp_path / "flip.engine")
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    assert "sha256" in _refusal(bad) and "corrupt or was replaced" in engine_file.check(bad).reason


def test_random_bytes(tmp_path, saved):
    rnd = tmp_path / "random.engine"
    rnd.write_bytes(os.urandom(4096))
    reason = _refusal(rnd)
    if RTX:
        assert "not a TensorRT-RTX engine" in reason
        assert any(c.name == "get_engine_validity" and "MALFORMED" in c.detail for c in engine_file.check(rnd).checks)
    # random bytes under a real sidecar: the hash catches it
    with_side = copy_pair(saved, tmp_path / "random2.engine")
    with_side.write_bytes(os.urandom(saved.stat().st_size))
    assert "sha256" in _refusal(with_side)


def _tamper(saved: Path, dst: Path, **changes) -> Path:
    copy_pair(saved, dst)
    side = json.loads(engine_file.sidecar_path(dst).read_text())
    for key, value in changes.items():
        node = side
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    engine_file.sidecar_path(dst).write_text(json.dumps(side))
    return dst


def test_other_version(saved, tmp_path):
    bad = _tamper(saved, tmp_path / "old.engine", version="1.6.0.0")
    reason = _refusal(bad)
    assert "built with" in reason and "1.6.0.0" in reason and backend.load().__version__ in reason
    v = engine_file.check(bad)
    assert v.intact and not v.compatible


def test_other_backend(saved, tmp_path):
    other = "tensorrt" if RTX else "tensorrt_rtx"
    reason = _refusal(_tamper(saved, tmp_path / "other.engine", backend=other, version="10.13.0"))
    assert f"built with {other} 10.13.0" in reason and "rebuild" in reason


def _sm120_only(path: Path) -> Path:
    """A real TensorRT-RTX build with code for compute capability 12.0 alone (7.5 cannot take this
    model: TensorRT-RTX has no FP32 GEMM for Turing)."""
    model = tiny_onnx(path.with_suffix(".onnx"), n=16, m=8)
    return engine_file.save(path, build.build_onnx(model, BuildOptions(max_batch=8, compute_capabilities=["12.0"])))


def test_other_gpu_target(saved, tmp_path, monkeypatch):
    """An engine built for another GPU, checked against a (pretend) GPU of this machine."""
    if RTX:  # a real ahead-of-time build with code for 12.0 only
        bad = _sm120_only(tmp_path / "sm120.engine")
        gpu = backend.GPU(0, "NVIDIA GeForce RTX 4090", (8, 9), 24000, "999")
    else:
        bad = _tamper(saved, tmp_path / "a100.engine", **{"targets.gpu": "NVIDIA A100",
                                                          "targets.compute_capabilities": ["8.0"]})
        gpu = backend.GPU(0, "NVIDIA GeForce RTX 4090", (8, 9), 24000, "999")
    monkeypatch.setattr(backend, "gpus", lambda: (gpu,))
    v = engine_file.check(bad)
    assert not v.compatible
    assert "this GPU" in v.reason and "8.9" in v.reason


def test_sidecar_targets_must_match_the_plan_header(saved, tmp_path):
    if not RTX:
        pytest.skip("the TensorRT-RTX plan header lists its targets")
    bad = _tamper(saved, tmp_path / "edited.engine", **{"targets.compute_capabilities": ["9.0"],
                                                        "targets.default": False})
    v = engine_file.check(bad)
    assert not v.compatible
    assert "the plan header targets compute capability" in v.reason and "the sidecar says 9.0" in v.reason
    assert "does not belong to this engine" in v.reason


def test_unsupported_cc(saved, monkeypatch):
    if not RTX:
        pytest.skip("TensorRT-RTX's list of compute capabilities")
    monkeypatch.setattr(backend, "gpus", lambda: (backend.GPU(0, "NVIDIA H100", (9, 0), 80000, "999"),))
    v = engine_file.check(saved)
    assert not v.can_run and "9.0" in v.reason and "TensorRT-RTX does not run engines" in v.reason


def test_bad_sidecar_json(saved, tmp_path):
    bad = copy_pair(saved, tmp_path / "badjson.engine")
    engine_file.sidecar_path(bad).write_text("{not json")
    assert "not valid JSON" in _refusal(bad)


def test_missing_engine(tmp_path):
    assert "no such engine file" in _refusal(tmp_path / "nope.engine")
    empty = tmp_path / "empty.engine"
    empty.write_bytes(b"")
    assert "empty" in _refusal(empty)


def test_missing_sidecar_warns_and_is_best_effort(saved, built, tmp_path):
    alone = tmp_path / "alone.engine"
    shutil.copy(saved, alone)
    v = engine_file.check(alone)
    assert v.intact and v.compatible is fits_here(built.targets) and v.warnings and "best-effort" in v.warnings[0]
    if NO_GPU:
        with pytest.warns(UserWarning, match="no sidecar"), pytest.raises(UserError, match="cannot be deserialized"):
            engine_file.load(alone)


def test_save_replaces_atomically_and_cleans_up(saved, built, monkeypatch):
    before = saved.read_bytes(), engine_file.sidecar_path(saved).read_text()

    def fail(fd):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(engine_file.os, "fsync", fail)
    with pytest.raises(UserError, match="could not save the engine .disk full .injected..; any previous engine"):
        engine_file.save(saved, built, extra={"note": "second"})
    monkeypatch.undo()
    assert (saved.read_bytes(), engine_file.sidecar_path(saved).read_text()) == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name, saved.name + ".json"]  # no temp left
    assert engine_file.check(saved).intact


def test_killed_writer_leaves_previous_engine_intact(saved, built, model, tmp_path):
    """A process SIGKILLed halfway through writing a new engine over the old one."""
    old = saved.read_bytes()
    script = textwrap.dedent(f"""
        import os, signal
        from trtlab import build, engine_file
        big = build.build_onnx({str(model)!r}, build.BuildOptions(max_batch=16))
        real = engine_file.write_temp
        def dying(path, data):
            real(path, data[: len(data) // 2])          # half of the new plan is on disk...
            os.kill(os.getpid(), signal.SIGKILL)        # ...and the writer dies
        engine_file.write_temp = dying
        engine_file.save({str(saved)!r}, big)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert saved.read_bytes() == old
    leftovers = [p.name for p in saved.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the half-written temporary file should be left behind, not the engine"
    v = engine_file.check(saved)
    assert v.intact and v.compatible is fits_here(built.targets), v.reasons
    assert engine_file.read_sidecar(saved)["options"]["max_batch"] == 8  # the old sidecar, too


def test_inspect_report(saved):
    report = engine_file.inspect(saved)
    assert report["size_bytes"] == saved.stat().st_size
    assert report["io"][1]["name"] == "y"
    assert report["verdict"]["intact"]
    text = engine_file.format_inspect(report)
    assert "profile 0: x min [1, 16] opt [8, 16] max [8, 16]" in text
    assert "verdict" in text
    if NO_GPU:
        assert report["deserialized"] is None and "cannot load on this machine" in text


# --- the command line ------------------------------------------------------------------------
def _cli(capfd, *argv: str) -> tuple[int, str, str]:
    from trtlab import cli

    rc = cli.main(list(argv))
    out, err = capfd.readouterr()
    return rc, out, err


def test_cli_build_and_inspect(model, tmp_path, capfd):
    out_path = tmp_path / "cli.engine"
    rc, out, err = _cli(capfd, "build", str(model), "-o", str(out_path), "--max-batch", "4", "--workspace", "32",
                        "--opt-level", "1")
    assert rc == 0, err
    assert out.startswith(f"{out_path}: ") and "bytes, built in" in out and "batch 1..4" in out
    side = engine_file.read_sidecar(out_path)
    assert side["options"]["workspace_mib"] == 32 and side["options"]["opt_level"] == 1
    fits = fits_here(side["targets"])  # not built for this GPU: exit 2
    rc, out, err = _cli(capfd, "inspect", str(out_path))
    assert rc == (0 if fits else 2) and "profile 0: x min [1, 16] opt [4, 16] max [4, 16]" in out and "verdict" in out, err
    assert fits or "rebuild with that target" in err
    rc, out, err = _cli(capfd, "inspect", str(out_path), "--json")
    report = json.loads(out)  # nothing but JSON on stdout (TensorRT's log lines are kept off it)
    assert rc == (0 if fits else 2) and report["verdict"]["intact"] and report["io"][0]["name"] == "x"


def test_cli_build_fp16_and_target(model, tmp_path, capfd):
    rc, out, err = _cli(capfd, "build", str(model), "-o", str(tmp_path / "h.engine"), "--fp16", "--max-batch", "2",
                        *(["--target", "8.6", "--target", "12.0"] if RTX else []))
    assert rc == 0, err
    assert "fp16" in out and engine_file.read_sidecar(tmp_path / "h.engine")["options"]["fp16"] is True
    if RTX:
        assert "targets 8.6, 12.0" in out


@pytest.mark.parametrize("case", ["missing", "folder", "device", "not-onnx", "unknown-op", "bad-batch",
                                  "bad-target"])
def test_cli_build_bad_inputs(case, tmp_path, capfd, model):
    from onnx import TensorProto, helper
    import onnx

    args = ["-o", str(tmp_path / "x.engine")]
    if case == "missing":
        argv, want = [str(tmp_path / "nope.onnx"), *args], "no such ONNX model"
    elif case == "folder":
        argv, want = [str(tmp_path), *args], f"{tmp_path} is a folder, not an ONNX model"
    elif case == "device":
        argv, want = ["/dev/zero", *args], "/dev/zero: not a regular file (a device, pipe or socket)"
    elif case == "not-onnx":
        (tmp_path / "junk.onnx").write_bytes(b"\x00junk" * 10)
        argv, want = [str(tmp_path / "junk.onnx"), *args], "junk.onnx"
    elif case == "unknown-op":
        g = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"], domain="example.com")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                      helper.make_opsetid("example.com", 1)]), tmp_path / "op.onnx")
        argv, want = [str(tmp_path / "op.onnx"), *args], "NoSuchOp"
    elif case == "bad-batch":
        argv, want = [str(model), *args, "--max-batch", "2", "--opt-batch", "8"], "min (1) <= opt (8) <= max (2)"
    else:
        argv, want = [str(model), *args, "--target", "9.0"], "unknown target compute capability '9.0'"
    rc, out, err = _cli(capfd, "build", *argv)
    assert rc == 2
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("trtlab build: error: ") and want in lines[0], err
    assert "Traceback" not in err + out and not (tmp_path / "x.engine").exists()


@pytest.mark.parametrize("case", ["random", "truncated", "other-version", "other-gpu", "missing", "folder",
                                  "device"])
def test_cli_inspect_bad_inputs(case, saved, tmp_path, capfd, monkeypatch):
    if case == "random":
        path = tmp_path / "random.engine"
        path.write_bytes(os.urandom(3000))
        want = "not a TensorRT-RTX engine" if RTX else "random.engine"
    elif case == "truncated":
        path = copy_pair(saved, tmp_path / "t.engine")
        path.write_bytes(saved.read_bytes()[:777])
        want = "truncated: 777 of"
    elif case == "other-version":
        path, want = _tamper(saved, tmp_path / "v.engine", version="0.9.0"), "built with"
    elif case == "other-gpu":
        path = (_sm120_only(tmp_path / "g.engine") if RTX
                else _tamper(saved, tmp_path / "g.engine", **{"targets.compute_capabilities": ["8.0"]}))
        monkeypatch.setattr(backend, "gpus", lambda: (backend.GPU(0, "NVIDIA GeForce RTX 4090", (8, 9), 24000, "1"),))
        want = "this GPU"
    elif case == "folder":
        path, want = tmp_path, f"{tmp_path}: is a folder, not an engine file"
    elif case == "device":
        path, want = Path("/dev/zero"), "/dev/zero: not a regular file (a device, pipe or socket)"
    else:
        path, want = tmp_path / "none.engine", "no such engine file"
    rc, out, err = _cli(capfd, "inspect", str(path))
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("trtlab inspect: error: ") and want in lines[0], err
    assert "Traceback" not in err + out


def test_cli_inspect_for_another_gpu(model, tmp_path, capfd):
    if not RTX:
        pytest.skip("ahead-of-time targets are TensorRT-RTX's")
    path = tmp_path / "sm86.engine"
    assert _cli(capfd, "build", str(model), "-o", str(path), "--max-batch", "2", "--target", "8.6")[0] == 0
    rc, out, err = _cli(capfd, "inspect", str(path), "--cc", "8.6")
    assert rc == 0 and "passes every check made without deserializing for a GPU of compute capability 8.6" in out
    rc, out, err = _cli(capfd, "inspect", str(path), "--cc", "8.9")
    assert rc == 2 and "built for compute capability 8.6; this GPU (--cc) is 8.9" in err
    rc, out, err = _cli(capfd, "inspect", str(path), "--cc", "9.0")
    assert rc == 2 and "does not run engines on compute capability 9.0" in err
    rc, out, err = _cli(capfd, "inspect", str(path), "--cc", "eight")
    assert rc == 2 and err.strip() == "trtlab inspect: error: compute capability must look like 8.6, not 'eight'"


def test_changed_source_model_is_a_warning_not_a_refusal(built, tmp_path):
    model = tiny_onnx(tmp_path / "src.onnx", n=16, m=8)
    path = engine_file.save(tmp_path / "e.engine", built, source_model=model)
    assert [c.ok for c in engine_file.check(path).checks if c.name == "source_model"] == [True]
    tiny_onnx(model, n=16, m=8, batch=4)  # the model is edited after the build
    v = engine_file.check(path)
    assert v.intact and v.compatible is fits_here(built.targets) and any("changed since the build" in w for w in v.warnings)
    model.unlink()
    assert "not found" in [c.detail for c in engine_file.check(path).checks if c.name == "source_model"][0]


def test_read_sidecar_missing_is_empty(tmp_path):
    assert engine_file.read_sidecar(tmp_path / "none.engine") == {}
    (tmp_path / "x.engine.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="not a trtlab sidecar"):
        engine_file.read_sidecar(tmp_path / "x.engine")


def test_save_to_a_folder_or_unwritable_place(built, tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        engine_file.save(tmp_path, built)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="file is a file, not a folder"):
        engine_file.save(tmp_path / "file" / "e.engine", built)  # parent is a file
    with pytest.raises(UserError, match="could not save the engine"):
        engine_file.save(Path("/proc/e.engine"), built)  # a folder nobody may create files in


def test_cli_build_static_model_does_not_claim_a_batch_range(tmp_path, capfd):
    static = tiny_onnx(tmp_path / "static.onnx", n=16, m=8, batch=4)
    rc, out, err = _cli(capfd, "build", str(static), "-o", str(tmp_path / "s.engine"))
    assert rc == 0, err
    assert "(fp32, static shapes, no profile, " in out and "batch 1..64" not in out
    assert "note: the network has no dynamic input" in out


def test_cli_build_over_its_own_model(model, tmp_path, capfd):
    """-o naming the ONNX model itself would replace the user's model with the engine (it did, with exit 0)."""
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(model.read_bytes())
    rc, out, err = _cli(capfd, "build", str(onnx_path), "-o", str(onnx_path), "--max-batch", "2")
    assert rc == 2 and err.strip() == (f"trtlab build: error: {onnx_path} is the model the engine was built from: "
                                       "saving there would overwrite it; give the engine another name (e.g. m.engine)")
    assert onnx_path.read_bytes() == model.read_bytes() and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize("where", ["under-a-file", "sidecar-is-a-folder"])
def test_cli_build_output_that_cannot_be_written(where, model, tmp_path, capfd):
    """Nothing is written, not even the engine without its sidecar, and no temporary file stays."""
    (tmp_path / "notes.txt").write_text("x")
    if where == "under-a-file":
        out_path, want = tmp_path / "notes.txt" / "x.engine", f"{tmp_path / 'notes.txt'} is a file, not a folder"
    else:
        out_path = tmp_path / "x.engine"
        (tmp_path / "x.engine.json").mkdir()
        want = f"{tmp_path / 'x.engine.json'} is a folder, and the sidecar of x.engine must be written there"
    rc, out, err = _cli(capfd, "build", str(model), "-o", str(out_path), "--max-batch", "2")
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("trtlab build: error: ") and want in lines[0], err
    assert "Traceback" not in err + out
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["notes.txt"] if where == "under-a-file" else ["notes.txt", "x.engine.json"])


def test_saved_files_get_the_usual_permissions(built, tmp_path):
    """Written through mkstemp (0600) but left as open() would: umask 022 gives 0644; a replaced file keeps its mode."""
    old = os.umask(0o022)
    try:
        path = engine_file.save(tmp_path / "e.engine", built)
        assert [oct(p.stat().st_mode & 0o777) for p in (path, engine_file.sidecar_path(path))] == ["0o644", "0o644"]
        os.chmod(path, 0o640)
        engine_file.save(path, built)
        assert oct(path.stat().st_mode & 0o777) == "0o640"
    finally:
        os.umask(old)


def test_malformed_sidecar(saved, tmp_path):
    bad = _tamper(saved, tmp_path / "m.engine", engine="not a dict")
    assert "malformed sidecar" in _refusal(bad)
    assert "is a folder" in engine_file.check(tmp_path).reason


@pytest.mark.parametrize("change, want", [
    ({"io": "x"}, "'io' must be a list of tensors"),
    ({"io": [{"name": 1}]}, "'io' must be a list of tensors"),
    ({"profiles": "x"}, "'profiles' must be a list"),
    ({"built": "x"}, "'built' must be an object"),
    ({"targets.compute_capabilities": "8.6"}, "'targets.compute_capabilities' must be a list of strings"),
    ({"targets.compute_capabilities": [8.6, None]}, "'targets.compute_capabilities' must be a list of strings"),
    ({"targets.kind": "jit"}, "'targets.kind' must be \"aot\" or \"gpu\""),
])
def test_cli_inspect_hand_edited_sidecar_fields(change, want, saved, tmp_path, capfd):
    """A sidecar edited by hand into the wrong shape: one line naming the field (was: a traceback in inspect)."""
    path = _tamper(saved, tmp_path / "e.engine", **change)
    rc, out, err = _cli(capfd, "inspect", str(path))
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("trtlab inspect: error: e.engine.json: malformed sidecar: ") and want in lines[0], err
    assert "Traceback" not in err + out


def test_sidecar_rewritten_to_match_a_foreign_plan(saved, tmp_path):
    """Someone copies a sidecar next to an engine from another release and fixes size and hash by hand."""
    if not RTX:
        pytest.skip("the plan header is read on TensorRT-RTX only")
    data = bytearray(saved.read_bytes())
    data[25] = (data[25] + 1) % 256  # the header's minor version: as if built by another release
    other = tmp_path / "foreign.engine"
    other.write_bytes(bytes(data))
    shutil.copy(engine_file.sidecar_path(saved), engine_file.sidecar_path(other))
    side = json.loads(engine_file.sidecar_path(other).read_text())
    side["engine"]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    engine_file.sidecar_path(other).write_text(json.dumps(side))
    assert "the sidecar does not belong to this engine" in _refusal(other)
