"""Sphinx configuration of the trtlab book (used by trtlab/render.py, not run by hand).

``trtlab book`` stages the executed notebooks, an index and a status page into a source
folder beside this file's copy, with ``_trtlab.json`` (chapters, status, provenance), and
builds it twice: English into ``html/`` and Traditional Chinese into ``html/zh_TW/``.
Everything a page needs is served from disk: no CDN, no MathJax, no web fonts.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = json.loads((HERE / "_trtlab.json").read_text(encoding="utf-8")) if (HERE / "_trtlab.json").exists() else {}

project = "trtlab — Tensor to TensorRT"
author = "trtlab"
copyright = "trtlab contributors"
extensions = ["myst_nb", "sphinx_copybutton"]
root_doc = "index"
exclude_patterns = ["_build", "_locales", "_downloads", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["trtlab.css"]
html_title = "trtlab"
html_theme = "sphinx_book_theme"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_permalinks_icon = "#"
html_sidebars = {"**": ["navbar-logo.html", "lang-switch.html", "search-button-field.html", "sbt-sidebar-nav.html"]}
html_theme_options = {
    "use_download_button": False,  # our own downloads bar: notebook, script and one-page HTML
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": True,
}
html_context = {"trtlab": DATA}

# Translations: gettext catalogs under locales/<lang>/LC_MESSAGES, one per page.
locale_dirs = ["_locales"]
gettext_compact = False
gettext_uuid = False
gettext_location = False

# The notebooks were executed by papermill already: render what they hold.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["colon_fence", "deflist"]  # no dollarmath: no MathJax to fetch
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure",
                     "myst.xref_missing", "toc.not_included"]
copybutton_exclude = ".linenos, .gp, .go"
# no mathjax: pages must load from disk with no network
mathjax_path = "data:,"


_SUMMARIES = {}


def _summaries(app):
    """Chapter -> one-line summary, as the index page shows it (translated in the Chinese book)."""
    if not _SUMMARIES:
        from docutils import nodes
        from sphinx.addnodes import pending_xref

        for item in app.env.get_doctree("index").findall(nodes.definition_list_item):
            refs = [x["reftarget"] for x in item.findall(pending_xref) if x.get("reftarget")]
            body = item.next_node(nodes.definition)
            if refs and body is not None:
                _SUMMARIES[refs[0].lstrip("/")] = " ".join(body.astext().split())
    return _SUMMARIES


def _page_context(app, pagename, templatename, context, doctree):
    chapters = {c["name"]: c for c in DATA.get("chapters", [])}
    context["trtlab_chapter"] = chapters.get(pagename)
    context["trtlab_lang"] = app.config.language or "en"
    try:
        context["trtlab_summaries"] = _summaries(app)
    except Exception:  # an index without the chapter list: no tooltips, nothing else lost
        context["trtlab_summaries"] = {}


def _chinese_search(app, exc):
    """Sphinx 9.0.4 names a ChineseStemmer that does not exist, and search stops with a ReferenceError
    (https://github.com/sphinx-doc/sphinx/issues/14229). Chinese search stems Latin words with the
    English stemmer; point at it, as the fix merged upstream does (sphinx-doc/sphinx#14416)."""
    js = Path(app.outdir) / "_static" / "language_data.js"
    if exc is None and js.exists():
        text = js.read_text(encoding="utf-8")
        if "window.Stemmer = ChineseStemmer;" in text:
            js.write_text(text.replace("window.Stemmer = ChineseStemmer;", "window.Stemmer = EnglishStemmer;"),
                          encoding="utf-8")


def setup(app):
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _chinese_search)
