"""The book's HTML: Sphinx + MyST-NB render the notebooks papermill executed, in English and zh-TW.

Sphinx does what a documentation site needs (sidebar, in-page contents, previous/next, search,
copy buttons, gettext translations); what is left here is the part only trtlab knows:

* ``stage``: a source folder with the Sphinx config from ``book/``, the catalogs from
  ``locales/``, an index and a status page, and a copy of each executed notebook made fit to
  publish (recorded values and papermill's injected parameters removed, plotting code folded,
  widgets replaced by what they showed, absolute paths of this machine shown relative);
* ``downloads``: each chapter as executed notebook, Python script and one self-contained HTML page;
* ``write_book``: both languages built by ``sphinx-build`` (one process each, side by side);
* ``update_catalogs`` / ``check_catalogs``: the translators' side (``trtlab book --check-translations``).
"""
from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from .common import UserError, atomic_write, output_folder, repo_root
from .recorder import MIME as RECORD_MIME

BOOK = repo_root() / "book"
LOCALES = repo_root() / "locales"
LANGUAGES = ("en", "zh_TW")  # English in html/, the others in html/<lang>/
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
TITLE = "trtlab — Tensor to TensorRT"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
INTRO = ("A workbook that teaches TensorRT from Python, one chapter of the “Tensor to TensorRT” guide per "
         "notebook, on today's TensorRT and TensorRT-RTX. Every page was executed by `trtlab book`; "
         "the [status page](status.md) says where and how long each chapter took.")
READ_MORE = ("To change a chapter and run it again, open it in JupyterLab with `trtlab lab`. NVIDIA's "
             "[TensorRT documentation](https://docs.nvidia.com/deeplearning/tensorrt/latest/) and "
             "[TensorRT-RTX documentation](https://docs.nvidia.com/deeplearning/tensorrt-rtx/latest/) are the "
             "reference for every call the chapters make.")
STATUS = ("Which chapters ran when this book was built, how long each took, and on which machine. A chapter "
          "that failed names its cell, and the chapters after it were not run.")


# --- a notebook made fit to publish -------------------------------------------------------------


def _machine_paths(out: Path | None, artifacts: Path | None = None) -> list[tuple[str, str]]:
    """(absolute path, how to show it), longest first: artifacts, the book folder, the project, the venv, ~."""
    artifacts = Path(artifacts or os.environ.get("TRTLAB_ARTIFACTS", "artifacts")).resolve()
    pairs = [(str(artifacts), "artifacts")]
    if out is not None:
        pairs.append((str(Path(out).resolve()), "build"))
    pairs += [(str(repo_root()), "."), (sys.prefix, "<venv>"), (sys.base_prefix, "<python>"),
              (str(Path.home()), "~")]
    return sorted({a: b for a, b in pairs if len(a) > 1}.items(), key=lambda p: -len(p[0]))


_LEFTOVER = re.compile(r"(?<![\w.~<>-])/(?:tmp|home|root|work|mnt|srv|Users|var/folders)/[^\s'\"<>)\]]*")


