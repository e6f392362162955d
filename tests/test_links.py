"""Every link in the notebooks' prose (and in the book's index) is well-formed and points where
the workbook means to send readers: NVIDIA's documentation and repositories, and the documentation
of the tools it uses. No network: this checks the addresses, not that the pages answer."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from trtlab import book, render

# host -> None (any path) or the path prefixes allowed on that host (organisations on GitHub).
ALLOWED: dict[str, tuple[str, ...] | None] = {
    "docs.nvidia.com": None, "developer.nvidia.com": None, "nvidia.github.io": None, "catalog.ngc.nvidia.com": None,
    "pypi.nvidia.com": None, "forums.developer.nvidia.com": None, "docs.omniverse.nvidia.com": None,
    "github.com": ("/NVIDIA/", "/NVIDIA-AI-IOT/", "/onnx/", "/microsoft/onnxruntime", "/microsoft/onnxconverter-common", "/kserve/", "/triton-inference-server/",
                   "/tensorflow/", "/pytorch/", "/keras-team/", "/jupyter/", "/nteract/papermill",
                   "/jupyter-widgets/", "/sphinx-doc/", "/executablebooks/"),
    "onnxruntime.ai": None, "onnx.ai": None, "pytorch.org": None, "docs.pytorch.org": None,
    "www.tensorflow.org": None, "tensorflow.org": None, "keras.io": None, "docs.python.org": None,
    "numpy.org": None, "matplotlib.org": None, "papermill.readthedocs.io": None, "ipywidgets.readthedocs.io": None,
    "jupyterlab.readthedocs.io": None, "docs.jupyter.org": None, "nbconvert.readthedocs.io": None,
    "pypi.org": None, "docs.cupy.dev": None, "nvidia.github.io/cuda-python": None, "yann.lecun.com": None,
    "www.sphinx-doc.org": None, "myst-nb.readthedocs.io": None, "playwright.dev": None,
    # serving (chapter 11): DLPack (how tensors cross into Triton's Python backend), KServe, Kubernetes
    "dmlc.github.io": None, "kserve.github.io": None, "kubernetes.io": None,
}

MD_LINK = re.compile(r"!?\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?P<url>[^)\s]*(?:\([^)\s]*\)[^)\s]*)*)(?:\s+\"[^\"]*\")?\)")
AUTOLINK = re.compile(r"<(?P<url>https?://[^>\s]+)>")
HTML_HREF = re.compile(r"""<a\s[^>]*href\s*=\s*["'](?P<url>[^"']*)["']""", re.I)
BARE = re.compile(r"(?<![(<\"'=])\bhttps?://[^\s)>\]\"'`]+")


def links(markdown: str) -> list[str]:
    """The link targets of a markdown text: [text](url), <url>, <a href>, and bare http(s) addresses."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)  # code blocks hold code, not links
    found = [m.group("url") for m in MD_LINK.finditer(text)]
    found += [m.group("url") for m in AUTOLINK.finditer(text)] + [m.group("url") for m in HTML_HREF.finditer(text)]
    stripped = AUTOLINK.sub("", HTML_HREF.sub("", MD_LINK.sub("", text)))
    stripped = re.sub(r"`[^`]*`", "", stripped)
    return found + [u.rstrip(".,;:!?") for u in BARE.findall(stripped)]  # a sentence's full stop is not the URL's


def problem(url: str, here: Path) -> str | None:
    """Why ``url`` is not a link the book should have, or None."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "empty or contains spaces"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        if parts.scheme != "https":
            return "not https"
        host = parts.hostname or ""
        if not host or "." not in host or parts.port is not None:
            return "no host"
        if host not in ALLOWED:
            return f"{host} is not a site the book links to (tests/test_links.py ALLOWED)"
        prefixes = ALLOWED[host]
        if prefixes and not any(parts.path.startswith(p) or parts.path + "/" == p for p in prefixes):
            return f"{host}{parts.path} is outside {', '.join(prefixes)}"
        if url.count("(") != url.count(")"):
            return "unbalanced parentheses"
        return None
    if parts.scheme:
        return f"scheme {parts.scheme}: is not for a book page"
    if url.startswith("#"):
        return None if len(url) > 1 else "empty anchor"
    target = (here.parent / parts.path).resolve()
    if not target.exists():
        return f"{parts.path} does not exist"
    return None


def test_the_checker_finds_links_and_refuses_bad_ones(tmp_path):
    text = ("See [the API](https://docs.nvidia.com/deeplearning/tensorrt/latest/index.html) and "
            "<https://onnx.ai/onnx/operators/> or https://github.com/NVIDIA/TensorRT/tree/main/tools/Polygraphy. "
            "`https://in.code/span` and\n```\nhttps://in.a/block\n```\n[next](01_b.ipynb#top)")
    assert links(text) == ["https://docs.nvidia.com/deeplearning/tensorrt/latest/index.html", "01_b.ipynb#top",
                           "https://onnx.ai/onnx/operators/",
                           "https://github.com/NVIDIA/TensorRT/tree/main/tools/Polygraphy"]
    (tmp_path / "01_b.ipynb").write_text("{}")
    here = tmp_path / "00_a.ipynb"
    assert problem("01_b.ipynb#top", here) is None
    assert problem("https://docs.nvidia.com/deeplearning/tensorrt/", here) is None
    assert "does not exist" in problem("02_c.ipynb", here)
    assert "not a site" in problem("https://example.com/x", here)
    assert "outside" in problem("https://github.com/someone/fork", here)
    assert problem("http://docs.nvidia.com/x", here) == "not https"
    assert "spaces" in problem("https://docs.nvidia.com/a b", here)
    assert "scheme file" in problem("file:///home/me/x.html", here)


def _prose(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("name", [p.stem for p in book.notebooks(None)])
def test_notebook_links_are_well_formed_and_go_to_the_intended_sites(name):
    path = book.NOTEBOOKS / f"{name}.ipynb"
    bad = [(url, why) for text in _prose(path) for url in links(text) if (why := problem(url, path))]
    assert not bad, bad


def test_index_links_are_well_formed():
    text = render.index_md(render.source_chapters())
    urls = links(text)
    assert any(u.startswith("https://docs.nvidia.com/") for u in urls), urls
    bad = [(u, why) for u in urls if u != "status.md" and (why := problem(u, book.NOTEBOOKS / "index.md"))]
    assert not bad, bad
