"""The book ``trtlab book`` renders (Sphinx + MyST-NB, English and zh-TW) from small synthetic
executed notebooks (no papermill, no TensorRT probe). The browser tests check the real book."""
from __future__ import annotations

import base64
import json
import os
import re
import struct
import time
import zlib
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from trtlab import render, site
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
                       error: bool = False, widget: bool = False, paths: tuple[str, ...] = ()) -> Path:
    """An executed-looking notebook: heading + summary, a printed line, a plot, a record."""
    cells = [
        v4.new_code_cell("# Parameters\nARTIFACTS = '/somewhere/artifacts'\n", execution_count=0,
                         metadata={"tags": ["injected-parameters"]}),
        v4.new_markdown_cell(f"# {title}\n\n{summary}\n\nMore text with maths $y = x^2$."),
        v4.new_code_cell("N: int = 2  # parameter", metadata={"tags": ["parameters"]}, execution_count=1),
        v4.new_code_cell("print('hello from', N)", execution_count=2,
                         outputs=[v4.new_output("stream", name="stdout", text="hello from 2\n")]),
        v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([1, 2])", execution_count=3,
                         outputs=[v4.new_output("display_data", data={"image/png": png(),
                                                                       "text/plain": "<Figure size 4x3>"})]),
        v4.new_code_cell("print('saved', ENGINE)", execution_count=4, outputs=[
            v4.new_output("stream", name="stdout", text="".join(f"saved {p}\n" for p in paths))]),
        v4.new_code_cell("trtlab.record('accuracy', 0.98)", execution_count=5,
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
                                                               "language": "python"},
                                                "trtlab": {"summary": summary}})
    if widget:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                 "version_minor": 0}}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    """Four chapters: 00 executed, 01 executed (with a widget), 02 failed, 03 not run; both languages."""
    out = tmp_path_factory.mktemp("book")
    art = out / "art"
    nbs = out / "notebooks"
    specs = [("00_environment", "00 · Environment", {"paths": (f"{art}/lenet.engine", "/tmp/pytest-of-x/y/z.onnx")}),
             ("01_introduction", "01 · Introduction", {"widget": True}),
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
    start = time.perf_counter()
    index = render.write_book(chapters, out, PROV, artifacts=art)
    print(f"render.write_book, 3 chapters, en + zh_TW: {time.perf_counter() - start:.1f} s")
    assert index == out / "html" / "index.html"
    return out


def page(book_dir: Path, name: str) -> str:
    return (book_dir / "html" / name).read_text(encoding="utf-8")


def prev_next(text: str) -> dict[str, str]:
    """The theme's previous/next links at the foot of a page."""
    return dict(re.findall(r'<a class="(left-prev|right-next)"\s+href="([^"]*)"', text))


_EXTERNAL = re.compile(r"""<(script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
                       re.IGNORECASE)


def external_resources(text: str) -> list[str]:
    """URLs a page would fetch from another host (scripts, stylesheets, images, frames)."""
    return [m.group(2) for m in _EXTERNAL.finditer(text)]


def test_summary_comes_from_the_notebook_metadata():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 04 · Build\n\nA first paragraph.")],
                         metadata={"trtlab": {"summary": "  The builder,\n in one line. "}})
    assert site.summary_of(nb) == "The builder, in one line."
    del nb.metadata["trtlab"]
    assert site.summary_of(nb) == "A first paragraph."


def test_every_notebook_has_a_one_line_summary():
    from trtlab import book

    for path in book.notebooks(None):
        summary = nbformat.read(path, as_version=4).metadata.get("trtlab", {}).get("summary", "")
        assert 40 <= len(summary) <= 200 and "\n" not in summary, path.name


def test_title_and_summary_from_first_markdown():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 04 · Build an **engine**\n\nThe [builder](x.html) "
                                                     "turns a network into a plan.\nSecond line.\n\nLater.")])
    assert site.title_of(nb) == "04 · Build an engine"
    assert site.summary_of(nb) == "The builder turns a network into a plan. Second line."
    assert site.title_of(v4.new_notebook(cells=[v4.new_code_cell("x")]), "05_x") == "05_x"
    long = v4.new_notebook(cells=[v4.new_markdown_cell("word " * 200)])
    assert len(site.summary_of(long)) <= 220 and site.summary_of(long).endswith("…")


def test_index_lists_chapters_in_order_with_their_summaries(book_dir):
    index = page(book_dir, "index.html")
    main = index[index.index('<article'):]
    titles = ["00 · Environment", "01 · Introduction", "02 · A network from scratch", "03 · Parse"]
    positions = [main.index(t) for t in titles]
    assert positions == sorted(positions)
    assert 'href="00_environment.html"' in main and 'href="02_network.html"' in main
    assert 'href="03_parse.html"' not in index  # not run: no page, no link
    assert "Summary of 00_environment." in main and "Not run yet." in main
    tooltips = json.loads(re.search(r"var summaries = (\{.*?\});", page(book_dir, "01_introduction.html")).group(1))
    assert tooltips["00_environment"] == "Summary of 00_environment."  # the sidebar's tooltips
    sidebar = index[index.index('bd-sidebar-primary'):index.index('<article')]
    assert [sidebar.index(f'href="{n}.html"') for n in ("00_environment", "01_introduction", "02_network")] == \
        sorted(sidebar.index(f'href="{n}.html"') for n in ("00_environment", "01_introduction", "02_network"))


def test_status_page_has_status_time_and_machine(book_dir):
    status = page(book_dir, "status.html")
    rows = re.findall(r'<tr class="chapter" data-name="(\w+)">.*?<td class="status ([\w-]+)"[^>]*>\s*([^<]*)</td>\s*'
                      r'<td class="time">([^<]*)</td>', status, re.S)
    assert [(n, cls, text.strip(), t) for n, cls, text, t in rows] == [
        ("00_environment", "executed", "executed", "1.2 s"), ("01_introduction", "executed", "executed", "1.2 s"),
        ("02_network", "failed", "failed at cell 6", "1.2 s"), ("03_parse", "not-run", "not run", "—")]
    assert "2 of 4 chapters executed." in status
    assert "tensorrt_rtx 1.7.0" in status and "CPU only" in status
    zh = page(book_dir, "zh_TW/status.html")
    assert "於第 6 格失敗" in zh and "已執行" in zh and "未執行" in zh and "共 4 章，已執行 2 章。" in zh


def test_chapter_pages_have_prev_next_downloads_lab_hint_and_footer(book_dir):
    first, second, third = (page(book_dir, f) for f in ("00_environment.html", "01_introduction.html",
                                                         "02_network.html"))
    assert prev_next(first) == {"left-prev": "index.html", "right-next": "01_introduction.html"}
    assert prev_next(second) == {"left-prev": "00_environment.html", "right-next": "02_network.html"}
    assert prev_next(third)["left-prev"] == "01_introduction.html"
    for name, p in (("00_environment", first), ("01_introduction", second), ("02_network", third)):
        assert "Executed with" in p and "tensorrt_rtx 1.7.0" in p and "2026-11-27 17:30 UTC" in p
        assert "<code>trtlab lab</code>" in p
        for ext in ("ipynb", "py", "html"):
            assert f'href="downloads/{name}.{ext}"' in p
            assert (book_dir / "html" / "downloads" / f"{name}.{ext}").stat().st_size > 100
    assert "<title>00 · Environment" in first
    assert 'id="searchbox"' in first or "search-button" in first  # full-text search
    assert (book_dir / "html" / "searchindex.js").exists() and (book_dir / "html" / "zh_TW" / "searchindex.js").exists()
    assert "copybutton.js" in first
    assert not (book_dir / "html" / "03_parse.html").exists()


def test_downloads_are_the_notebook_a_script_and_one_offline_page(book_dir):
    dl = book_dir / "html" / "downloads"
    nb = nbformat.read(dl / "00_environment.ipynb", as_version=4)
    from trtlab.recorder import read_records

    assert read_records(nb) == {"accuracy": 0.98, "sizes": [1, 2, 3]}  # the tests' values stay in the download
    script = (dl / "00_environment.py").read_text()
    assert "print('hello from', N)" in script and "# # 00 · Environment" in script
    one = (dl / "00_environment.html").read_text()
    assert external_resources(one) == [] and 'src="data:image/png;base64,' in one and "hello from 2" in one
    assert str(book_dir) not in one


def test_language_switch_on_every_page(book_dir):
    for name in ("index", "status", "00_environment", "01_introduction"):
        en, zh = page(book_dir, f"{name}.html"), page(book_dir, f"zh_TW/{name}.html")
        assert f'href="zh_TW/{name}.html">繁體中文</a>' in en
        assert f'href="../{name}.html">English</a>' in zh
        assert '<html lang="zh-TW"' in zh or "lang=\"zh_TW\"" in zh
    zh = page(book_dir, "zh_TW/00_environment.html")
    assert 'href="../downloads/00_environment.ipynb"' in zh and "下載" in zh
    assert "由 <code>trtlab book</code> 於" in zh


def test_pages_fetch_nothing_from_the_network(book_dir):
    pages = list((book_dir / "html").rglob("*.html"))
    assert len(pages) >= 2 * 6
    for f in pages:
        text = f.read_text(encoding="utf-8")
        assert external_resources(text) == [], f.name
        assert "require.js" not in text and "mathjax" not in text.lower(), f.name
    for f in (book_dir / "html" / "_static").rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", f.read_text(errors="replace")), f.name


def test_external_resources_detects_cdn_scripts():
    assert external_resources('<script src="https://cdn.x/require.js"></script>'
                              '<link rel="stylesheet" href="//fonts.example/x.css">'
                              '<img src="data:image/png;base64,AAA"><a href="https://ok.org">ok</a>') == [
        "https://cdn.x/require.js", "//fonts.example/x.css"]


def test_records_hidden_plots_folded_widgets_static(book_dir):
    first, second = page(book_dir, "00_environment.html"), page(book_dir, "01_introduction.html")
    assert first.count('src="_images/') + first.count('src="data:image/png') >= 1
    assert "[record]" not in first and "trtlab.record(" not in first  # the cell that only records is gone
    assert "/somewhere/artifacts" not in first  # papermill's injected parameters are not shown
    assert "hello from 2" in first
    assert re.search(r'class="cell tag_hide-input[^"]*"', first)  # the plotting code folds
    assert "widget-view+json" not in second and "widget-state" not in second
    assert "Interactive widget" in second and "trtlab lab" in second
    assert "Traceback" in page(book_dir, "02_network.html") or "ZeroDivisionError" in page(book_dir, "02_network.html")


def test_no_absolute_machine_path_on_any_page(book_dir):
    first = page(book_dir, "00_environment.html")
    assert "saved artifacts/lenet.engine" in first and "saved …/z.onnx" in first
    for f in (book_dir / "html").rglob("*.html"):
        text = f.read_text(encoding="utf-8")
        assert str(book_dir) not in text and "/tmp/" not in text and str(Path.home()) + "/" not in text, f.name


def test_output_never_breaks_inside_a_word(book_dir):
    css = (book_dir / "html" / "_static" / "trtlab.css").read_text()
    assert "word-break: normal" in css
    assert "trtlab.css" in page(book_dir, "00_environment.html")


def test_publishable_does_not_touch_the_executed_notebook(book_dir):
    path = book_dir / "notebooks" / "00_environment.ipynb"
    before = path.read_text()
    render.publishable(nbformat.read(path, as_version=4), book_dir)
    assert path.read_text() == before and RECORD_MIME in before


def test_widget_shows_its_controls_and_captured_output():
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
    nb = v4.new_notebook(cells=[cell], metadata={"widgets": {render.WIDGET_STATE: {"state": state}}})
    pub = render.publishable(nb)
    outs = pub.cells[0].outputs
    assert "Interactive widget (n = 3)" in outs[0].data["text/html"] and "text/plain" not in outs[0].data
    assert [o.get("text") for o in outs[1:2]] == ["n is 3\n"] and "image/png" in outs[2].data
    assert len(outs) == 3  # the record the widget captured is hidden too
    assert "widgets" not in pub.metadata


def test_relative_paths():
    pairs = [("/a/b/artifacts", "artifacts"), ("/a/b", ".")]
    assert render.relative_paths("saved /a/b/artifacts/x.engine and /a/b/notebooks", pairs) == \
        "saved artifacts/x.engine and ./notebooks"
    assert render.relative_paths("at /tmp/tmpab12/model.onnx.", []) == "at …/model.onnx."
    assert render.relative_paths("ratio 3/4 and http://x/tmp/y", []) == "ratio 3/4 and http://x/tmp/y"


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
    monkeypatch.setattr(render, "LANGUAGES", ("en",))  # the languages are book_dir's business; faster
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

    fail_on = None  # rerun only 02: 00 and 01 keep their earlier rows (from another folder too, named relatively)
    monkeypatch.chdir(src)
    assert site.build_book(only="02", out=Path(os.path.relpath(out, src)), artifacts=tmp_path / "art") == 0
    summary = json.loads((out / "book.json").read_text())
    assert [summary[n]["status"] for n in ("00_a", "01_b", "02_c")] == ["executed", "failed", "executed"]
    assert prev_next((out / "html" / "01_b.html").read_text())["right-next"] == "02_c.html"


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


def test_a_log_with_only_ipykernels_tcp_warning_is_not_kept(tmp_path):
    noise = ("[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication "
             "(including code and outputs) is sent in plain text and is susceptible to eavesdropping.\n")
    (tmp_path / "a.log").write_text(noise)
    (tmp_path / "b.log").write_text(noise + "[TRT] [E] IBuilder::buildSerializedNetwork: error\n")
    (tmp_path / "c.log").write_text("")
    assert site._noise_only(tmp_path / "a.log") and site._noise_only(tmp_path / "c.log")
    assert not site._noise_only(tmp_path / "b.log")
