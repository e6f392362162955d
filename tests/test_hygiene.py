"""Committed notebooks: no outputs, kernel python3, a tagged parameters cell first, one
import line for the helpers, none of the habits DESIGN.md rules out."""
from __future__ import annotations

import ast
import re

import nbformat
import pytest

from trtlab import book

NOTEBOOKS = book.notebooks()


def test_chapters_are_numbered_in_order():
    names = [p.stem for p in NOTEBOOKS]
    assert names[:2] == ["00_environment", "01_introduction"]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", n) for n in names)
    assert len({n[:2] for n in names}) == len(names), "two chapters share a number"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_hygiene(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs must be stripped"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    params = ast.parse(code[0].source)
    assert params.body and all(isinstance(n, ast.AnnAssign) for n in params.body), \
        "parameters are typed assignments (NAME: type = value  # comment)"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a title first"
    source = "\n".join(c.source for c in code)
    trtlab_imports = [l for l in source.splitlines() if re.match(r"\s*(import trtlab|from trtlab\b)", l)]
    assert len(trtlab_imports) == 1, f"one import line for the helpers, found {trtlab_imports}"
    for banned in ["sys.path", "!pip", "%pip", "os._exit", "%%timeit", "%timeit"]:
        assert banned not in source, f"{banned} in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_tables_render(path):
    """A pipe table with a row of the wrong width silently renders as a paragraph of pipes."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and re.search(r"^\| *---", cell.source, re.M):
            assert "<table" in markdown2html_mistune(cell.source), f"cell {i}: the table does not render"
