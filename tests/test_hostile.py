"""Hostile input, faults and concurrency (issue 16): every case asserts the exit status, the
one-line reason and what is on disk afterwards (the hash, type, owner and mode of every file
that existed before, links included, and no new file but the ones expected).

The classes: outputs that are not regular files; writing through links; outputs that are inputs
or the project's sources (quantize's -o and serve's model repository included; compare reads
only, and reads no FIFO, device or oversized archive); migrate --fix backups, owners, modes, read-only files and lone
surrogates; concurrent migrate --fix and builds (real processes); the book after a timeout,
Ctrl-C, SIGKILL or a full disk, and a corrupted book.json; the lab token; SavedModel trust;
a 3,000-node graph; names, ranges, locales and standard outputs that used to give tracebacks.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from trtlab import book, cli, common, migrate, site

REPO = common.repo_root()
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
LEGACY = "import tensorrt as trt\nc = network.add_pooling(x, trt.PoolingType.MAX, (2, 2))\n"
FIXED = LEGACY.replace("add_pooling(", "add_pooling_nd(")


# --- helpers ---------------------------------------------------------------------------------
def snapshot(*roots: Path) -> dict[str, tuple]:
    """Everything under ``roots`` (links not followed): type, content hash or link target, owner, mode."""
    seen: dict[str, tuple] = {}
    for root in roots:
        paths = [root] if not root.is_dir() or root.is_symlink() else \
            [root, *(Path(d) / n for d, dirs, files in os.walk(root) for n in dirs + files)]
        for p in paths:
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                what = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            else:
                what = (stat.S_IFMT(st.st_mode), None)
            seen[str(p)] = (*what, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    return seen


def one_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith(f"trtlab {command}: error: "), err
    return lines[0]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def proc(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trtlab.cli", *map(str, argv)], env=kw.pop("env", ENV),
                          capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def bad(capsys, command: str, argv: list, want: str, watch: list[Path], code: int = 2) -> None:
    """Run a command that must refuse: exit ``code``, one line containing ``want``, nothing changed."""
    before = snapshot(*watch)
    got, out, err = run_cli(capsys, command, *argv)
    line = one_line(err, command)
    assert got == code and want in line, (got, line)
    assert snapshot(*watch) == before


@pytest.fixture
def place(tmp_path):
    """A folder with a dummy model, engine, sidecar, a FIFO, a socket and links of each kind."""
    (tmp_path / "model.onnx").write_bytes(b"not read: the output is refused first")
    (tmp_path / "model.pb").write_bytes(b"not read either")
    (tmp_path / "outside.txt").write_text("someone else's file\n")
    os.mkfifo(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "to-device").symlink_to("/dev/null")
    (tmp_path / "to-outside").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "to-nowhere").symlink_to(tmp_path / "missing.engine")
    yield tmp_path
    sock.close()


# --- 1, 2: outputs that are not regular files, links ---------------------------------------
TARGETS = {
    "device": ("/dev/null", "is not a regular file (a device, pipe or socket)"),
    "fifo": ("fifo", "is not a regular file (a device, pipe or socket)"),
    "socket": ("sock", "is not a regular file (a device, pipe or socket)"),
    "link-to-device": ("to-device", "is a symbolic link: trtlab does not write through links"),
    "link-to-a-file": ("to-outside", "is a symbolic link: trtlab does not write through links"),
    "dangling-link": ("to-nowhere", "is a symbolic link: trtlab does not write through links"),
}
COMMANDS = {
    "build": lambda d, out: [d / "model.onnx", "-o", out],
    "convert": lambda d, out: [d / "model.pb", "-o", out],
    "bench": lambda d, out: [d / "model.onnx", "--batch", "1", "--json", out],
    "quantize": lambda d, out: [d / "model.onnx", "--precision", "int8", "-o", out],
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("command", COMMANDS)
def test_outputs_that_are_not_regular_files_are_refused(command, target, place, capsys):
    name, want = TARGETS[target]
    out = Path(name) if name.startswith("/") else place / name
    bad(capsys, command, COMMANDS[command](place, out), want, [place, Path("/dev/null")])
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not (place / "missing.engine").exists()


@pytest.mark.parametrize("target", ["fifo", "link-to-a-file"])
def test_book_out_with_an_odd_executed_notebook_is_refused(target, place, capsys):
    first = book.notebooks(None)[0].name
    (place / "book" / "notebooks").mkdir(parents=True)
    odd = place / "book" / "notebooks" / first
    if target == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(place / "outside.txt")
    bad(capsys, "book", ["--out", place / "book"], TARGETS[target][1], [place])


def test_book_never_writes_a_kernel_log_through_a_link(place, capsys, monkeypatch):
    first = book.notebooks(None)[0]
    (place / "book" / "logs").mkdir(parents=True)
    (place / "book" / "logs" / f"{first.stem}.log").symlink_to(place / "outside.txt")
    monkeypatch.setattr(site, "provenance", lambda: {"backend": "b", "version": "v", "device": "d"})
    monkeypatch.setattr(book, "execute", lambda *a, **k: pytest.fail("ran a notebook"))
    bad(capsys, "book", ["--only", first.stem, "--out", place / "book", "--artifacts", place / "a"],
        "kernel log", [place / "outside.txt", place / "book" / "logs"])


def test_sidecar_name_that_is_a_link_is_refused_before_the_build(place, capsys):
    (place / "e.engine.json").symlink_to(place / "outside.txt")
    bad(capsys, "build", [place / "model.onnx", "-o", place / "e.engine"], "e.engine.json is a symbolic link",
        [place])


@pytest.mark.parametrize("target", ["/dev/null", "fifo", "sock"])
def test_atomic_write_never_replaces_a_device_fifo_or_socket(target, place):
    path = Path(target) if target.startswith("/") else place / target
    before = snapshot(path)
    with pytest.raises(common.UserError, match="is not a regular file"):
        common.atomic_write(path, b"x")
    assert snapshot(path) == before


def test_safe_write_keeps_owner_and_mode_and_replaces_atomically(tmp_path):
    f = tmp_path / "out.json"
    f.write_text("old")
    os.chmod(f, 0o640)
    if AS_ROOT:
        os.chown(f, 12345, 23456)
    common.safe_write(f, b"new")
    st = os.stat(f)
    assert f.read_bytes() == b"new" and stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == ((12345, 23456) if AS_ROOT else (os.getuid(), st.st_gid))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


# --- 5: outputs that are inputs or the project's sources --------------------------------------
@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tiny_engine import make_engine

    return make_engine(tmp_path_factory.mktemp("engine"))


@pytest.mark.parametrize("which", ["engine", "sidecar", "source-model"])
def test_bench_json_never_overwrites_what_bench_reads(which, engine, capsys):
    target = {"engine": engine, "sidecar": engine.with_name(engine.name + ".json"),
              "source-model": engine.parent / "tiny.onnx"}[which]
    want = "which this command reads" if which == "source-model" else "would overwrite the engine or its sidecar"
    bad(capsys, "bench", [engine, "--batch", "1", "--json", target], want, [engine.parent])


def test_build_and_convert_never_overwrite_their_input(place, capsys):
    bad(capsys, "build", [place / "model.onnx", "-o", place / "." / "model.onnx"],
        "is the model the engine was built from: saving there would overwrite it", [place])
    saved = place / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"a SavedModel")
    (saved / "variables").mkdir()
    bad(capsys, "convert", [saved, "--trust-savedmodel", "-o", saved / "saved_model.pb"], "which this command reads",
        [place])
    bad(capsys, "convert", [saved, "--trust-savedmodel", "-o", saved / "variables" / "new.onnx"],
        "which this command reads", [place])


def test_outputs_into_the_project_sources_are_refused(place, capsys, monkeypatch):
    watch = [REPO / "notebooks", REPO / "trtlab"]
    bad(capsys, "build", [place / "model.onnx", "-o", REPO / "notebooks" / "x.engine"], "inside the project's sources",
        watch)
    bad(capsys, "bench", [place / "model.onnx", "--json", REPO / "trtlab" / "cli.py"], "inside the project's sources",
        watch)
    monkeypatch.chdir(REPO)  # `trtlab book --out .` would put executed copies over the sources
    bad(capsys, "book", ["--out", "."], f"would overwrite {REPO / 'notebooks'}", watch)


# --- 1, 2, 5 for quantize, serve and compare -----------------------------------------------------
@pytest.fixture
def tiny(place):
    """The tiny ONNX model (real: quantize and compare read it) and calibration data, in ``place``."""
    import numpy as np

    from trtlab.testing import make_onnx

    np.save(place / "calib.npy", np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32))
    return make_onnx(place / "tiny.onnx")


def test_quantize_never_overwrites_what_it_reads_nor_the_sources(tiny, place, capsys):
    q = [tiny, "--precision", "int8", "--calibration-data", place / "calib.npy", "-o"]
    bad(capsys, "quantize", q + [place / "calib.npy"], "which this command reads", [place])
    bad(capsys, "quantize", q + [place / "." / "tiny.onnx"], "is the input model", [place])
    bad(capsys, "quantize", q + [REPO / "notebooks" / "q.onnx"], "inside the project's sources",
        [place, REPO / "notebooks"])


def test_quantize_replaces_its_output_keeping_the_mode(tiny, place, capsys):
    out = place / "q.onnx"
    out.write_bytes(b"an older result")
    os.chmod(out, 0o640)
    before = {k: v for k, v in snapshot(place).items() if k != str(out)}
    code, _, err = run_cli(capsys, "quantize", tiny, "--precision", "int8", "--calibration-data",
                           place / "calib.npy", "-o", out)
    assert code == 0 and err == "", err
    assert out.read_bytes().startswith(b"\x08") and stat.S_IMODE(os.stat(out).st_mode) == 0o640  # ONNX, mode kept
    assert {k: v for k, v in snapshot(place).items() if k != str(out)} == before  # no temporary file left


def _serve(engine: Path, repository: Path) -> list:
    return [engine, "--port", "0", "--repository", repository]


SERVE_TARGETS = {  # what --repository (or the model folder REPOSITORY/tiny in it) is -> the refusal
    "fifo": "fifo is a file, not a folder",
    "socket": "sock is a file, not a folder",
    "link": "--repository {d}/to-folder is a symbolic link: trtlab does not write through links",
    "model-link": "model folder {d}/repo/tiny is a symbolic link: trtlab does not write through links",
    "model-fifo": "{d}/repo/tiny exists and is not a folder",
}


@pytest.mark.parametrize("target", SERVE_TARGETS)
def test_serve_repository_that_is_not_a_folder_or_is_a_link_is_refused(target, engine, place, capsys):
    (place / "elsewhere").mkdir()
    (place / "to-folder").symlink_to(place / "elsewhere")
    (place / "repo").mkdir()
    if target == "model-link":
        (place / "repo" / "tiny").symlink_to(place / "elsewhere")
    elif target == "model-fifo":
        os.mkfifo(place / "repo" / "tiny")
    repository = place / {"fifo": "fifo", "socket": "sock", "link": "to-folder"}.get(target, "repo")
    bad(capsys, "serve", _serve(engine, repository), SERVE_TARGETS[target].format(d=place), [place, engine.parent])


def test_serve_never_replaces_a_folder_holding_its_engine_nor_the_sources(engine, place, capsys):
    import shutil

    from trtlab.engine_file import sidecar_path

    own = place / "tiny"  # the model folder trtlab serve would write for tiny.engine is this folder
    own.mkdir()
    for f in (engine, sidecar_path(engine), engine.parent / "tiny.onnx"):
        shutil.copy(f, own / f.name)
    bad(capsys, "serve", _serve(own / "tiny.engine", place), "which replacing it would remove", [place])
    bad(capsys, "serve", _serve(engine, REPO / "notebooks"), "inside the project's sources",
        [REPO / "notebooks", engine.parent])


def test_serve_repository_keeps_modes_and_leaves_no_temporary_folder(engine, tmp_path):
    from trtlab import serve

    model, _ = serve.python_repository(engine, tmp_path / "repo", queue_delay_us=100)
    os.chmod(model / "config.pbtxt", 0o600)
    os.chmod(model / "1", 0o700)
    old_config = (model / "config.pbtxt").read_bytes()
    serve.python_repository(engine, tmp_path / "repo", queue_delay_us=None)
    assert (model / "config.pbtxt").read_bytes() != old_config  # rewritten (no dynamic batching now)
    assert stat.S_IMODE(os.stat(model / "config.pbtxt").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(model / "1").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(model / "1" / "model.py").st_mode) == 0o644  # new there: the default
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["tiny"]


@pytest.mark.parametrize("which", ["inputs-fifo", "inputs-device-link", "a-fifo", "a-socket"])
def test_compare_reads_no_fifo_device_or_socket(which, tiny, place, capsys):
    argv = {"inputs-fifo": [tiny, tiny, "--inputs", place / "fifo"],
            "inputs-device-link": [tiny, tiny, "--inputs", place / "to-device"],
            "a-fifo": [place / "fifo", tiny], "a-socket": [tiny, place / "sock"]}[which]
    bad(capsys, "compare", argv, "not a regular file (a device, pipe or socket)", [place, Path("/dev/null")])


def test_compare_refuses_inputs_that_unpack_beyond_its_limit_and_writes_nothing(tiny, place, capsys,
                                                                                 monkeypatch):
    import numpy as np

    from trtlab import compare

    np.savez_compressed(place / "in.npz", x=np.zeros((4096, 4), np.float32))  # 64 KiB unpacked, a few hundred bytes
    monkeypatch.setattr(compare, "INPUTS_LIMIT", (1 << 16) - 1)
    bad(capsys, "compare", [tiny, tiny, "--inputs", place / "in.npz"], "compare reads at most", [place])
    monkeypatch.setattr(compare, "INPUTS_LIMIT", 1 << 30)
    before = snapshot(place)
    code, out, err = run_cli(capsys, "compare", tiny, tiny, "--inputs", place / "in.npz")
    assert code == 0 and err == "" and "PASS" in out
    assert snapshot(place) == before  # compare writes nothing


# --- 2, 3: migrate --fix backups, owners, modes, read-only files ------------------------------
def test_fix_never_writes_through_a_backup_link_nor_replaces_a_backup(tmp_path, capsys):
    f = tmp_path / "x.py"
    f.write_text(LEGACY)
    outside = tmp_path / "bashrc"
    outside.write_text("# the user's shell\n")
    (tmp_path / "x.py.bak").symlink_to(outside)
    (tmp_path / "x.py.bak.1").write_text("the user's own backup\n")
    before = snapshot(outside, tmp_path / "x.py.bak", tmp_path / "x.py.bak.1")
    code, out, err = run_cli(capsys, "migrate", "--fix", f)
    assert code == 0 and err == "" and f"original kept as {tmp_path / 'x.py.bak.2'}" in out
    assert snapshot(outside, tmp_path / "x.py.bak", tmp_path / "x.py.bak.1") == before
    assert f.read_text() == FIXED and (tmp_path / "x.py.bak.2").read_text() == LEGACY
    f.write_text(LEGACY)  # a second run keeps the first run's backup too
    assert run_cli(capsys, "migrate", "--fix", f)[0] == 0
    assert (tmp_path / "x.py.bak.2").read_text() == LEGACY == (tmp_path / "x.py.bak.3").read_text()


@pytest.mark.skipif(not AS_ROOT, reason="giving a file to another owner needs root (CI runs as root)")
def test_fix_keeps_owner_and_mode(tmp_path, capsys):
    f = tmp_path / "x.py"
    f.write_text(LEGACY)
    os.chown(f, 12345, 23456)
    os.chmod(f, 0o640)
    assert run_cli(capsys, "migrate", "--fix", f)[0] == 0
    for p in (f, tmp_path / "x.py.bak"):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 23456, 0o640), p
    assert f.read_text() == FIXED


def test_fix_refuses_read_only_files_and_links_unless_asked(tmp_path, capsys):
    f = tmp_path / "ro.py"
    f.write_text(LEGACY)
    os.chmod(f, 0o444)
    (tmp_path / "link.py").symlink_to(f)
    before = snapshot(tmp_path)
    code, out, err = run_cli(capsys, "migrate", "--fix", f, tmp_path / "link.py")
    assert code == 2 and f"{f}: fatal: --fix could not write: {f} is read-only: not changed" in out
    assert f"{tmp_path / 'link.py'} is a symbolic link: not changed" in out
    assert snapshot(tmp_path) == before
    code, out, err = run_cli(capsys, "migrate", "--fix", "--fix-read-only", f)
    assert code == 0 and f.read_text() == FIXED and stat.S_IMODE(os.stat(f).st_mode) == 0o444
    assert (tmp_path / "ro.py.bak").read_text() == LEGACY
    code, out, err = run_cli(capsys, "migrate", "--fix-read-only", f)
    assert code == 2 and "--fix-read-only only goes with --fix" in one_line(err, "migrate")


def test_fix_keeps_a_lone_surrogate_in_a_notebook(tmp_path, capsys):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "odd: \\ud800 here"},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": LEGACY}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    f = tmp_path / "odd.ipynb"
    f.write_text(json.dumps(nb, indent=1).replace("\\\\ud800", "\\ud800"))
    original = f.read_bytes()
    assert b"\\ud800" in original
    code, out, err = run_cli(capsys, "migrate", "--fix", f)
    assert code == 0 and "Traceback" not in out + err
    fixed = json.loads(f.read_text())
    assert fixed["cells"][0]["source"] == "odd: \ud800 here" and fixed["cells"][1]["source"] == FIXED
    assert (tmp_path / "odd.ipynb.bak").read_bytes() == original


# --- 4: concurrency, with real processes -------------------------------------------------------
def test_parallel_fixes_of_one_file_lose_nothing_and_apply_nothing_twice(tmp_path):
    for round_ in range(2):
        folder = tmp_path / f"r{round_}"
        folder.mkdir()
        f = folder / "x.py"
        f.write_text(LEGACY * 50)
        runs = [subprocess.Popen([sys.executable, "-m", "trtlab.cli", "migrate", "--fix", str(f)], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
        for p in runs:
            p.stderr.close()
        assert all(code == 0 and "Traceback" not in err for code, err in results), results
        assert f.read_text() == FIXED * 50 and "_nd_nd" not in f.read_text()
        backups = sorted(p.name for p in folder.iterdir() if p.name != "x.py")
        assert backups == ["x.py.bak"] and (folder / "x.py.bak").read_text() == LEGACY * 50


def test_two_builds_to_one_engine_leave_a_matching_pair(tmp_path):
    from tiny_engine import make_onnx

    from trtlab import engine_file

    models = [make_onnx(tmp_path / "a.onnx"), make_onnx(tmp_path / "b.onnx", batch=2)]
    out = tmp_path / "same.engine"
    for _ in range(2):
        runs = [subprocess.Popen([sys.executable, "-m", "trtlab.cli", "build", str(m), "-o", str(out),
                                  "--max-batch", "2"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True) for m in models]
        errs = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
        for p in runs:
            p.stderr.close()
        assert all(code == 0 for code, _ in errs), errs
        side = json.loads(engine_file.sidecar_path(out).read_text())
        assert side["engine"]["sha256"] == common.sha256_file(out)
        assert engine_file.check(out).intact
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx", "same.engine", "same.engine.json"]


# --- 6: the book after a timeout, an interruption, a kill, a full disk --------------------------
def _notebook(path: Path, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def previous(tmp_path):
    """A notebook to run and the executed copy an earlier run left."""
    src = _notebook(tmp_path / "nb.ipynb", "import time\nprint('started', flush=True)\ntime.sleep(60)")
    out = tmp_path / "out" / "nb.ipynb"
    out.parent.mkdir()
    out.write_text('{"the": "previous executed notebook"}')
    return src, out


def test_a_cell_timeout_is_one_line_with_its_cell(previous):
    src, out = previous
    r = book.execute(src, out, timeout=3)
    assert not r.ok and r.error == "cell 2: timed out after 3 s" and r.output == out
    assert "".join(json.loads(out.read_text())["cells"][1]["source"]).startswith("import time")  # the failed run, shown
    assert sorted(p.name for p in out.parent.iterdir()) == ["nb.ipynb"]


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_an_interrupted_run_keeps_the_previous_notebook(how, previous):
    src, out = previous
    before = snapshot(out.parent)
    code = (f"from pathlib import Path; from trtlab import book; "
            f"book.execute(Path({str(src)!r}), Path({str(out)!r}), timeout=60)")
    p = subprocess.Popen([sys.executable, "-c", code], env=ENV, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until papermill has written into its temporary file
            tmp = list(out.parent.glob(".nb.ipynb.*.running.ipynb"))
            if tmp and b"started" in tmp[0].read_bytes():
                break
            time.sleep(0.2)
        else:
            pytest.fail("the notebook never started")
        os.kill(p.pid, getattr(signal, how))
        p.wait(timeout=60)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the kernel too
        except ProcessLookupError:
            pass
        p.wait()
        p.stderr.close()
    assert snapshot(out) == {k: v for k, v in before.items() if k == str(out)}
    left = sorted(q.name for q in out.parent.iterdir())
    assert left == (["nb.ipynb"] if how == "SIGINT" else [".nb.ipynb.%d.running.ipynb" % p.pid, "nb.ipynb"])
    # the next run clears what a killed one left, and never renders it
    fast = _notebook(src.parent / "fast.ipynb", "Y = 2")
    r = book.execute(fast, out, timeout=60)
    assert r.ok and sorted(q.name for q in out.parent.iterdir()) == ["nb.ipynb"]


def test_a_full_disk_keeps_the_previous_notebook(previous, monkeypatch):
    import papermill

    src, out = previous
    before = snapshot(out.parent)

    def full(path, output, **kw):
        Path(output).write_text('{"cells": [')  # half a notebook, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(papermill, "execute_notebook", full)
    r = book.execute(src, out)
    assert not r.ok and r.output is None
    assert r.error == "could not write the executed notebook: No space left on device"
    assert snapshot(out.parent) == before


def test_ctrl_c_in_the_book_keeps_every_status_true(tmp_path, monkeypatch, capsys):
    """Chapter 1 finishes, Ctrl-C during chapter 2: book.json says chapter 1 ran, chapter 2 keeps
    the earlier run's row (and notebook), and the command exits 130 with one line."""
    import nbformat

    first, second = book.notebooks(None)[:2]
    out = tmp_path / "book"
    (out / "notebooks").mkdir(parents=True)
    earlier = out / "notebooks" / second.name
    nbformat.write(nbformat.v4.new_notebook(), earlier)
    (out / "book.json").write_text(json.dumps({second.stem: {"status": "failed", "seconds": 3.0, "error": "cell 4: X",
                                                             "failed_cell": 4, "executed": f"notebooks/{second.name}"}}))

    seen = {}

    def fake(path, dest, **kw):
        if path == second:  # what a SIGKILL now would leave: chapter 1 done, chapter 2's earlier row
            seen.update(json.loads((out / "book.json").read_text()))
            raise KeyboardInterrupt
        nbformat.write(nbformat.v4.new_notebook(), dest)
        return book.Result(path.stem, True, 0.5, {}, "", dest)

    monkeypatch.setattr(book, "execute", fake)
    monkeypatch.setattr(site, "provenance", lambda: {"backend": "b", "version": "v", "device": "d"})
    code, out_text, err = run_cli(capsys, "book", "--only", f"{first.stem},{second.stem}", "--out", out,
                                  "--artifacts", tmp_path / "a")
    assert code == 130 and err.strip() == "trtlab book: interrupted"
    status = json.loads((out / "book.json").read_text())
    assert status[first.stem]["status"] == "executed" and status[first.stem]["seconds"] == 0.5
    assert status[second.stem]["status"] == "failed" and status[second.stem]["failed_cell"] == 4
    assert earlier.exists()
    assert seen[first.stem]["status"] == "executed" and seen[second.stem]["failed_cell"] == 4


