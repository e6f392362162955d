"""Moved to ``trtlab.testing`` (one home for the tiny model, shared by tests and benchmarks)."""
from trtlab.testing import B, W, expected, make_engine, make_onnx  # noqa: F401
