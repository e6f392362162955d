"""trtlab — the "Tensor to TensorRT" workbook's helper package.

    import trtlab
    trt = trtlab.backend.load()          # tensorrt, else tensorrt_rtx
    trtlab.record("accuracy", 0.98)      # a value the tests and the site read back
    trtlab.reference.evaluate(network, {"x": x})   # submodules load on first use

One ``import trtlab`` gives every stage's module (``trtlab.models``, ``trtlab.build`` …);
each is imported the first time it is used, so TensorFlow loads only where it is needed.

The shape of the package (README, "Architecture", says more):

    backend ─► compat ─► parse ─► build ─► engine_file ─► runtime ─► bench / serve / compare
    (which    (how the   (ONNX ►   (config,  (engine +      (runners: TensorRTRunner,
     TensorRT) backends  network)  plan)     Sidecar,        ReferenceRunner; open_runner
               differ)                       checks)         chooses and says why)

``compat`` is the only module that knows how ``tensorrt``, ``tensorrt_rtx`` and ``tensorrt_lean``
differ; ``engine_file.Sidecar`` is the one schema of the JSON beside an engine; every runner carries
its ``label`` ("TensorRT", "CPU reference"), so callers print it instead of branching on it.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from . import backend
from .common import UserError, artifacts_dir
from .recorder import record

__version__ = "0.1.0"
__all__ = ["backend", "record", "artifacts_dir", "UserError", "__version__"]

# every module of the package, read from the package itself (no list to keep in step by hand)
_SUBMODULES = frozenset(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'trtlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
