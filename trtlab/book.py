"""Execute the notebooks in order with papermill and render them with nbconvert.

``trtlab book`` is the main job: ``DIR/notebooks/NN_name.ipynb`` (executed) and
``DIR/html/`` (one page per chapter and an ``index.html``). Tests call ``execute`` too, so
a notebook runs the same way in the book and in its test.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import UserError, check_output, output_folder, repo_root
from .recorder import read_records

NOTEBOOKS = repo_root() / "notebooks"


@dataclass
class Result:
    name: str
    ok: bool
    seconds: float
    records: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # "cell N: ExceptionName: message" when not ok
    output: Path | None = None


def notebooks(only: str | None = None) -> list[Path]:
    """The chapters in run order; ``only`` picks those whose file name contains it."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if only in p.stem]
        if not found:
            raise UserError(f"no notebook matches {only!r} in {NOTEBOOKS}")
    return found


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in the cell tagged ``parameters``."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            names = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            return names
    return set()


def _failing_cell(nb: Any) -> str:
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i}: {out.get('ename')}: {out.get('evalue')}".strip()
    return "unknown cell"


def _last_started_cell(nb: Any) -> str:
    """"cell N" for the last cell papermill started (its execution count, else its position)."""
    last = None
    for i, cell in enumerate(nb.get("cells", [])):
        if (cell.get("metadata", {}).get("papermill") or {}).get("start_time"):
            last = (i, cell)
    if last is None:
        return "a cell"
    i, cell = last
    count = cell.get("execution_count")
    return f"cell {count}" if isinstance(count, int) else f"the cell at position {i + 1}"


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def execute(path: Path, out: Path, parameters: dict[str, Any] | None = None,
            artifacts: Path | None = None, timeout: int = 600) -> Result:
    """Run one notebook with papermill in its own folder; never raises for a failing cell.

    Papermill writes the notebook as it runs: it writes into a temporary file beside ``out``,
    renamed over ``out`` only once the run ended (every cell ran, or one failed, timed out or
    killed the kernel). Ctrl-C, a kill or a full disk leave the previous ``out`` as it was and
    no partial notebook under its name; ``Result.output`` is None when ``out`` was not written.
    """
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    parameters = dict(parameters or {})
    unknown = set(parameters) - declared_parameters(path)
    if unknown:
        raise UserError(f"{path.name} declares no parameter(s) {sorted(unknown)}")
    check_output(out, (path,), "executed notebook")  # never over the source notebook, a link or a device
    output_folder(out.parent)
    for stale in out.parent.glob(f".{out.name}.*.running.ipynb"):  # left by a killed run
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.running.ipynb")
    env_before = os.environ.get("TRTLAB_ARTIFACTS")
    if artifacts is not None:
        os.environ["TRTLAB_ARTIFACTS"] = str(Path(artifacts).resolve())
    start = time.perf_counter()
    finished = True  # the run ended in a known state: its notebook replaces the previous one
    try:
        papermill.execute_notebook(str(path), str(tmp), parameters=parameters, cwd=str(path.parent),
                                   kernel_name="python3", progress_bar=False, log_output=False,
                                   execution_timeout=timeout)
        ok, error = True, ""
    except papermill.PapermillExecutionError as exc:
        ok, error = False, _one_line(f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}")
    except CellTimeoutError:
        ok, error = False, "timeout"
    except DeadKernelError as exc:
        ok, error = False, _one_line(f"the kernel died: {exc}")
    except OSError as exc:  # full disk, unwritable folder: the previous notebook stays
        ok, error, finished = False, _one_line(f"could not write the executed notebook: {exc.strerror or exc}"), False
    except BaseException:  # Ctrl-C: the previous notebook stays, no partial one is left
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if artifacts is not None:
            if env_before is None:
                os.environ.pop("TRTLAB_ARTIFACTS", None)
            else:
                os.environ["TRTLAB_ARTIFACTS"] = env_before
    seconds = time.perf_counter() - start
    records: dict[str, Any] = {}
    nb = None
    if finished:
        try:
            nb = nbformat.read(tmp, as_version=4)
        except Exception as exc:  # nothing, or not a notebook: keep the previous one
            finished = False
            error = error or _one_line(f"the executed notebook could not be read back: {exc}")
            ok = False
    if error == "timeout":
        error = f"{_last_started_cell(nb) if nb is not None else 'a cell'}: timed out after {timeout} s"
    if nb is not None:
        records = read_records(nb)
        if not ok and error.startswith("cell None"):
            error = _failing_cell(nb)
        try:
            os.replace(tmp, out)
        except OSError as exc:
            finished = False
            ok, error = False, _one_line(f"could not write {out}: {exc.strerror or exc}")
    if not finished:
        tmp.unlink(missing_ok=True)
    return Result(path.stem, ok, seconds, records, error, out if finished else None)
