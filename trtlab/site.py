"""``trtlab book``: run the chapters in order, then render them as a static HTML site."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from . import book
from .common import artifacts_dir


def render(executed: Path, out_html: Path) -> None:
    """One chapter page from an executed notebook (nbconvert's lab template)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(body, encoding="utf-8")


def title_of(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def write_index(results: list[book.Result], out_html: Path) -> None:
    rows = []
    for r in results:
        status = "executed" if r.ok else f"failed: {html.escape(r.error)}"
        rows.append(f'<tr><td><a href="{r.name}.html">{html.escape(title_of(book.NOTEBOOKS / (r.name + ".ipynb")))}</a>'
                    f'</td><td class="status">{status}</td><td>{r.seconds:.1f} s</td></tr>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>trtlab — Tensor to TensorRT</title></head>"
            "<body><h1>trtlab — Tensor to TensorRT</h1><table><tr><th>chapter</th><th>status</th>"
            f"<th>run time</th></tr>{''.join(rows)}</table></body></html>")
    (out_html / "index.html").write_text(page, encoding="utf-8")


def build_book(only: str | None = None, out: Path = Path("build"), artifacts: Path | None = None,
               timeout: int = 600) -> int:
    paths = book.notebooks(only)
    artifacts = artifacts or artifacts_dir()
    results: list[book.Result] = []
    start = time.perf_counter()
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.stem} …", end=" ", flush=True)
        r = book.execute(path, out / "notebooks" / path.name, artifacts=artifacts, timeout=timeout)
        results.append(r)
        print(f"{'ok' if r.ok else 'FAILED'} in {r.seconds:.1f} s", flush=True)
        if r.output and r.output.exists():
            render(r.output, out / "html" / f"{path.stem}.html")
        if not r.ok:
            print(f"trtlab book: error: {path.name} failed at {r.error}", flush=True)
            break
    write_index(results, out / "html")
    summary: dict[str, Any] = {r.name: {"ok": r.ok, "seconds": round(r.seconds, 2), "error": r.error}
                               for r in results}
    (out / "book.json").write_text(json.dumps(summary, indent=2))
    print(f"{sum(r.ok for r in results)}/{len(paths)} notebooks in {time.perf_counter() - start:.0f} s; "
          f"site: {out / 'html' / 'index.html'}")
    return 0 if all(r.ok for r in results) and len(results) == len(paths) else 1
