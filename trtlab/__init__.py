"""trtlab — the "Tensor to TensorRT" workbook's helper package.

    import trtlab
    trt = trtlab.backend.load()          # tensorrt, else tensorrt_rtx
    trtlab.record("accuracy", 0.98)      # a value the tests and the site read back
    trtlab.reference.evaluate(network, {"x": x})   # submodules load on first use

One ``import trtlab`` gives every stage's module (``trtlab.models``, ``trtlab.build`` …);
each is imported the first time it is used, so TensorFlow loads only where it is needed.
"""
from __future__ import annotations

import importlib
from typing import Any

from . import backend
from .common import UserError, artifacts_dir
from .recorder import record

__version__ = "0.1.0"
__all__ = ["backend", "record", "artifacts_dir", "UserError", "__version__"]

_SUBMODULES = {"bench", "book", "build", "common", "convert", "data", "engine_file", "env", "migrate",
               "models", "network", "parse", "quantize", "recorder", "reference", "runtime", "site", "widgets"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'trtlab' has no attribute {name!r}")
