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


def record(name: str, value: Any) -> Any:
    """Show ``name = value`` and store it in the notebook's outputs for tests to read."""
    value = _plain(value)
    json.dumps(value)  # fail here, in the notebook, on a value that cannot be stored
    try:
        from IPython.display import display
    except ImportError:  # plain Python: just print
        print(f"[record] {name} = {value!r}")
        return value
    display({MIME: {"name": name, "value": value}, "text/plain": f"[record] {name} = {value!r}"},
            raw=True)
    return value


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
