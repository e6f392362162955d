"""The static site of ``trtlab book`` on small synthetic executed notebooks (fast: no papermill,
no TensorRT probe). The browser tests (tests/test_browser.py) check the real book."""
from __future__ import annotations

import base64
import json
import os
import re
import struct
import zlib
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from trtlab import site
from trtlab.recorder import MIME as RECORD_MIME
from conftest import stop

PROV = {"backend": "tensorrt_rtx", "version": "1.7.0", "device": "no NVIDIA GPU — CPU only (x86_64, 2 cores)",
        "python": "3.11.2", "date": "2026-11-27 17:30 UTC"}


def png(width: int = 4, height: int = 3) -> str:
    """A real (tiny, red) PNG, base64 as Jupyter stores it."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return base64.b64encode(data).decode()


def record_output(name: str, value) -> dict:
    return v4.new_output("display_data", data={RECORD_MIME: {"name": name, "value": value},
                                               "text/plain": f"[record] {name} = {value!r}"})


def synthetic_notebook(path: Path, title: str, summary: str = "What this chapter shows.", *,
                       error: bool = False, widget: bool = False) -> Path:
    """An executed-looking notebook: heading + summary, a printed line, a plot, a record."""
    cells = [
        v4.new_markdown_cell(f"# {title}\n\n{summary}\n\nMore text with maths $y = x^2$."),
        v4.new_code_cell("N: int = 2  # parameter", metadata={"tags": ["parameters"]}, execution_count=1),
        v4.new_code_cell("print('hello from', N)", execution_count=2,
                         outputs=[v4.new_output("stream", name="stdout", text="hello from 2\n")]),
        v4.new_code_cell("plot()", execution_count=3,
                         outputs=[v4.new_output("display_data", data={"image/png": png(),
                                                                       "text/plain": "<Figure size 4x3>"})]),
        v4.new_code_cell("trtlab.record('accuracy', 0.98)", execution_count=4,
                         outputs=[record_output("accuracy", 0.98), record_output("sizes", [1, 2, 3])]),
    ]
    if widget:
        cells.append(v4.new_code_cell("explorer()", execution_count=5, outputs=[
            v4.new_output("display_data", data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                             "version_minor": 0},
                "text/plain": "interactive(children=(IntSlider(value=8),))"}),
            v4.new_output("display_data", data={"image/png": png(5, 5), "text/plain": "<Figure>"})]))
    if error:
        cells.append(v4.new_code_cell("1/0", execution_count=6, outputs=[
            v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                          traceback=["Traceback (most recent call last)", "ZeroDivisionError: division by zero"])]))
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    if widget:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                 "version_minor": 0}}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    """Three chapters: 00 executed, 01 executed (with a widget), 02 failed, 03 not run."""
    out = tmp_path_factory.mktemp("book")
    nbs = out / "notebooks"
    specs = [("00_environment", "00 · Environment", {}), ("01_introduction", "01 · Introduction", {"widget": True}),
             ("02_network", "02 · A network from scratch", {"error": True}), ("03_parse", "03 · Parse", None)]
    chapters = []
    for name, title, kw in specs:
        if kw is None:  # never executed: only a source notebook
            src = synthetic_notebook(out / "src" / f"{name}.ipynb", title, "Not run yet.")
            chapters.append(site.chapter_from_source(src))
            continue
        path = synthetic_notebook(nbs / f"{name}.ipynb", title, f"Summary of {name}.", **kw)
        c = site.chapter_from_source(path)
        c.executed, c.provenance, c.seconds = str(path), PROV, 1.25
        c.status = "failed" if kw.get("error") else "executed"
        if c.status == "failed":
            c.error = "cell 6: ZeroDivisionError: division by zero"
            c.failed_cell = site._failed_cell(c.error)
        chapters.append(c)
    site.write_site(chapters, out / "html", PROV)
    return out


def page(book_dir: Path, name: str) -> str:
    return (book_dir / "html" / name).read_text(encoding="utf-8")


def nav(text: str) -> dict[str, str]:
    """The links of a chapter page's top navigation bar, by role (nbconvert sorts attributes)."""
    bar = re.search(r'<nav class="trtlab-nav top">(.*?)</nav>', text, re.S).group(1)
    return dict(re.findall(r'<a class="trtlab-(\w+)" href="([^"]*)"', bar))