def relative_paths(text: str, pairs: list[tuple[str, str]]) -> str:
    """Absolute paths of the machine that built the book, shown relative (``artifacts/…``, ``./…``)."""
    for absolute, shown in pairs:
        text = text.replace(absolute + "/", shown + "/").replace(absolute, shown)
    return _LEFTOVER.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _widget_static(model_id: str, state: dict[str, Any], seen: set[str]) -> tuple[list[str], list[Any]]:
    """The controls' values (``n = 3``) and the outputs their Output widgets captured when the book ran."""
    if model_id in seen or model_id not in state:
        return [], []
    seen.add(model_id)
    model = state[model_id]
    st = model.get("state", {})
    outputs = list(st.get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    controls = []
    value, labels, index = st.get("value"), st.get("_options_labels"), st.get("index")
    if isinstance(labels, list) and isinstance(index, int) and 0 <= index < len(labels):
        value = labels[index]
    if value is not None and st.get("description") and not isinstance(value, (dict, list)):
        controls.append(f"{st['description']} = {value!r}")
    for child in st.get("children", []) or []:
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            c, o = _widget_static(child[len("IPY_MODEL_"):], state, seen)
            controls, outputs = controls + c, outputs + o
    return controls, outputs


def _is_plot(cell: Any) -> bool:
    images = any(k.startswith("image/") for o in cell.get("outputs", []) for k in o.get("data", {}))
    return images and bool(re.search(r"\b(plt|matplotlib|ax|axes|fig)\b\.?", cell.source))


_ONLY_RECORDS = re.compile(r"^\s*((trtlab\.)?record\(.*\)\s*|#.*)?$")


def publishable(nb: Any, out: Path | None = None, records: bool = False, artifacts: Path | None = None) -> Any:
    """A copy of an executed notebook for the site (``records=False``) or for download.

    Tags do the folding: MyST-NB and nbconvert honour ``remove-cell``, ``remove-output``, ``hide-input``.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    pairs = _machine_paths(out, artifacts)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    nb.metadata.pop("papermill", None)  # input and output paths of this machine
    nb.metadata.pop("trtlab", None)  # the summary: the index shows it
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if cell.cell_type != "code":
            continue
        if "injected-parameters" in tags:  # papermill's: paths of this machine, nothing to read
            tags.append("remove-cell")
            continue
        expanded = []
        for out_ in cell.get("outputs", []):
            data = out_.get("data", {})
            if WIDGET_VIEW in data:  # what the widget showed when the book ran, and a note
                view = data.pop(WIDGET_VIEW)
                controls, captured = _widget_static(view.get("model_id", "") if isinstance(view, dict) else "",
                                                    state, set())
                shown = f" ({html.escape(', '.join(controls))})" if controls else ""
                if not any(k.startswith("image/") or k == "text/html" for k in data):
                    data["text/html"] = (f'<div class="trtlab-widget-note">Interactive widget{shown}: open this '
                                         'chapter in JupyterLab (<code>trtlab lab</code>) to use it.</div>')
                    data.pop("text/plain", None)
                expanded += [out_] + [nbformat.from_dict(o) for o in captured]
            else:
                expanded.append(out_)
        outputs = [o for o in expanded if records or RECORD_MIME not in o.get("data", {})]
        had_records = len(outputs) < len(expanded)
        for out_ in outputs:
            if "text" in out_:
                out_["text"] = relative_paths(out_["text"], pairs)
            if "traceback" in out_:
                out_["traceback"] = [relative_paths(t, pairs) for t in out_["traceback"]]
            for mime, value in list(out_.get("data", {}).items()):
                if isinstance(value, str) and mime.startswith("text/"):
                    out_["data"][mime] = relative_paths(value, pairs)
        cell.outputs = outputs
        if had_records and not outputs and all(_ONLY_RECORDS.match(line) for line in cell.source.splitlines()):
            tags.append("remove-cell")  # a cell that only hands values to the tests
        elif _is_plot(cell) and "hide-input" not in tags:
            tags.append("hide-input")
        if not tags:
            del cell.metadata["tags"]
    for cell in nb.cells:
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
    return nb


# --- the source folder ---------------------------------------------------------------------------


def _write_if_changed(path: Path, data: bytes) -> None:
    """Sphinx rebuilds what changed by modification time: leave identical files alone."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    atomic_write(path, data)


def _sync_tree(src: Path, dst: Path, pattern: str = "*") -> None:
    for f in src.rglob(pattern):
        if f.is_file() and "__pycache__" not in f.parts:
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_if_changed(target, f.read_bytes())


def index_md(chapters: Iterable[Any]) -> str:
    """The book's first page: every chapter with its one-line summary; the hidden toctree is the sidebar."""
    chapters = list(chapters)
    pages = [c.name for c in chapters if c.has_page]
    lines = [f"# {TITLE}", "", INTRO, "", "```{toctree}", ":hidden:", ":maxdepth: 1", "",
             *pages, "status", "```", "", "## Chapters", ""]
    for c in chapters:
        title = f"{{doc}}`{c.name}`" if c.has_page else c.title  # the chapter's own (translated) heading
        lines += [title, f": {c.summary}" if c.summary else ": —", ""]
    lines += [READ_MORE, ""]
    return "\n".join(lines)


def status_md() -> str:
    return f"# Status of this book\n\n{STATUS}\n"


def stage(chapters: list[Any], out: Path, prov: dict[str, str] | None, artifacts: Path | None = None) -> Path:
    """``out/_sphinx/src``: what sphinx-build reads. Files that did not change keep their time."""
    src = output_folder(out / "_sphinx" / "src")
    _sync_tree(BOOK, src)
    if LOCALES.is_dir():
        _sync_tree(LOCALES, src / "_locales", "*.po")
    import nbformat

    keep = {"index.md", "status.md"}
    for c in chapters:
        if not c.has_page:
            continue
        nb = publishable(nbformat.read(c.executed, as_version=4), out, artifacts=artifacts)
        _write_if_changed(src / f"{c.name}.ipynb", nbformat.writes(nb).encode("utf-8"))
        keep.add(f"{c.name}.ipynb")
    for old in src.glob("*.ipynb"):
        if old.name not in keep:
            old.unlink()
    _write_if_changed(src / "index.md", index_md(chapters).encode("utf-8"))
    _write_if_changed(src / "status.md", status_md().encode("utf-8"))
    data = {"provenance": prov, "done": sum(c.status == "executed" for c in chapters),
            "chapters": [{"name": c.name, "title": c.title, "status": c.status, "seconds": c.seconds,
                          "failed_cell": c.failed_cell, "error": relative_paths(c.error or "", _machine_paths(out, artifacts)),
                          "page": c.has_page, "provenance": c.provenance} for c in chapters]}
    _write_if_changed(src / "_trtlab.json", json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))
    return src


