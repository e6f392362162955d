"""The stand-in engine of ``fake_trt.py`` with the parts of the TensorRT interface that
``trtlab.engine_tools`` calls on top of ``execute_async_v3``: ``execute_v2(bindings)``, a
``profiler`` told each "layer"'s time after a synchronous run, and ``create_engine_inspector()``
answering in the JSON layout of ``LayerInformationFormat.JSON`` (DETAILED verbosity).

Its two "layers" (``scale``: 2*x, ``shift``: +1) are timed for real (CuPy events on a GPU,
``perf_counter`` on the CPU), but they are the stand-in's NumPy/CuPy operations, not TensorRT
kernels: nothing measured here is a TensorRT figure.
"""
from __future__ import annotations

import ctypes
import json
import time
from typing import Any, Sequence

import numpy as np

from fake_trt import FEATURES, FakeContext, FakeEngine


class StandInContext(FakeContext):
    profiler: Any = None

    def execute_v2(self, bindings: Sequence[int]) -> bool:
        """Synchronous: pointers in I/O order (x, y); returns when done, then tells the profiler."""
        if self.shape is None or len(bindings) != self.engine.num_io_tensors:
            return False
        x_ptr, y_ptr = (int(b) for b in bindings)
        n = int(np.prod(self.shape))
        if self.engine.device == "numpy":
            x = np.ctypeslib.as_array((ctypes.c_float * n).from_address(x_ptr))
            y = np.ctypeslib.as_array((ctypes.c_float * n).from_address(y_ptr))
            t0 = time.perf_counter()
            np.multiply(x, 2, out=y)
            t1 = time.perf_counter()
            y += 1
            t2 = time.perf_counter()
            times = [(t1 - t0) * 1e3, (t2 - t1) * 1e3]
        else:
            import cupy as cp

            def view(ptr: int) -> Any:
                mem = cp.cuda.UnownedMemory(ptr, n * 4, owner=None)
                return cp.ndarray((n,), dtype=cp.float32, memptr=cp.cuda.MemoryPointer(mem, 0))

            events = [cp.cuda.Event() for _ in range(3)]
            events[0].record()
            y = view(y_ptr)
            cp.multiply(view(x_ptr), 2, out=y)
            events[1].record()
            y += 1
            events[2].record()
            events[2].synchronize()
            times = [cp.cuda.get_elapsed_time(events[0], events[1]), cp.cuda.get_elapsed_time(events[1], events[2])]
        self.calls += 1
        if self.profiler is not None:
            for name, ms in zip(("scale", "shift"), times):
                self.profiler.report_layer_time(name, ms)
        return True


class StandInInspector:
    def get_engine_information(self, fmt: Any) -> str:
        def tensor(name: str) -> dict[str, Any]:
            return {"Name": name, "Dimensions": [-1, FEATURES], "Format/Datatype": "Row major linear FP32"}

        return json.dumps({"Layers": [
            {"Name": "scale", "LayerType": "ElementWise", "Inputs": [tensor("x")], "Outputs": [tensor("t")],
             "TacticName": "stand-in (CuPy/NumPy multiply)"},
            {"Name": "shift", "LayerType": "ElementWise", "Inputs": [tensor("t")], "Outputs": [tensor("y")],
             "TacticName": "stand-in (CuPy/NumPy add)"},
        ], "Bindings": ["x", "y"]})


class StandInEngine(FakeEngine):
    def create_execution_context(self) -> StandInContext:
        ctx = StandInContext(self)
        self.contexts.append(ctx)
        return ctx

    def create_engine_inspector(self) -> StandInInspector:
        return StandInInspector()