def test_title_and_summary_from_first_markdown():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 04 · Build an **engine**\n\nThe [builder](x.html) "
                                                     "turns a network into a plan.\nSecond line.\n\nLater.")])
    assert site.title_of(nb) == "04 · Build an engine"
    assert site.summary_of(nb) == "The builder turns a network into a plan. Second line."
    assert site.title_of(v4.new_notebook(cells=[v4.new_code_cell("x")]), "05_x") == "05_x"
    long = v4.new_notebook(cells=[v4.new_markdown_cell("word " * 200)])
    assert len(site.summary_of(long)) <= 220 and site.summary_of(long).endswith("…")


def test_index_lists_chapters_in_order_with_status_and_time(book_dir):
    index = page(book_dir, "index.html")
    titles = ["00 · Environment", "01 · Introduction", "02 · A network from scratch", "03 · Parse"]
    positions = [index.index(t) for t in titles]
    assert positions == sorted(positions)
    assert 'href="00_environment.html"' in index and 'href="02_network.html"' in index
    assert 'href="03_parse.html"' not in index  # not run: no page, no link
    assert "Summary of 00_environment." in index
    assert ">executed<" in index and ">failed at cell 6<" in index and ">not run<" in index
    assert "1.2 s" in index or "1.3 s" in index
    assert "2 of 4 chapters executed" in index
    assert "tensorrt_rtx 1.7.0" in index


def test_chapter_pages_have_prev_next_index_links_and_footer(book_dir):
    first, second, third = (page(book_dir, f) for f in ("00_environment.html", "01_introduction.html",
                                                         "02_network.html"))
    assert nav(first) == {"index": "index.html", "next": "01_introduction.html",
                          "notebook": "../notebooks/00_environment.ipynb"}
    assert nav(second)["prev"] == "00_environment.html" and nav(second)["next"] == "02_network.html"
    assert nav(third)["prev"] == "01_introduction.html" and "next" not in nav(third)
    for p in (first, second, third):
        assert 'href="index.html"' in p
        assert "Executed with" in p and "tensorrt_rtx 1.7.0" in p and "2026-11-27 17:30 UTC" in p
        assert "CPU only" in p
    assert "<title>00 · Environment — trtlab</title>" in first
    assert not (book_dir / "html" / "03_parse.html").exists()


def test_pages_fetch_nothing_from_the_network(book_dir):
    for f in (book_dir / "html").glob("*.html"):
        text = f.read_text(encoding="utf-8")
        assert site.external_resources(text) == [], f.name
        assert "require.js" not in text and "mathjax" not in text.lower().replace("mathjax_", "")
        assert "cdn" not in text.lower() or "cdnjs" not in text.lower()


def test_external_resources_detects_cdn_scripts():
    assert site.external_resources('<script src="https://cdn.x/require.js"></script>'
                                   '<link rel="stylesheet" href="//fonts.example/x.css">'
                                   '<img src="data:image/png;base64,AAA"><a href="https://ok.org">ok</a>') == [
        "https://cdn.x/require.js", "//fonts.example/x.css"]


def test_plots_records_and_widgets_render_statically(book_dir):
    first, second = page(book_dir, "00_environment.html"), page(book_dir, "01_introduction.html")
    assert first.count('src="data:image/png;base64,') >= 1
    assert 'data-record="accuracy"' in first and "0.98" in first and "[1, 2, 3]" in first
    assert "hello from 2" in first
    assert "widget-view+json" not in second and "widget-state" not in second
    assert "Interactive widget" in second and "trtlab lab" in second
    assert second.count('src="data:image/png;base64,') >= 2  # the widget cell's static plot too
    assert "Traceback" in page(book_dir, "02_network.html")  # errors are shown, not hidden