# --- downloads -------------------------------------------------------------------------------------

# nbconvert's lab template without the scripts it would fetch from a CDN (require.js, MathJax, Mermaid).
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _exporters() -> tuple[Any, Any]:
    import logging

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter, PythonExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor, TagRemovePreprocessor

    page = HTMLExporter(template_name="lab", template_file="trtlab_offline.html.j2", embed_images=True,
                        extra_loaders=[DictLoader({"trtlab_offline.html.j2": OFFLINE_TEMPLATE})])
    page.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove-cell"}), enabled=True)
    page.register_preprocessor(CoalesceStreamsPreprocessor(), enabled=True)  # a progress bar: its last state
    quiet = logging.getLogger("trtlab.nbconvert")
    quiet.setLevel(logging.ERROR)
    page.log = quiet
    return page, PythonExporter()


def downloads(chapters: list[Any], out: Path, artifacts: Path | None = None) -> Path:
    """``html/downloads/NAME.{ipynb,py,html}`` for every chapter with a page (remade when it was re-executed)."""
    import nbformat

    folder = output_folder(out / "html" / "downloads")
    exporters = None
    for c in chapters:
        if not c.has_page:
            continue
        executed = Path(c.executed)
        targets = [folder / f"{c.name}.{ext}" for ext in ("ipynb", "py", "html")]
        if all(t.exists() and t.stat().st_mtime >= executed.stat().st_mtime for t in targets):
            continue
        exporters = exporters or _exporters()
        nb = publishable(nbformat.read(executed, as_version=4), out, records=True, artifacts=artifacts)
        nb.metadata["title"] = c.title
        atomic_write(targets[0], nbformat.writes(nb).encode("utf-8"))
        script, _ = exporters[1].from_notebook_node(nb)
        atomic_write(targets[1], script.encode("utf-8"))
        page, _ = exporters[0].from_notebook_node(nb)
        atomic_write(targets[2], page.encode("utf-8"))
    return folder


# --- building ----------------------------------------------------------------------------------------


def _sphinx(src: Path, out: Path, lang: str, builder: str = "html", dest: Path | None = None) -> subprocess.Popen:
    dest = dest or (out / "html" if lang == "en" else out / "html" / lang)
    log = output_folder(out / "logs") / f"sphinx-{lang}.log"
    language = "en" if builder == "gettext" else lang
    cmd = [sys.executable, "-m", "sphinx", "-b", builder, "-q", "-T", "-D", f"language={language}",
           "-d", str(out / "_sphinx" / f"doctrees-{lang}"), str(src), str(dest)]
    with open(log, "wb") as f:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=src,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _finish(procs: dict[str, subprocess.Popen], out: Path) -> None:
    for lang, proc in procs.items():
        if proc.wait() != 0:
            log = out / "logs" / f"sphinx-{lang}.log"
            lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
            errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
            last = (errors or lines or ["no message"])[-1]
            raise UserError(f"rendering the {lang} book failed: {last} (see {log})")


def write_book(chapters: list[Any], out: Path, prov: dict[str, str] | None = None,
               languages: Iterable[str] | None = None, artifacts: Path | None = None) -> Path:
    """Render every executed chapter, the index and the status page, in each language; return the index."""
    out = Path(out).resolve()  # sphinx-build runs in the source folder
    languages = LANGUAGES if languages is None else tuple(languages)
    start = time.perf_counter()
    src = stage(chapters, out, prov, artifacts)
    procs = {lang: _sphinx(src, out, lang) for lang in languages}  # side by side: one core each
    downloads(chapters, out, artifacts)
    _finish(procs, out)
    for scratch in (out / "jupyter_execute", out / "html" / "jupyter_execute"):  # MyST-NB's, beside each outdir
        shutil.rmtree(scratch, ignore_errors=True)
    for lang in procs:  # a log that holds nothing is noise
        log = out / "logs" / f"sphinx-{lang}.log"
        if log.exists() and not log.read_text(errors="replace").strip():
            log.unlink()
    for c in chapters:  # a chapter that has no page this time must not keep an old one
        if not c.has_page:
            for lang in languages:
                (out / "html" / ("" if lang == "en" else lang) / f"{c.name}.html").unlink(missing_ok=True)
    print(f"trtlab book: rendered {', '.join(procs)} in {time.perf_counter() - start:.1f} s", flush=True)
    return out / "html" / "index.html"