CORRUPT = {
    "not-json": "{",
    "a-list": "[1, 2]",
    "deep": "[" * 100_000,
    "bad-entries": json.dumps({"00_environment": [1], "01_x": {"status": "<b>", "executed": "notebooks/01_x.ipynb"},
                               "02_y": {"status": "executed", "seconds": "soon", "executed": "../../../etc/passwd"}}),
}


@pytest.mark.parametrize("case", CORRUPT)
def test_a_corrupted_book_json_is_no_previous_run(case, tmp_path):
    (tmp_path / "book.json").write_text(CORRUPT[case])
    prev = site._previous(tmp_path)
    if case != "bad-entries":
        assert prev == {}
    else:
        assert set(prev) == {"02_y"} and prev["02_y"]["seconds"] is None and prev["02_y"]["executed"] is None


def test_status_values_are_escaped_in_html_attributes(tmp_path):
    """A book.json/status value with quotes and tags reaches the status page as text, not as markup
    (rendered for real through the Sphinx book, English only)."""
    from trtlab import render

    c = site.Chapter(name='00_x" onclick="alert(1)', title="t", status='failed" onmouseover="alert(2)',
                     error='"><script>alert(3)</script>')
    render.write_book([c], tmp_path, {"backend": "b", "version": "v", "device": "d", "python": "3", "date": "now"},
                      languages=["en"])
    page = (tmp_path / "html" / "status.html").read_text()
    assert "onclick=\"alert" not in page and "onmouseover=\"alert" not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(3)" in page  # shown, escaped


