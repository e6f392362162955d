"""Turn a percent-format script into a notebook without outputs (an authoring aid).

    python scripts/py2nb.py chapter.py notebooks/NN_name.ipynb

Cells start at lines ``# %%`` (code), ``# %% [markdown]`` (markdown, each line prefixed
``# ``) and ``# %% tags=["parameters"]`` (a tagged code cell). The committed .ipynb is the
source of truth; this only saves typing JSON by hand.
"""
from __future__ import annotations

import json
import re
import sys

import nbformat


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    chunks = re.split(r"^# %%(.*)$", text, flags=re.M)
    for header, body in zip(chunks[1::2], chunks[2::2]):
        body = body.strip("\n")
        tags = json.loads(m.group(1)) if (m := re.search(r"tags=(\[.*?\])", header)) else []
        if "[markdown]" in header:
            lines = [re.sub(r"^# ?", "", line) for line in body.splitlines()]
            cell = nbformat.v4.new_markdown_cell("\n".join(lines))
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cell.id = f"cell-{len(nb.cells):02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    src, dst = sys.argv[1:3]
    nb = convert(open(src, encoding="utf-8").read())
    nbformat.write(nb, dst)
    print(f"{dst}: {len(nb.cells)} cells")
