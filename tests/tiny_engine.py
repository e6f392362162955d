"""A tiny engine for runtime/bench tests: y = relu(x @ W + b), x (-1, 4) float32, profile 1..8.

Built for real with the installed backend (TensorRT-RTX builds without a GPU) and saved with
its sidecar, so Session takes the same path as with LeNet: on a machine that cannot run it,
the sidecar's source ONNX model is evaluated by trtlab.reference."""
from __future__ import annotations

from pathlib import Path

import numpy as np

W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5], [-1.0, 1.0, 1.0], [0.5, 0.5, 0.5]], dtype=np.float32)
B = np.array([0.1, -0.2, 0.3], dtype=np.float32)


def expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W + B, 0)


def make_onnx(path: Path, batch: int | str = "N") -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["z"]),
         helper.make_node("Relu", ["z"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def make_engine(folder: Path, max_batch: int = 8, batch: int | str = "N") -> Path:
    """``batch``: an int makes the ONNX batch dimension static (no optimization profile)."""
    from trtlab import build, engine_file

    onnx_path = make_onnx(folder / "tiny.onnx", batch)
    built = build.build_onnx(onnx_path, build.BuildOptions(max_batch=max_batch, opt_batch=max_batch))
    return engine_file.save(folder / "tiny.engine", built)