# --- 8: the lab token is not in the process list ---------------------------------------------
def test_lab_token_is_not_on_the_command_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "trtlab.cli", "lab", "--port", str(port), "--no-browser"],
                         env={**ENV, "JUPYTER_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)},
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = p.stdout.readline() + p.stdout.readline()
        token = re.search(r"token=([0-9a-f]{32})", first).group(1)
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status is None:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2).status
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert status == 200  # the server took the token from the environment
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=wrong", timeout=5)
        cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "jupyterlab" in cmdline and token not in cmdline
        import shutil

        if shutil.which("ps"):  # what another user would see (/proc/PID/cmdline above is what ps reads)
            assert token not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    finally:
        from conftest import stop

        stop(p)
        p.stdout.close()


# --- 9: SavedModels run code: refused unless trusted --------------------------------------------
def test_savedmodel_needs_trust(tmp_path, capsys):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"crafted")
    bad(capsys, "convert", [saved, "-o", tmp_path / "m.onnx"], "runs its own TensorFlow initializers", [tmp_path])
    assert "--trust-savedmodel" in cli.parser()._subparsers._group_actions[0].choices["convert"].format_help()
    assert "--trust-savedmodel" in (REPO / "README.md").read_text()


# --- 10: a deep graph does not crash the build -------------------------------------------------
def test_a_3000_node_chain_builds_instead_of_segfaulting(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    n = 3000
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "deep.onnx"))
    r = proc("build", tmp_path / "deep.onnx", "-o", tmp_path / "deep.engine", timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, (r.returncode, r.stderr[-2000:])
    assert (tmp_path / "deep.engine").stat().st_size > 0 and (tmp_path / "deep.engine.json").exists()


# --- 11, 12: what used to be tracebacks or late or wrong messages --------------------------------
LONG = "a" * 300


@pytest.mark.parametrize("argv", [
    ["build", "{d}/" + LONG + ".onnx", "-o", "{d}/x.engine"],
    ["build", "{d}/model.onnx", "-o", "{d}/" + LONG + ".engine"],
    ["inspect", "{d}/" + LONG + ".engine"],
    ["bench", "{d}/" + LONG + ".engine"],
    ["convert", "{d}/" + LONG + ".pb", "-o", "{d}/x.onnx"],
    ["migrate", "{d}/" + LONG + ".py"],
    ["book", "--out", "{d}/" + LONG],
], ids=["build-in", "build-out", "inspect", "bench", "convert", "migrate", "book-out"])
def test_names_longer_than_255_bytes(argv, place, capsys):
    argv = [a.format(d=place) for a in argv]
    if argv[0] != "migrate":
        bad(capsys, argv[0], argv[1:], "File name too long", [place])
        return
    before = snapshot(place)  # migrate reports each path it could not check and goes on
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and err == "" and f"{argv[1]}: fatal: cannot read: File name too long" in out
    assert snapshot(place) == before


@pytest.mark.parametrize("flag, value", [("--workspace", 2**60), ("--max-batch", 2**32 + 4), ("--opt-batch", 2**40)])
def test_build_integers_beyond_the_api_range(flag, value, place, capsys):
    bad(capsys, "build", [place / "model.onnx", "-o", place / "x.engine", flag, value], f"{flag} must be between",
        [place])


def test_fp16_on_an_initializer_shorter_than_its_dims(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    w = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3], raw_data=b"\0" * 8)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "short",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "short.onnx"))
    bad(capsys, "build", [tmp_path / "short.onnx", "-o", tmp_path / "s.engine", "--fp16"],
        "cannot convert it to FP16: cannot reshape array of size 2", [tmp_path])


