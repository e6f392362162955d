"""trtlab — the "Tensor to TensorRT" workbook's helper package.

    import trtlab
    trt = trtlab.backend.load()          # tensorrt, else tensorrt_rtx
    trtlab.record("accuracy", 0.98)      # a value the tests and the site read back
"""
from __future__ import annotations

from . import backend
from .common import UserError, artifacts_dir
from .recorder import record

__version__ = "0.1.0"
__all__ = ["backend", "record", "artifacts_dir", "UserError", "__version__"]