def test_widget_shows_its_controls_and_captured_output(tmp_path):
    """interact(...) under papermill: the plot lives in the widget state's Output model."""
    cell = v4.new_code_cell("interact(f, n=(1, 10))", execution_count=1, outputs=[v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "box"},
                              "text/plain": "interactive(children=(IntSlider(value=3),))"})])
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "IntSliderModel", "state": {"description": "n", "value": 3}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "stream", "name": "stdout", "text": "n is 3\n"},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": png(), "text/plain": "<Fig>"}},
            dict(record_output("best_batch", 8))]}},
    }
    nb = v4.new_notebook(cells=[cell], metadata={"widgets": {site.WIDGET_STATE: {"state": state}}})
    path = tmp_path / "w.ipynb"
    nbformat.write(nb, path)
    site.render(path, tmp_path / "w.html")
    text = (tmp_path / "w.html").read_text()
    assert "Interactive widget (n = 3)" in text and "n is 3" in text
    assert 'src="data:image/png;base64,' in text and 'data-record="best_batch"' in text
    assert "widget-view+json" not in text and "interactive(children" not in text
    assert site.external_resources(text) == []


def test_prepare_does_not_touch_the_executed_notebook(book_dir):
    path = book_dir / "notebooks" / "00_environment.ipynb"
    before = path.read_text()
    site.prepare(nbformat.read(path, as_version=4))
    assert path.read_text() == before and RECORD_MIME in before


def test_select_accepts_several_names(monkeypatch, tmp_path):
    from trtlab import book

    for n in ("00_a", "01_b", "02_c", "10_d"):
        synthetic_notebook(tmp_path / f"{n}.ipynb", n)
    monkeypatch.setattr(book, "NOTEBOOKS", tmp_path)
    assert [p.stem for p in site._select("00,01")] == ["00_a", "01_b"]
    assert [p.stem for p in site._select(None)] == ["00_a", "01_b", "02_c", "10_d"]
    with pytest.raises(site.UserError):
        site._select("zz")


def test_build_book_merges_previous_runs_and_reports_failure(monkeypatch, tmp_path, capsys):
    """build_book with a fake executor: a failure stops the run, names the cell, exits 1, still renders."""
    from trtlab import book

    src = tmp_path / "nbs"
    for n in ("00_a", "01_b", "02_c"):
        synthetic_notebook(src / f"{n}.ipynb", f"Chapter {n}")
    monkeypatch.setattr(book, "NOTEBOOKS", src)
    monkeypatch.setattr(site, "provenance", lambda: dict(PROV))

    def fake_execute(path, out, artifacts=None, timeout=600, parameters=None):
        failing = path.stem == fail_on
        os.write(1, f"kernel noise from {path.stem}\n".encode())  # as TensorRT's C++ logger does
        synthetic_notebook(out, f"Chapter {path.stem}", error=failing)
        return book.Result(path.stem, not failing, 0.5, {}, "cell 6: ZeroDivisionError: boom" if failing else "",
                           out)

    monkeypatch.setattr(book, "execute", fake_execute)
    out = tmp_path / "out"
    fail_on = "01_b"
    assert site.build_book(only=None, out=out, artifacts=tmp_path / "art") == 1
    printed = capsys.readouterr().out
    assert "01_b.ipynb failed at cell 6: ZeroDivisionError: boom" in printed
    assert "02_c: not run" in printed and "kernel noise" not in printed
    assert (out / "logs" / "01_b.log").read_text() == "kernel noise from 01_b\n"
    assert f"kernel messages: {out / 'logs' / '01_b.log'}" in printed
    summary = json.loads((out / "book.json").read_text())
    assert [summary[n]["status"] for n in ("00_a", "01_b", "02_c")] == ["executed", "failed", "not run"]
    assert summary["00_a"]["ok"] is True and summary["01_b"]["failed_cell"] == 6
    assert summary["00_a"]["executed"] == "notebooks/00_a.ipynb" and summary["02_c"]["executed"] is None
    assert (out / "html" / "01_b.html").exists() and not (out / "html" / "02_c.html").exists()

    fail_on = None  # rerun only 02: 00 and 01 keep their earlier rows (from another folder too)
    monkeypatch.chdir(src)
    assert site.build_book(only="02", out=out, artifacts=tmp_path / "art") == 0
    summary = json.loads((out / "book.json").read_text())
    assert [summary[n]["status"] for n in ("00_a", "01_b", "02_c")] == ["executed", "failed", "executed"]
    assert nav((out / "html" / "01_b.html").read_text())["next"] == "02_c.html"