@pytest.mark.skipif(not AS_ROOT or not Path("/usr/bin/setpriv").exists(), reason="needs root to drop to nobody")
def test_unreadable_files_and_folders(tmp_path):
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="trtlab-hostile-"))  # pytest's own folders are closed to others
    os.chmod(d, 0o777)
    try:
        _unreadable(d)
    finally:
        for p in (d / "locked", d / "legacy.py", d / "secret.onnx"):
            if p.exists():
                os.chmod(p, 0o755)
        shutil.rmtree(d)


def _unreadable(d: Path) -> None:
    (d / "secret.onnx").write_bytes(b"x")
    os.chmod(d / "secret.onnx", 0o000)
    (d / "locked").mkdir()
    (d / "locked" / "x.py").write_text(LEGACY)
    os.chmod(d / "locked", 0o000)
    (d / "legacy.py").write_text(LEGACY)
    os.chmod(d / "legacy.py", 0o000)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "trtlab.cli"]
    env = {**ENV, "HOME": str(d), "TRTLAB_ARTIFACTS": str(d / "artifacts")}
    before = snapshot(d)
    for argv, want in [(["build", d / "secret.onnx", "-o", d / "x.engine"], "Permission denied"),
                       (["migrate", d / "legacy.py"], "cannot read: Permission denied"),
                       (["migrate", d / "locked"], "Permission denied"),
                       (["migrate", d / "locked" / "x.py"], "cannot read: Permission denied")]:
        r = subprocess.run([*nobody, *map(str, argv)], env=env, capture_output=True, text=True, timeout=120,
                           cwd=d)
        assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr, (argv, r.stdout, r.stderr)
        assert want in r.stdout + r.stderr, (argv, r.stdout, r.stderr)
    os.chmod(d / "locked", 0o755)
    assert snapshot(d) == {**before, str(d / "locked"): (*before[str(d / "locked")][:-1], 0o755)}


