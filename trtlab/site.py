"""``trtlab book`` and ``trtlab lab``: the static HTML site and JupyterLab.

``build_book`` runs the chapters in order (``trtlab.book.execute``), then has
``trtlab.render`` (Sphinx + MyST-NB) write the book from the executed notebooks, in English
(``DIR/html/``) and Traditional Chinese (``DIR/html/zh_TW/``), plus ``DIR/book.json``.

``lab_command`` / ``run_lab`` start JupyterLab on the notebooks folder on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
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

from . import book, render
from .common import UserError, artifacts_dir, atomic_write, check_output, fds_to, output_folder, repo_root


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
    """The notebook's one-line summary (``metadata.trtlab.summary``), else its first paragraph, cut."""
    given = (nb.metadata.get("trtlab") or {}).get("summary") if "metadata" in nb else None
    if isinstance(given, str) and given.strip():
        return " ".join(given.split())
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


# What every kernel says on its way up, and nothing a reader needs (ipykernel 7 on a TCP transport).
_KERNEL_NOISE = re.compile(r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\b")


def _noise_only(log: Path) -> bool:
    """True when a kernel's log holds nothing but ipykernel's start-up warning (or nothing at all)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return all(_KERNEL_NOISE.match(line) for line in lines)


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
    except KeyboardInterrupt:  # book.json true to what is on disk; the site is rendered by a finished run only
        _write_json(every, as_on_disk(), out)
        raise
    index = _write_status(every, chapters, out, prov, artifacts)
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
        if log.exists() and _noise_only(log):
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


def _write_status(every: list[Path], chapters: dict[str, Chapter], out: Path, prov: dict[str, str],
                  artifacts: Path | None = None) -> Path:
    """The book (both languages, through Sphinx) and ``DIR/book.json`` for the chapters as they stand."""
    index = render.write_book([chapters[p.stem] for p in every], out, prov, artifacts=artifacts)
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