@pytest.mark.parametrize("case", ["out-under-a-file", "artifacts-under-a-file", "timeout",
                                  "env-artifacts-under-a-file", "logs-is-a-file"])
def test_trtlab_book_refuses_bad_options_before_running_anything(case, monkeypatch, tmp_path, capsys):
    """One line, exit 2, no notebook run and nothing written (was: a traceback after the first notebook started)."""
    from trtlab import book, cli

    synthetic_notebook(tmp_path / "nbs" / "00_a.ipynb", "Chapter 00_a")
    monkeypatch.setattr(book, "NOTEBOOKS", tmp_path / "nbs")
    monkeypatch.setattr(site, "provenance", lambda: dict(PROV))
    monkeypatch.setattr(book, "execute", lambda *a, **k: pytest.fail("no notebook should run"))
    (tmp_path / "notes.txt").write_text("x")
    argv, want = {
        "out-under-a-file": (["--out", str(tmp_path / "notes.txt" / "book")], f"{tmp_path / 'notes.txt'} is a file"),
        "artifacts-under-a-file": (["--out", str(tmp_path / "book"), "--artifacts", str(tmp_path / "notes.txt" / "a")],
                                   f"{tmp_path / 'notes.txt'} is a file"),
        "timeout": (["--out", str(tmp_path / "book"), "--timeout", "0"], "--timeout is seconds per cell and must be"),
        "logs-is-a-file": (["--out", str(tmp_path / "book")], f"{tmp_path / 'book' / 'logs'} is a file, not a folder"),
        "env-artifacts-under-a-file": (["--out", str(tmp_path / "book")],
                                       f"artifacts folder (TRTLAB_ARTIFACTS): {tmp_path / 'notes.txt'} is a file"),
    }[case]
    if case == "env-artifacts-under-a-file":
        monkeypatch.setenv("TRTLAB_ARTIFACTS", str(tmp_path / "notes.txt" / "a"))
    if case == "logs-is-a-file":
        (tmp_path / "book").mkdir()
        (tmp_path / "book" / "logs").write_text("")
    code = cli.main(["book", *argv])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("trtlab book: error: ") and want in lines[0], err
    assert "Traceback" not in out + err and out == ""
    assert {p.name for p in tmp_path.iterdir()} <= {"nbs", "notes.txt", "book"}
    assert not [p for p in tmp_path.glob("book/**/*") if p.is_file() and p.name != "logs"]  # no output written


def test_lab_command_is_loopback_only(tmp_path):
    import os

    cmd = site.lab_command(9999, open_browser=False, root_dir=tmp_path, token="t0k")
    assert cmd[1:3] == ["-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=9999" in cmd and "--no-browser" in cmd
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd and "--IdentityProvider.token=t0k" in cmd
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)
    assert "--no-browser" not in site.lab_command(9999, open_browser=True)


def test_lab_refuses_a_busy_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not site.port_free(port)
        with pytest.raises(site.UserError, match="already in use"):
            site.run_lab(port, open_browser=False)


def test_trtlab_lab_prints_the_url_and_serves_the_notebooks():
    """`trtlab lab --no-browser` for real: the printed URL answers, on 127.0.0.1 only."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "trtlab.cli", "lab", "--port", str(port), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        m = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", "".join(lines))
        assert m, lines
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={m.group(1)}",
                                            timeout=5) as r:
                    names = [c["name"] for c in json.loads(r.read())["content"]]
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        assert "00_environment.ipynb" in names
    finally:
        stop(proc)


def test_progress_bar_redraws_render_as_their_last_state(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("build()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"\rbuilding: {i}/3")
                    for i in range(4)] + [nbformat.v4.new_output("stream", name="stderr", text="\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Bars"), cell]
    path = tmp_path / "00_bars.ipynb"
    nbformat.write(nb, path)
    site.render(path, tmp_path / "00_bars.html")
    page = (tmp_path / "00_bars.html").read_text()
    assert "building: 3/3" in page and "building: 1/3" not in page
