"""``record(name, value)``: values a notebook hands to its tests and to the rendered site.

Each call displays one output with a custom MIME type holding ``{"name", "value"}`` as JSON
and a plain-text fallback, so it reads well in JupyterLab and in HTML. ``read_records``
finds them again in an executed notebook.
"""
from __future__ import annotations

import json
from typing import Any

MIME = "application/vnd.trtlab.record+json"


def _plain(value: Any) -> Any:
    """Turn NumPy scalars and arrays into JSON types."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def preview(value: Any, limit: int = 160) -> str:
    """``repr(value)``, cut at ``limit`` characters: a long table is stored whole, shown short."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]} … ({len(shown):,} characters in all)"


def record(name: str, value: Any) -> None:
    """Show ``name = value`` and store it in the notebook's outputs for tests to read.

    Returns None, so a ``record(...)`` ending a cell does not print the value a second time.
    """
    value = _plain(value)
    json.dumps(value)  # fail here, in the notebook, on a value that cannot be stored
    line = f"[record] {name} = {preview(value)}"
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:  # plain Python: just print
        print(line)
        return
    display({MIME: {"name": name, "value": value}, "text/plain": line}, raw=True)


def read_records(nb: Any) -> dict[str, Any]:
    """name → value for every ``record`` output in an executed notebook (dict or nbformat node)."""
    found: dict[str, Any] = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME in data:
                item = data[MIME]
                if isinstance(item, str):
                    item = json.loads(item)
                found[item["name"]] = item["value"]
    return found
