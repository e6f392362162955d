"""``trtlab book`` and ``trtlab lab``: the static HTML site and JupyterLab.

``build_book`` runs the chapters in order (``trtlab.book.execute``), then writes
``DIR/html/index.html`` and one page per chapter, rendered by nbconvert from the executed
notebook, plus ``DIR/book.json``. The site works opened from disk with no network: no
require.js, MathJax, Mermaid or widget-manager script is fetched from a CDN; ipywidgets
show a note and the static output their cell also produced; ``trtlab.record`` values are
shown as styled ``name = value`` lines.

``lab_command`` / ``run_lab`` start JupyterLab on the notebooks folder on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as _dt
import html
import json
import logging
import os
import platform
import re
import secrets
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import book
from .common import UserError, artifacts_dir, atomic_write, check_output, fds_to, output_folder, repo_root
from .recorder import MIME as RECORD_MIME, preview

BOOK_TITLE = "trtlab — Tensor to TensorRT"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# --- reading a notebook ---------------------------------------------------------------------


def _read(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def title_of(nb: Any, default: str = "") -> str:
    """The text of the notebook's first ``# `` heading (or ``default``)."""
    if isinstance(nb, (str, Path)):
        default = default or Path(nb).stem
        nb = _read(Path(nb))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return _plain_markdown(line[2:].strip())
    return default


def _plain_markdown(text: str) -> str:
    """Markdown inline syntax → plain text, on one line."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    return " ".join(text.split())


def summary_of(nb: Any, limit: int = 220) -> str:
    """The first paragraph (not a heading) of the first markdown cell that has one, one line."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for para in re.split(r"\n\s*\n", cell.source):
            para = para.strip()
            if not para or para.startswith(("#", "|", "```", "<", "---")):
                continue
            text = _plain_markdown(para)
            if len(text) > limit:
                text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
            return text
    return ""


# --- who executed it ------------------------------------------------------------------------


