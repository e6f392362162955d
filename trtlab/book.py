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

from .common import UserError, output_folder, repo_root
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


def execute(path: Path, out: Path, parameters: dict[str, Any] | None = None,
            artifacts: Path | None = None, timeout: int = 600) -> Result:
    """Run one notebook with papermill in its own folder; never raises for a failing cell."""
    import nbformat
    import papermill

    parameters = dict(parameters or {})
    unknown = set(parameters) - declared_parameters(path)
    if unknown:
        raise UserError(f"{path.name} declares no parameter(s) {sorted(unknown)}")
    output_folder(out.parent)
    env_before = os.environ.get("TRTLAB_ARTIFACTS")
    if artifacts is not None:
        os.environ["TRTLAB_ARTIFACTS"] = str(Path(artifacts).resolve())
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(out), parameters=parameters, cwd=str(path.parent),
                                   kernel_name="python3", progress_bar=False, log_output=False,
                                   execution_timeout=timeout)
        ok, error = True, ""
    except papermill.PapermillExecutionError as exc:
        ok, error = False, f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timeout …
        ok, error = False, f"{type(exc).__name__}: {exc}"
    finally:
        if artifacts is not None:
            if env_before is None:
                os.environ.pop("TRTLAB_ARTIFACTS", None)
            else:
                os.environ["TRTLAB_ARTIFACTS"] = env_before
    seconds = time.perf_counter() - start
    records: dict[str, Any] = {}
    if out.exists():
        nb = nbformat.read(out, as_version=4)
        records = read_records(nb)
        if not ok and error.startswith("cell None"):
            error = _failing_cell(nb)
    return Result(path.stem, ok, seconds, records, error, out)
