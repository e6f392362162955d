"""How long rendering the book takes once the chapters ran (goal: <= 30 s for both languages on 2 cores).

    python benchmarks/bench_render.py [--book build] [--languages en,zh_TW]

Reads ``BOOK/book.json`` and the executed notebooks a ``trtlab book`` run left in ``BOOK/notebooks``,
copies them to a scratch folder, and times ``trtlab.render.write_book`` there twice: cold (no
Sphinx environment yet: every page read, both languages built side by side, the downloads made)
and warm (nothing changed: what a rerun of one chapter mostly costs). Prints the figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from trtlab import book, render, site


def chapters_from(out: Path) -> tuple[list[site.Chapter], dict | None]:
    data = json.loads((out / "book.json").read_text())
    chapters = []
    for path in book.notebooks(None):
        c = site.chapter_from_source(path)
        d = data.get(path.stem, {})
        c.status, c.seconds, c.error = d.get("status", "not run"), d.get("seconds"), d.get("error", "")
        c.failed_cell, c.provenance = d.get("failed_cell"), d.get("provenance")
        if d.get("executed"):
            c.executed = str(out / d["executed"])
        chapters.append(c)
    return chapters, next((c.provenance for c in chapters if c.provenance), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", type=Path, default=Path("build"), help="a folder trtlab book wrote (default build)")
    ap.add_argument("--languages", default=",".join(render.LANGUAGES))
    args = ap.parse_args()
    if not (args.book / "book.json").exists():
        print(f"bench_render: {args.book}/book.json is missing: run `trtlab book` first", file=sys.stderr)
        return 2
    langs = [x for x in args.languages.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="trtlab-bench-render-") as tmp:
        out = Path(tmp)
        shutil.copytree(args.book / "notebooks", out / "notebooks")
        shutil.copy(args.book / "book.json", out / "book.json")
        chapters, prov = chapters_from(out)
        pages = sum(c.has_page for c in chapters)
        print(f"{pages} executed chapters, languages {', '.join(langs)}, {os.cpu_count()} cores")
        for run in ("cold", "warm"):
            start = time.perf_counter()
            render.write_book(chapters, out, prov, languages=langs)
            print(f"{run}: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