def provenance() -> dict[str, str]:
    """Backend, version, device and date of this run, for every page's footer."""
    from . import backend

    caps = backend.probe()
    if caps.gpu is not None:
        device = f"{caps.gpu.name} (compute capability {caps.gpu.cc}, driver {caps.gpu.driver})"
        if not caps.can_run:
            device += f"; engines do not run here: {caps.run_reason}"
    else:
        device = (f"no NVIDIA GPU — CPU only ({platform.machine()}, {os.cpu_count()} cores): engines are "
                  "built ahead of time, inference shown is the CPU reference")
    return {
        "backend": caps.backend or "none",
        "version": caps.version or "—",
        "device": device,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def footer_html(prov: dict[str, str] | None) -> str:
    if not prov:
        return '<footer class="trtlab-footer">Not executed by trtlab book.</footer>'
    e = {k: html.escape(str(v)) for k, v in prov.items()}
    return ('<footer class="trtlab-footer">Executed with '
            f'<span class="trtlab-backend">{e.get("backend", "?")} {e.get("version", "")}</span> on '
            f'<span class="trtlab-device">{e.get("device", "?")}</span>, Python {e.get("python", "?")}, '
            f'<time>{e.get("date", "?")}</time> by <code>trtlab book</code>.</footer>')


# --- chapters -------------------------------------------------------------------------------


@dataclass
class Chapter:
    """One row of the index: a notebook and how its last run went."""

    name: str  # file stem, e.g. "00_environment"
    title: str
    summary: str = ""
    status: str = "not run"  # "executed" | "failed" | "not run"
    seconds: float | None = None
    error: str = ""
    failed_cell: int | None = None  # the execution count ("In [N]") of the failing cell
    executed: str | None = None  # path of the executed notebook
    provenance: dict[str, str] | None = None
    records: dict[str, Any] = field(default_factory=dict)

    @property
    def page(self) -> str:
        return f"{self.name}.html"

    @property
    def has_page(self) -> bool:
        return self.executed is not None and Path(self.executed).exists()

    @property
    def status_text(self) -> str:
        if self.status == "failed":
            return f"failed at cell {self.failed_cell}" if self.failed_cell is not None else "failed"
        return self.status


def _failed_cell(error: str) -> int | None:
    m = re.match(r"cell (\d+)", error or "")
    return int(m.group(1)) if m else None


def chapter_from_source(path: Path) -> Chapter:
    nb = _read(path)
    return Chapter(name=path.stem, title=title_of(nb, path.stem), summary=summary_of(nb))


# --- rendering ------------------------------------------------------------------------------

CSS = """
.trtlab-nav { display: flex; gap: 1.5em; align-items: baseline; padding: 0.6em 1em; margin: 0 0 1em 0;
  background: #f3f5f7; border-bottom: 1px solid #d0d7de; font-family: system-ui, sans-serif; font-size: 14px; }
.trtlab-nav a { text-decoration: none; color: #0b5cad; }
.trtlab-nav .trtlab-spacer { flex: 1; }
.trtlab-nav.bottom { border-top: 1px solid #d0d7de; border-bottom: none; margin: 2em 0 0 0; }
.trtlab-footer { padding: 0.6em 1em 1.5em 1em; color: #57606a; font-family: system-ui, sans-serif; font-size: 13px; }
.trtlab-record { font-family: var(--jp-code-font-family, monospace); font-size: 13px; padding: 2px 8px;
  margin: 1px 0; border-left: 3px solid #2da44e; background: #f0fff4; display: inline-block; }
.trtlab-record .trtlab-record-tag { color: #2da44e; font-weight: 600; margin-right: 0.4em; }
.trtlab-record .trtlab-record-name { font-weight: 600; }
.trtlab-widget-note { font-family: system-ui, sans-serif; font-size: 13px; padding: 4px 8px;
  border: 1px dashed #8c959f; background: #f6f8fa; color: #57606a; }
"""

INDEX_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1f2328; }
main { max-width: 1000px; margin: 0 auto; padding: 1em 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.5em 0.6em; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { font-size: 13px; color: #57606a; }
td.num, td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
.summary { color: #57606a; font-size: 14px; margin-top: 0.2em; }
.status { white-space: nowrap; font-size: 13px; font-weight: 600; }
.status.executed { color: #1a7f37; } .status.failed { color: #cf222e; } .status.not-run { color: #8c959f; }
a { color: #0b5cad; text-decoration: none; }
.trtlab-footer { padding: 1.5em 0; color: #57606a; font-size: 13px; }
"""

# nbconvert's lab template without any script that would be fetched from the network.
CHAPTER_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.trtlab.css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.trtlab.nav_top }}
{%- endblock body_header -%}
{%- block body_footer -%}
{{ resources.trtlab.nav_bottom }}
{{ resources.trtlab.footer }}
{{ super() }}
{%- endblock body_footer -%}
"""


def _record_html(item: Any) -> str:
    if isinstance(item, str):
        item = json.loads(item)
    shown = preview(item.get("value"))  # as the text/plain fallback and JupyterLab show it
    return ('<div class="trtlab-record" data-record="{n}"><span class="trtlab-record-tag">[record]</span>'
            '<span class="trtlab-record-name">{n}</span> = <span class="trtlab-record-value">{v}</span></div>'
            ).format(n=html.escape(str(item.get("name"))), v=html.escape(shown))


WIDGET_NOTE = ('<div class="trtlab-widget-note">Interactive widget{controls}: open this chapter in JupyterLab '
               '(<code>trtlab lab</code>) to use it.{fallback}</div>')
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _widget_static(model_id: str, state: dict[str, Any], seen: set[str] | None = None
                   ) -> tuple[list[str], list[Any]]:
    """The controls' values (``n = 3``) and the outputs captured by the Output widgets under a widget."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return [], []
    seen.add(model_id)
    model = state[model_id]
    st = model.get("state", {})
    controls: list[str] = []
    outputs: list[Any] = list(st.get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    value = st.get("value")
    labels, index = st.get("_options_labels"), st.get("index")
    if isinstance(labels, list) and isinstance(index, int) and 0 <= index < len(labels):  # selection widgets
        value = labels[index]
    if value is not None and st.get("description") and not isinstance(value, (dict, list)):
        controls.append(f"{st['description']} = {value!r}")
    for child in st.get("children", []) or []:
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            c, o = _widget_static(child[len("IPY_MODEL_"):], state, seen)
            controls += c
            outputs += o
    return controls, outputs


def prepare(nb: Any) -> Any:
    """A copy ready for a static page: records styled, widgets replaced by their static fallback.

    A widget shows a note, the values its controls had, and what its Output widgets captured
    when the notebook ran (papermill stores that in the notebook's widget state).
    """
    import nbformat

    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        new_outputs = []
        for out in cell.outputs:
            data = out.get("data")
            if data and WIDGET_MIME in data:
                view = data.pop(WIDGET_MIME)
                controls, captured = _widget_static(view.get("model_id", "") if isinstance(view, dict) else "",
                                                    state)
                plain = data.get("text/plain", "")
                fallback = f"<pre>{html.escape(plain)}</pre>" if plain and not captured and not plain.startswith(
                    ("interactive(", "VBox(", "HBox(", "Output(", "Tab(", "Accordion(")) else ""
                shown = f" ({html.escape(', '.join(controls))})" if controls else ""
                if not any(k.startswith("image/") or k == "text/html" for k in data):
                    data["text/html"] = WIDGET_NOTE.format(controls=shown, fallback=fallback)
                new_outputs.append(out)
                new_outputs += [nbformat.from_dict(o) for o in captured]
                continue
            new_outputs.append(out)
        for out in new_outputs:
            data = out.get("data")
            if data and RECORD_MIME in data:
                data["text/html"] = _record_html(data[RECORD_MIME])
                del data[RECORD_MIME]
        cell.outputs = new_outputs
    return nb


def _nav(chapters: list[Chapter], i: int, where: str) -> str:
    with_pages = [c for c in chapters if c.has_page]
    me = chapters[i]
    pos = next((k for k, c in enumerate(with_pages) if c.name == me.name), None)
    prev = with_pages[pos - 1] if pos is not None and pos > 0 else None
    nxt = with_pages[pos + 1] if pos is not None and pos + 1 < len(with_pages) else None
    parts = ['<a class="trtlab-index" href="index.html">↑ Contents</a>']
    parts.append(f'<a class="trtlab-prev" href="{prev.page}" rel="prev">← {html.escape(prev.title)}</a>'
                 if prev else '<span class="trtlab-prev"></span>')
    parts.append('<span class="trtlab-spacer"></span>')
    if me.executed:
        parts.append(f'<a class="trtlab-notebook" href="../notebooks/{html.escape(Path(me.executed).name)}">'
                     'executed notebook</a>')
    parts.append(f'<a class="trtlab-next" href="{nxt.page}" rel="next">{html.escape(nxt.title)} →</a>'
                 if nxt else '<span class="trtlab-next"></span>')
    return f'<nav class="trtlab-nav {where}">{"".join(parts)}</nav>'


def _exporter() -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.coalescestreams import CoalesceStreamsPreprocessor

    exporter = HTMLExporter(template_name="lab", template_file="trtlab_chapter.html.j2",
                            extra_loaders=[DictLoader({"trtlab_chapter.html.j2": CHAPTER_TEMPLATE})])
    # A progress bar arrives as many stream chunks separated by \r: show its last state only,
    # as a terminal or JupyterLab would, not every redraw.
    exporter.register_preprocessor(CoalesceStreamsPreprocessor(), enabled=True)
    quiet = logging.getLogger("trtlab.nbconvert")  # not one "alternative text is missing" line per plot
    quiet.setLevel(logging.ERROR)
    exporter.log = quiet
    return exporter


def render(executed: Path, out_html: Path, chapters: list[Chapter] | None = None, index: int = 0,
           exporter: Any = None) -> None:
    """One chapter page from an executed notebook, with navigation and the provenance footer."""
    nb = _read(executed)
    if chapters is None:
        chapters = [Chapter(executed.stem, title_of(nb, executed.stem), executed=str(executed))]
        index = 0
    me = chapters[index]
    nb.metadata["title"] = f"{me.title} — trtlab"
    resources = {"trtlab": {"css": CSS, "nav_top": _nav(chapters, index, "top"),
                            "nav_bottom": _nav(chapters, index, "bottom"), "footer": footer_html(me.provenance)}}
    body, _ = (exporter or _exporter()).from_notebook_node(prepare(nb), resources=resources)
    atomic_write(out_html, body.encode("utf-8"))
    external = external_resources(body)
    if external:  # e.g. a markdown image from the web: the page will not be complete offline
        print(f"trtlab book: warning: {out_html.name} loads from the network: {', '.join(external[:5])}",
              flush=True)


def write_index(chapters: list[Chapter], out_dir: Path, prov: dict[str, str] | None = None) -> Path:
    rows = []
    for i, c in enumerate(chapters):
        title = html.escape(c.title)
        link = f'<a class="chapter-title" href="{c.page}">{title}</a>' if c.has_page else \
            f'<span class="chapter-title">{title}</span>'
        seconds = f"{c.seconds:.1f} s" if c.seconds is not None else "—"
        err = f' title="{html.escape(c.error)}"' if c.error else ""
        rows.append(f'<tr class="chapter" data-name="{html.escape(c.name)}"><td class="num">{html.escape(c.name[:2])}</td>'
                    f'<td>{link}<div class="summary">{html.escape(c.summary)}</div></td>'
                    f'<td class="status {html.escape(c.status.replace(" ", "-"))}"{err}>{html.escape(c.status_text)}</td>'
                    f'<td class="time">{seconds}</td></tr>')
    done = sum(c.status == "executed" for c in chapters)
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(BOOK_TITLE)}</title><style>{INDEX_CSS}</style></head><body><main>"
            f"<h1>{html.escape(BOOK_TITLE)}</h1>"
            "<p>The chapters of the workbook, executed in order by <code>trtlab book</code>. "
            "Open one in JupyterLab with <code>trtlab lab</code> to change and rerun it.</p>"
            f"<p class='count'>{done} of {len(chapters)} chapters executed.</p>"
            "<table><thead><tr><th>#</th><th>chapter</th><th>status</th><th>run time</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{footer_html(prov)}</main></body></html>")
    return atomic_write(out_dir / "index.html", page.encode("utf-8"))


def write_site(chapters: list[Chapter], html_dir: Path, prov: dict[str, str] | None = None) -> Path:
    """Every chapter page that has an executed notebook, then the index."""
    exporter = _exporter()
    for i, c in enumerate(chapters):
        if c.has_page:
            render(Path(c.executed), html_dir / c.page, chapters, i, exporter)  # type: ignore[arg-type]
        else:
            (html_dir / c.page).unlink(missing_ok=True)
    return write_index(chapters, html_dir, prov)


_EXTERNAL = re.compile(r"""<(script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
                       re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """URLs the page would fetch from another host (scripts, stylesheets, images, frames)."""
    return [m.group(2) for m in _EXTERNAL.finditer(page)]


# --- the book -------------------------------------------------------------------------------


def _select(only: str | None) -> list[Path]:
    """``--only`` picks notebooks whose name contains it; commas give several (``00,01``)."""
    if not only:
        return book.notebooks(None)
    picked: dict[Path, None] = {}
    for part in (p.strip() for p in only.split(",")):
        if part:
            picked.update(dict.fromkeys(book.notebooks(part)))
    if not picked:
        raise UserError("--only names no notebook")
    return sorted(picked)


_STATUSES = ("executed", "failed", "not run")


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().parent == folder.resolve() and path.suffix == ".ipynb"
    except (OSError, RuntimeError, ValueError):
        return False


def _previous(out: Path) -> dict[str, dict[str, Any]]:
    """The last run's ``book.json``, entry by entry; a corrupted file or entry counts as no run
    (never a traceback, never a status value outside the three the site knows)."""
    try:
        data = json.loads((out / "book.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    kept: dict[str, dict[str, Any]] = {}
    for name, old in data.items():
        if not isinstance(old, dict) or old.get("status") not in _STATUSES:
            continue
        number = (int, float)
        kept[name] = {
            "status": old["status"],
            "seconds": old["seconds"] if isinstance(old.get("seconds"), number)
            and not isinstance(old.get("seconds"), bool) and 0 <= old["seconds"] < 1e9 else None,
            "error": old["error"] if isinstance(old.get("error"), str) else "",
            "failed_cell": old["failed_cell"] if type(old.get("failed_cell")) is int else None,
            "executed": old["executed"] if isinstance(old.get("executed"), str) and "\0" not in old["executed"]
            and _inside(out / old["executed"], out / "notebooks") else None,  # never a page from elsewhere
            "provenance": old["provenance"] if isinstance(old.get("provenance"), dict)
            and all(isinstance(v, str) for v in old["provenance"].values()) else None,
        }
    return kept


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 (inherited by the kernel papermill starts) at ``path`` for a while.

    TensorRT's C++ logger and ipykernel write there directly, not into the notebook; this keeps
    the book's own output to one line per notebook.
    """
    output_folder(path.parent)
    check_output(path, (), "kernel log")  # a link or a FIFO there is refused, never written through
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as log, fds_to(log, (1, 2)):
        yield


def build_book(only: str | None = None, out: Path = Path("build"), artifacts: Path | None = None,
               timeout: int = 600) -> int:
    """Execute the chosen chapters in order (stopping at the first failure) and write the site.

    Chapters not chosen this time keep their previous result from ``DIR/book.json`` when their
    executed notebook is still there, so ``--only 03`` updates one row of a full book.
    """
    out = Path(out)
    paths = _select(only)
    if timeout < 1:
        raise UserError(f"--timeout is seconds per cell and must be at least 1, not {timeout}")
    for folder in (out, out / "notebooks", out / "logs"):  # before any notebook runs: a part that is a file …
        output_folder(folder)
    every = book.notebooks(None)
    artifacts = output_folder(artifacts) if artifacts is not None else artifacts_dir()
    previous = _previous(out)
    print("trtlab book: probing the TensorRT backend …", flush=True)
    prov = provenance()
    print(f"trtlab book: {prov['backend']} {prov['version']} on {prov['device']}", flush=True)
    chapters = {p.stem: chapter_from_source(p) for p in every}
    for name, old in previous.items():  # keep what an earlier run left, where it still exists
        c = chapters.get(name)
        executed = out / old["executed"] if isinstance(old.get("executed"), str) else None
        if c is None or executed is None or not executed.exists():
            continue
        c.status, c.seconds, c.error = old.get("status", "not run"), old.get("seconds"), old.get("error", "")
        c.failed_cell, c.executed, c.provenance = old.get("failed_cell"), str(executed), old.get("provenance")
    before = {p.stem: dataclasses.replace(chapters[p.stem]) for p in paths}  # what is on disk now
    for p in paths:  # chosen this time: start from scratch
        c = chapters[p.stem]
        c.status, c.seconds, c.error, c.failed_cell, c.executed, c.provenance = "not run", None, "", None, None, None
    start = time.perf_counter()

    def as_on_disk() -> dict[str, Chapter]:
        """This run's rows for the chapters it finished, the earlier rows (and notebooks) for the rest."""
        return {name: (before[name] if name in before and c.seconds is None else c) for name, c in chapters.items()}

    try:  # book.json after every chapter: a run killed halfway leaves a true one
        failed = _run_chapters(paths, chapters, out, artifacts, timeout, prov,
                               lambda: _write_json(every, as_on_disk(), out))
    except KeyboardInterrupt:
        chapters = as_on_disk()
        _write_status(every, chapters, out, prov)
        raise
    index = _write_status(every, chapters, out, prov)
    ran = [chapters[p.stem] for p in paths]
    ok = sum(c.status == "executed" for c in ran)
    print(f"{ok}/{len(paths)} notebooks in {time.perf_counter() - start:.0f} s; site: {index}")
    return 0 if ok == len(paths) and failed is None else 1


def _run_chapters(paths: list[Path], chapters: dict[str, Chapter], out: Path, artifacts: Path, timeout: int,
                  prov: dict[str, str], done: Any = None) -> Chapter | None:
    failed: Chapter | None = None
    for i, path in enumerate(paths, 1):
        c = chapters[path.stem]
        if failed is not None:
            print(f"[{i}/{len(paths)}] {path.stem}: not run (after {failed.name} failed)", flush=True)
            continue
        print(f"[{i}/{len(paths)}] {path.stem} …", end=" ", flush=True)
        log = out / "logs" / f"{path.stem}.log"
        with _output_to(log):  # what the kernel writes to its stdout/stderr goes to a log
            r = book.execute(path, out / "notebooks" / path.name, artifacts=artifacts, timeout=timeout)
        if log.exists() and log.stat().st_size == 0:
            log.unlink()
        c.seconds, c.error, c.records = r.seconds, r.error, r.records
        c.executed = str(r.output) if r.output and r.output.exists() else None
        c.provenance = {**prov, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        if r.ok:
            c.status = "executed"
            print(f"ok in {r.seconds:.1f} s", flush=True)
        else:
            c.status, c.failed_cell, failed = "failed", _failed_cell(r.error), c
            print(f"FAILED in {r.seconds:.1f} s", flush=True)
            print(f"trtlab book: error: {path.name} failed at {r.error}", flush=True)
            if log.exists():
                print(f"trtlab book: kernel messages: {log}", flush=True)
        if done is not None:
            done()
    return failed


def _write_status(every: list[Path], chapters: dict[str, Chapter], out: Path, prov: dict[str, str]) -> Path:
    """The site and ``DIR/book.json`` for the chapters as they stand."""
    index = write_site([chapters[p.stem] for p in every], out / "html", prov)
    _write_json(every, chapters, out)
    return index


def _write_json(every: list[Path], chapters: dict[str, Chapter], out: Path) -> None:
    ordered = [chapters[p.stem] for p in every]
    summary: dict[str, Any] = {}
    for c in ordered:
        d = asdict(c)
        d["seconds"] = round(c.seconds, 2) if c.seconds is not None else None
        if c.executed:  # relative to DIR, so the folder can move
            d["executed"] = os.path.relpath(c.executed, out)
        d.pop("records")
        d["ok"] = c.status == "executed"
        summary[c.name] = d
    atomic_write(out / "book.json", json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"))


# --- JupyterLab -----------------------------------------------------------------------------


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def lab_command(port: int = 8888, open_browser: bool = True, root_dir: Path | None = None,
                token: str | None = None) -> list[str]:
    """The command line that starts JupyterLab on the notebooks folder, on 127.0.0.1 only.

    ``token`` puts the token on the command line, where ``ps`` shows it to every local user: only
    for tests; ``run_lab`` passes it in the environment (``JUPYTER_TOKEN``) instead."""
    root_dir = Path(root_dir or repo_root() / "notebooks").resolve()
    cmd = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root_dir}"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def run_lab(port: int = 8888, open_browser: bool = True) -> int:
    """Print the URL and replace this process with JupyterLab (Ctrl-C stops it)."""
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    if not port_free(port):
        raise UserError(f"port {port} on 127.0.0.1 is already in use; pick another with --port")
    root = repo_root() / "notebooks"
    if not root.is_dir():
        raise UserError(f"no notebooks folder at {root}")
    token = secrets.token_hex(16)
    env = dict(os.environ)
    # The token goes through the environment, not the command line: every local user can read a
    # process's arguments (ps), only its owner its environment (/proc/PID/environ is 0400).
    env["JUPYTER_TOKEN"] = token
    # Kernels start in notebooks/: keep their artifacts where `trtlab book` puts them.
    env.setdefault("TRTLAB_ARTIFACTS", str(repo_root() / "artifacts"))
    cmd = lab_command(port, open_browser, root)
    print(f"JupyterLab on {root}\n  open: http://127.0.0.1:{port}/lab?token={token}\n  stop: Ctrl-C (twice)",
          flush=True)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached
