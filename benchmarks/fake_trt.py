"""Moved to ``trtlab.testing`` (one home for the stand-in engine, shared by tests and benchmarks)."""
from trtlab.testing import (FEATURES, PROFILE, DataType, FakeContext, FakeEngine, HostMemory,  # noqa: F401
                            TensorIOMode, _sleep)