# --- translations ---------------------------------------------------------------------------------


def source_chapters() -> list[Any]:
    """The chapters as their sources define them, each with a page (the catalogs cover every chapter)."""
    from . import book, site

    chapters = []
    for path in book.notebooks(None):
        c = site.chapter_from_source(path)
        c.executed, c.status = str(path), "executed"
        chapters.append(c)
    return chapters


def extract_messages(work: Path) -> Path:
    """``work/pot/*.pot``: every message of every page (the notebooks' sources; outputs are not translated)."""
    work = Path(work).resolve()
    src = stage(source_chapters(), work, None)
    _finish({"gettext": _sphinx(src, work, "gettext", "gettext", work / "pot")}, work)
    return work / "pot"


MARKUP_ONLY = re.compile(r"(?:\{\w+\}`[^`]*`|`[^`]*`|\s|[·:—,+/()=-])+")  # code, roles, punctuation


def update_catalogs(work: Path, languages: Iterable[str] = TRANSLATED) -> list[Path]:
    """Extract the messages of every page (``.pot``) and merge them into ``locales/<lang>/LC_MESSAGES``."""
    from sphinx_intl import basic

    extract_messages(work)
    basic.update(str(LOCALES), str(work / "pot"), tuple(languages))
    from babel.messages.pofile import read_po, write_po

    for po_path in sorted(LOCALES.rglob("*.po")):  # a message that is only markup reads the same in every language
        with po_path.open("rb") as f:
            catalog = read_po(f)
        todo = [m for m in catalog if m.id and MARKUP_ONLY.fullmatch(m.id) and (m.string != m.id or m.fuzzy)]
        for m in todo:  # also the fuzzy guesses gettext makes for them from a neighbouring code span
            m.string = m.id
            m.flags.discard("fuzzy")
        if todo:
            with po_path.open("wb") as f:
                write_po(f, catalog, width=76)
    return sorted(LOCALES.rglob("*.po"))


def check_catalogs(lang: str = "zh_TW", pot_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per catalog (page): messages, untranslated, fuzzy, and — given fresh ``.pot`` files — missing ones."""
    from babel.messages.pofile import read_po

    report: dict[str, dict[str, Any]] = {}
    folder = LOCALES / lang / "LC_MESSAGES"
    domains = {p.stem for p in folder.glob("*.po")} | ({p.stem for p in pot_dir.glob("*.pot")} if pot_dir else set())
    for domain in sorted(domains):
        po_path = folder / f"{domain}.po"
        po = read_po(po_path.open("rb")) if po_path.exists() else None
        msgs = [m for m in po if m.id] if po else []
        row: dict[str, Any] = {"messages": len(msgs), "untranslated": sum(not m.string for m in msgs),
                               "fuzzy": sum(m.fuzzy for m in msgs), "missing": 0,
                               "todo": [("fuzzy" if m.fuzzy else "untranslated", m.id) for m in msgs
                                        if m.fuzzy or not m.string]}
        if pot_dir and (pot_dir / f"{domain}.pot").exists():
            have = {m.id for m in msgs}
            new = [m.id for m in read_po((pot_dir / f"{domain}.pot").open("rb")) if m.id and m.id not in have]
            row["missing"], row["todo"] = len(new), row["todo"] + [("not in the catalog", i) for i in new]
        report[domain] = row
    return report


def print_check(report: dict[str, dict[str, Any]], lang: str = "zh_TW", only: str | None = None) -> int:
    """One line per page; with ``only`` (``08,index``), the pages it names and each message still to do."""
    bad = 0
    names = [n.strip() for n in only.split(",") if n.strip()] if only else []
    for domain, row in report.items():
        if names and not any(n in domain for n in names):
            continue
        done = row["messages"] - row["untranslated"] - row["fuzzy"]
        flag = "ok" if not (row["untranslated"] or row["fuzzy"] or row["missing"]) else "INCOMPLETE"
        bad += flag != "ok"
        print(f"{lang} {domain}: {done}/{row['messages']} translated, {row['untranslated']} untranslated, "
              f"{row['fuzzy']} fuzzy, {row['missing']} not in the catalog yet — {flag}")
        for why, msgid in row["todo"] if names else []:
            print(f"    {why}: {' '.join(msgid.split())[:100]}")
    return 1 if bad else 0
