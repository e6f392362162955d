"""The Python-backend model that ``trtlab serve`` puts into a Triton model repository as
``MODEL/1/model.py``. Triton's stub process imports it; it is not imported by trtlab itself.

Two runners, chosen by ``trtlab.serve`` when it writes the config (parameter ``trtlab_runner``):

- ``tensorrt``: the engine through ``trtlab.runtime.open_runner`` (TensorRT on this machine's GPU);
- ``onnxruntime``: the engine's source ONNX model on ONNX Runtime's CPU provider, for a machine
  that cannot run the engine. The config's ``trtlab_label`` says which, for every client to read.

Requests arrive already batched by Triton's dynamic batcher; each is answered with its own rows.
"""
from __future__ import annotations

import json
import os
import sys

# Triton's stub embeds the base interpreter, which ignores PYTHONPATH: trtlab.serve passes this
# Python's site-packages (numpy 2, ONNX Runtime, trtlab) here, ahead of the base interpreter's own.
sys.path[:0] = [p for p in os.environ.get("TRTLAB_PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402  provided by Triton's stub; not on PyPI


def _param(config: dict, key: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", "")


def _array(tensor: "pb_utils.Tensor") -> np.ndarray:
    """An input tensor as numpy, through DLPack (``as_numpy()`` has the same numpy-1 layout problem)."""
    return np.from_dlpack(tensor)


def _tensor(name: str, array: np.ndarray) -> "pb_utils.Tensor":
    """An output tensor through DLPack. ``pb_utils.Tensor(name, array)`` reads the dtype's item
    size from numpy 1's struct layout, which numpy 2 changed ("output tensor shape does not match
    size of output"); DLPack describes the buffer without it."""
    return pb_utils.Tensor.from_dlpack(name, np.ascontiguousarray(array))


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.inputs = [t["name"] for t in config["input"]]
        self.outputs = [t["name"] for t in config["output"]]
        self.runner = _param(config, "trtlab_runner")
        threads = int(_param(config, "trtlab_threads") or 1)
        if self.runner == "tensorrt":
            from trtlab.runtime import open_runner  # the one place this model touches trtlab's runners

            self.session = open_runner(_param(config, "trtlab_engine"))
            if not self.session.on_gpu:  # the CPU reference: too slow to serve, and not the engine
                self.session.close()
                raise pb_utils.TritonModelException(f"the engine cannot run here: {self.session.why}")
            self.run = lambda feeds: self.session.infer_all(feeds)
        elif self.runner == "onnxruntime":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads  # instances x threads <= cores: no oversubscription
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(_param(config, "trtlab_model"), options,
                                                providers=["CPUExecutionProvider"])
            names = [o.name for o in self.session.get_outputs()]
            self.run = lambda feeds: dict(zip(names, self.session.run(names, feeds)))
        else:
            raise pb_utils.TritonModelException(f"unknown trtlab_runner {self.runner!r}")

    def execute(self, requests: list) -> list:
        arrays = [{n: _array(pb_utils.get_input_tensor_by_name(r, n)) for n in self.inputs} for r in requests]
        sizes = [len(a[self.inputs[0]]) for a in arrays]
        feeds = {n: np.concatenate([a[n] for a in arrays]) if len(arrays) > 1 else arrays[0][n]
                 for n in self.inputs}
        try:
            outs = self.run(feeds)
        except Exception as exc:  # one failing batch answers each of its requests with the reason
            error = pb_utils.TritonError(f"{self.runner}: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses, start = [], 0
        for size in sizes:
            tensors = [_tensor(n, outs[n][start:start + size]) for n in self.outputs]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses

    def finalize(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()