@pytest.mark.parametrize("setting", ["C-locale", "ascii-stdout", "dev-full", "closed-stdout"])
def test_terminals_locales_and_standard_outputs(setting, tmp_path):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/x\xff.py"))
    odd.write_text(LEGACY)
    env = dict(ENV)
    kw: dict = {}
    if setting == "C-locale":
        env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    elif setting == "ascii-stdout":
        env["PYTHONIOENCODING"] = "ascii"
    argv = [sys.executable, "-m", "trtlab.cli", "migrate", str(tmp_path)]
    if setting in ("dev-full", "closed-stdout"):
        r = subprocess.run(argv if setting == "dev-full" else ["sh", "-c", '"$@" >&-', "sh", *argv], env=env,
                           stdout=open("/dev/full", "w") if setting == "dev-full" else None,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        if setting == "dev-full":
            assert r.returncode == 2 and one_line(r.stderr, "migrate").endswith(
                "No space left on device (writing the output)")
        else:
            assert r.returncode == 1 and r.stderr == ""
        return
    r = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    out = r.stdout.decode("ascii")  # nothing the terminal cannot show
    assert r.returncode == 1 and r.stderr == b"" and "x" in out and "add_pooling" in out and "Traceback" not in out


def test_bench_json_into_an_unwritable_place_fails_before_the_benchmark(engine, capsys):
    code, out, err = run_cli(capsys, "bench", engine, "--json", "/proc/bench.json")
    assert code == 2 and out == "" and "--json: cannot write in /proc" in one_line(err, "bench")


# --- 14: migrate --fix is linear (the figures are in benchmarks/bench_migrate.py) ----------------
def test_migrate_benchmark_fixes_every_call(capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_migrate
    finally:
        sys.path.pop(0)
    assert bench_migrate.main([300]) == 0
    assert re.search(r"^\s+300 fixes .* s\)  ok$", capsys.readouterr().out, re.M)
