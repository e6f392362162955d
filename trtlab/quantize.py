"""Chapter 9: INT8, FP8 and INT4 by explicit quantization (Q/DQ pairs in the ONNX model).

The guide's builder quantized with ``builder.int8_mode = True`` and a calibrator
(``IInt8EntropyCalibrator2``); TensorRT 11 removed both and TensorRT-RTX never had them. Today the
scales live in the model as ``QuantizeLinear``/``DequantizeLinear`` pairs and TensorRT builds what
the model says. This module makes such models on the CPU:

* ``tool="ort"`` (default, no extra dependency): ONNX Runtime's ``quantize_static`` in QDQ format,
  symmetric activations and weights, per-channel weights and ``QuantizeBias: False`` (TensorRT
  refuses the INT32 bias ``DequantizeLinear`` ORT writes otherwise).
* ``tool="modelopt"``: NVIDIA Model Optimizer's ``modelopt.onnx.quantization.quantize`` with
  ``calibration_eps=["cpu"]`` (``pip install 'trtlab[modelopt]'``: it pulls CUDA torch, GBs).

FP8 through ORT: ORT accepts only its Distribution method for FP8 and sets every FP8 scale from
the tensor's standard deviation (``compute_scale_zp_float8``: ``std(x) / std(all E4M3 values)``),
which saturates a ReLU network's largest activations and weights. FP8 needs no clipping (E4M3's
exponent gives it range), so here every activation scale is ``amax / 448`` of the range the
calibration method gives and every weight scale the per-channel ``amax / 448`` (weights through
``TensorQuantOverrides``; ORT 1.32 ignores per-tensor scale overrides for FP8 activations, so
those are set in the written model). On LeNet this halves the worst logit error; top-1 is the
same. The 0.925 once measured for ORT's FP8 LeNet was ONNX Runtime's *evaluation*: its extended
CPU graph optimizations (the default) mis-execute FP8 Q/DQ; with basic ones the same file scores
like FP32 (chapter 9 shows both).

INT4 is weight-only: each MatMul's constant weight becomes INT4 in blocks of ``block_size`` along
K (opset-21 ``DequantizeLinear`` with ``block_size``), using ORT's own blocked-quantization math
(``quant_utils.compute_scale_zp_blocked``). TensorRT needs the quantization axis to divide into
whole blocks, so a weight whose K does not stays FP32 and the report says so. (ORT's
``MatMulNBitsQuantizer`` does the same but needs ``onnx-ir`` and SymPy: 87 MB.)
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import UserError, check_output, output_folder, safe_write

PRECISIONS = ("int8", "fp8", "int4")
TOOLS = ("ort", "modelopt")
METHODS = ("minmax", "entropy", "percentile", "distribution")
DEFAULT_SAMPLES = 512
INT4_BLOCK = 32
FP8_MAX = 448.0  # largest finite E4M3FN value
MODELOPT_METHODS = {"minmax": "max", "entropy": "entropy"}  # our name -> ModelOpt's calibration_method
MODELOPT_INSTALL = "pip install 'trtlab[modelopt]'"

# Why a node of the quantized model computes in higher precision.
_KEPT_WHY = {
    "Shape": "shape arithmetic on integers: nothing to quantize",
    "Gather": "shape arithmetic on integers: nothing to quantize",
    "Slice": "shape arithmetic on integers: nothing to quantize",
    "Concat": "shape arithmetic on integers: nothing to quantize",
    "Cast": "shape arithmetic on integers: nothing to quantize",
    "Unsqueeze": "shape arithmetic on integers: nothing to quantize",
    "Squeeze": "shape arithmetic on integers: nothing to quantize",
    "Add": "bias add after a quantized MatMul: TensorRT fuses it into that layer, in FP32",
    "Reshape": "data movement, runs in the type of its input",
    "Transpose": "data movement, runs in the type of its input",
    "Conv": "INT4 here is weight-only for MatMul (TensorRT's INT4 block quantization is for GEMM weights)",
    "MaxPool": "runs in the type of its input",
    "Relu": "runs in the type of its input",
}


@dataclass
class Report:
    """What one quantization did: written into the model and printed by ``trtlab quantize``."""

    source: Path
    output: Path
    precision: str
    tool: str
    method: str | None
    samples: int
    seconds: float
    q_nodes: int = 0  # QuantizeLinear nodes on activations
    dq_nodes: int = 0  # DequantizeLinear nodes
    q_weight_nodes: int = 0  # QuantizeLinear nodes on float weights (ModelOpt keeps weights float + Q/DQ)
    quantized: list[tuple[str, str]] = field(default_factory=list)  # (node, op) computing on DQ inputs
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (node, op, why) in higher precision
    notes: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        """Q/DQ pairs: a Q node and the DQ it feeds (weight-only DQ nodes are not pairs)."""
        return self.q_nodes

    def text(self) -> str:
        how = f"{self.tool}" + (f", {self.method} calibration on {self.samples} samples" if self.method else "")
        lines = [f"{self.output}: {self.precision.upper()} by {how} in {self.seconds:.2f} s",
                 f"  {self.q_nodes} Q/DQ pairs on activations, "
                 + (f"{self.q_weight_nodes} on float weights, " if self.q_weight_nodes else "")
                 + f"{self.dq_nodes - self.q_nodes - self.q_weight_nodes} DequantizeLinear on stored quantized "
                 f"weights; {len(self.quantized)} layers compute on quantized inputs: "
                 + ", ".join(sorted({op for _, op in self.quantized}))]
        if self.kept:
            lines.append(f"  {len(self.kept)} nodes stay in higher precision:")
            lines += [f"    {name} ({op}): {why}" for name, op, why in self.kept]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --- inputs ------------------------------------------------------------------------------
def load_model(path: str | os.PathLike) -> Any:
    """An ONNX ModelProto from a file that may be anything: every problem is one UserError line."""
    import onnx

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an ONNX model")
    if not path.is_file():
        raise UserError(f"{path}: " + ("not a regular file (a device, pipe or socket)" if path.exists()
                                       else "no such ONNX model"))
    if not path.stat().st_size:
        raise UserError(f"{path} is empty, not an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise UserError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise UserError(f"{path}: weights in external files are not supported here; save the model as one file")
    if not model.graph.node or not model.graph.input:
        raise UserError(f"{path}: not a model (no nodes or no inputs)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise UserError(f"{path}: invalid ONNX model ({str(exc).splitlines()[0][:200]})") from None
    return model


def model_input(model: Any) -> tuple[str, tuple[int | None, ...]]:
    """The one float input's name and shape (None for a dynamic dimension)."""
    from onnx import TensorProto

    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or inputs[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise UserError("only models with one float32 input can be calibrated here "
                        f"(this one has {len(inputs)} inputs)")
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim)
    return inputs[0].name, dims


def calibration_data(shape: tuple[int | None, ...], path: str | os.PathLike | None = None,
                     samples: int = DEFAULT_SAMPLES) -> np.ndarray:
    """Calibration images: a .npy file checked against the model's input, or N training digits."""
    if samples < 1:
        raise UserError(f"--samples must be at least 1, not {samples}")
    if path is None:
        from . import data

        mnist = data.load_mnist()
        if samples > len(mnist.x_train):
            raise UserError(f"--samples {samples}: the training split has only {len(mnist.x_train)} digits")
        x = data.nchw(mnist.x_train[:samples])  # the training split, never the test digits
    else:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"{p}: " + ("is a folder" if p.is_dir() else "not a regular file" if p.exists()
                                        else "no such calibration file"))
        try:
            x = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise UserError(f"{p}: not a plain NumPy .npy array (pickled objects are refused; {type(exc).__name__})") from None
        if not isinstance(x, np.ndarray):
            raise UserError(f"{p}: holds several arrays (.npz); give one .npy array")
        x = x[:samples] if x.ndim else x
    return check_array(x, shape, str(path) if path is not None else "training digits")


def check_array(x: Any, shape: tuple[int | None, ...], origin: str = "calibration data") -> np.ndarray:
    """Calibration data must be a non-empty finite float32 array that fits the model's input."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise UserError(f"{origin}: calibration data must be a float32 array, not "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim == 0 or not len(x):
        raise UserError(f"{origin}: the calibration array is empty")
    want = tuple("N" if d is None else d for d in shape)
    if x.ndim != len(shape) or any(d is not None and d != got for d, got in zip(shape[1:], x.shape[1:])):
        raise UserError(f"{origin}: calibration data of shape {x.shape} does not fit the model's input {want}")
    if shape and shape[0] is not None and x.shape[0] % shape[0]:
        raise UserError(f"the model has a fixed batch of {shape[0]}; give a multiple of it, not {x.shape[0]} samples")
    if not np.isfinite(x).all():
        raise UserError(f"{origin}: calibration data holds NaN or infinity")
    return np.ascontiguousarray(x)


# --- what is in a Q/DQ model -------------------------------------------------------------
def describe(model: Any) -> dict[str, Any]:
    """Q/DQ node counts, the nodes that compute on dequantized inputs, and those that do not (why)."""
    from onnx import TensorProto

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    float_inits = {i.name for i in g.initializer if i.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)}
    q = [n for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] not in inits]
    q_weights = [n for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] in inits]
    dq = [n for n in g.node if n.op_type == "DequantizeLinear"]
    quantized, kept = [], []
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant"):
            continue
        from_dq = [i for i in n.input if i in producer and producer[i].op_type == "DequantizeLinear"]
        if from_dq:
            quantized.append((n.name, n.op_type))
        else:
            why = _KEPT_WHY.get(n.op_type, "the quantizer does not quantize this operator")
            to = next((a.i for a in n.attribute if a.name == "to"), None)
            if n.op_type == "Cast" and to in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16):
                why = f"a cast to {TensorProto.DataType.Name(to)}: the tool keeps the unquantized layers in that type"
            if n.op_type == "MatMul" and any(i in float_inits for i in n.input):
                w = next(inits[i] for i in n.input if i in float_inits)
                why = f"its weight {list(w.dims)} was not quantized (see the notes, if any)"
            kept.append((n.name, n.op_type, why))
    dtypes = sorted({TensorProto.DataType.Name(inits[d.input[0]].data_type) for d in dq if d.input[0] in inits}
                    | {TensorProto.DataType.Name(inits[d.input[2]].data_type) for d in q
                       if len(d.input) > 2 and d.input[2] in inits})
    return {"q": len(q), "q_weights": len(q_weights), "dq": len(dq), "quantized": quantized, "kept": kept, "types": dtypes}


def qdq_table(model: Any) -> list[dict[str, Any]]:
    """Where the pairs sit: one row per DequantizeLinear (what it feeds, type, granularity, scale)."""
    from onnx import TensorProto, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    rows = []
    for n in g.node:
        if n.op_type != "DequantizeLinear":
            continue
        scale = numpy_helper.to_array(inits[n.input[1]]) if n.input[1] in inits else None
        attrs = {a.name: a.i for a in n.attribute}
        q = producer.get(n.input[0])
        source = q.input[0] if q is not None and q.op_type == "QuantizeLinear" else n.input[0]
        is_weight = source in inits
        qtype = (TensorProto.DataType.Name(inits[n.input[0]].data_type) if n.input[0] in inits else
                 TensorProto.DataType.Name(inits[n.input[2]].data_type) if len(n.input) > 2 and n.input[2] in inits
                 else "?")
        gran = ("per-tensor" if scale is None or scale.size == 1 else
                f"blocks of {attrs['block_size']} along axis {attrs.get('axis', 1)}" if attrs.get("block_size")
                else f"per-channel ({scale.size}) axis {attrs.get('axis', 1)}")
        feeds = ", ".join(f"{c.op_type} {c.name}" for c in consumers.get(n.output[0], []))
        rows.append({"tensor": source.removesuffix("_quantized"), "kind": "weight" if is_weight else "activation",
                     "type": qtype, "granularity": gran,
                     "scale": float(scale.max()) if scale is not None else None, "feeds": feeds})
    return rows


# --- the quantizers ----------------------------------------------------------------------
class _Reader:
    """ONNX Runtime's CalibrationDataReader over an array, in batches."""

    def __init__(self, name: str, x: np.ndarray, batch: int = 64):
        # equal batches: ORT's histogram calibrators stack every batch into one array
        batch = max(d for d in range(1, min(batch, len(x)) + 1) if len(x) % d == 0)
        self.batches = [{name: x[i:i + batch]} for i in range(0, len(x), batch)]
        self.i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return self.batches[self.i - 1]

    def rewind(self) -> None:
        self.i = 0

    def __iter__(self):  # CalibrationDataReader's protocol, without importing it at module load
        return iter(self.batches)


def _ort_method(method: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile, "distribution": CalibrationMethod.Distribution}[method]


def _quiet_ort() -> None:
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # ORT's quantizer warns through the root logger


def _ort_static(src: Path, dst: Path, name: str, x: np.ndarray, precision: str, method: str,
                fp8_scales: str) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    _quiet_ort()
    qtype = QuantType.QInt8 if precision == "int8" else QuantType.QFLOAT8E4M3FN
    extra: dict[str, Any] = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                             "CalibPercentile": 99.99}
    ort_method = _ort_method(method)
    if precision == "fp8":
        # ORT allows only Distribution for FP8 and derives every scale from a standard deviation;
        # unless asked for ORT's own ("std"), ranges come from `method` and become amax/448 scales.
        if fp8_scales == "amax":
            extra["TensorQuantOverrides"] = _fp8_overrides(src, name, x, ort_method)
        ort_method = _ort_method("distribution")
    quantize_static(str(src), str(dst), _Reader(name, x), quant_format=QuantFormat.QDQ, activation_type=qtype,
                    weight_type=qtype, per_channel=True, calibrate_method=ort_method, extra_options=extra)
    if "TensorQuantOverrides" in extra:
        _set_activation_scales(dst, extra["TensorQuantOverrides"])


def _set_activation_scales(path: Path, overrides: dict[str, list[dict[str, Any]]]) -> None:
    """ORT 1.32 applies per-tensor scale overrides to weights but, for FP8, not to activations
    (their scale still comes from the Distribution calibrator's std): set those scales here.
    A QuantizeLinear and its DequantizeLinear share one scale initializer."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        wanted = overrides.get(node.input[0], [{}])[0].get("scale")
        if node.op_type == "QuantizeLinear" and wanted is not None and node.input[1] in inits:
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.asarray(wanted, np.float32), node.input[1]))
    onnx.save(model, str(path))


def _fp8_overrides(src: Path, name: str, x: np.ndarray, method: Any) -> dict[str, list[dict[str, Any]]]:
    import ml_dtypes
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization.calibrate import create_calibrator

    with tempfile.TemporaryDirectory(prefix="trtlab-calib-") as tmp:
        calib = create_calibrator(str(src), [], augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                                  calibrate_method=method, extra_options={"symmetric": True, "percentile": 99.99})
        calib.collect_data(_Reader(name, x))
        ranges = calib.compute_data()
    zero = np.array(0, dtype=ml_dtypes.float8_e4m3fn)
    overrides: dict[str, list[dict[str, Any]]] = {}
    for tensor, td in ranges.data.items():
        amax = max(float(np.abs(np.asarray(v, dtype=np.float64)).max()) for v in td.range_value)
        overrides[tensor] = [{"scale": np.array(max(amax, 1e-12) / FP8_MAX, dtype=np.float32), "zero_point": zero}]
    model = onnx.load(str(src))
    for init in model.graph.initializer:  # weights: amax/448 per output channel, biases per tensor
        w = numpy_helper.to_array(init)
        users = [n for n in model.graph.node if init.name in n.input]
        if w.dtype != np.float32 or not users or users[0].op_type not in ("Conv", "MatMul", "Gemm", "Add"):
            continue
        if w.ndim < 2 and users[0].op_type != "Add":  # a Conv's bias stays FP32 (QuantizeBias False)
            continue
        if w.ndim < 2:
            overrides[init.name] = [{"scale": np.array(max(float(np.abs(w).max()), 1e-12) / FP8_MAX,
                                                       dtype=np.float32), "zero_point": zero}]
            continue
        axis = 0 if users[0].op_type == "Conv" else 1
        amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
        scale = (np.maximum(amax, 1e-12) / FP8_MAX).astype(np.float32)
        overrides[init.name] = [{"axis": axis, "scale": np.array(v, dtype=np.float32), "zero_point": zero}
                                for v in scale]  # ORT's per-channel overrides: one dict per channel
    return overrides


def _int4_weights(model: Any, block: int) -> tuple[Any, list[str]]:
    """Weight-only INT4: each MatMul's constant [K, N] weight -> INT4 blocks along K + a DequantizeLinear."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization.quant_utils import compute_scale_zp_blocked, quantize_onnx_initializer

    model = onnx.version_converter.convert_version(model, 21)  # DequantizeLinear block_size: opset 21
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    notes, new_nodes = [], []
    for node in list(g.node):
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or w.data_type != TensorProto.FLOAT or len(w.dims) != 2:
            continue
        k = w.dims[0]
        if k % block:
            notes.append(f"{node.name}: K={k} does not divide into {block}-wide blocks (TensorRT needs whole "
                         "blocks), so its weight stays FP32")
            continue
        zp, scale = compute_scale_zp_blocked(numpy_helper.to_array(w), TensorProto.INT4, 0, block, True)
        q = quantize_onnx_initializer(w, TensorProto.INT4, zp, scale, axis=0, quant_weight_name=w.name + "_quantized",
                                      block_size=block)
        s = numpy_helper.from_array(scale.astype(np.float32), w.name + "_scale")
        g.initializer.extend([q, s])
        out = w.name + "_dequantized"
        new_nodes.append((node, helper.make_node("DequantizeLinear", [q.name, s.name], [out],
                                                 name=w.name + "_DequantizeLinear", axis=0, block_size=block)))
        node.input[1] = out
    for node, dq in new_nodes:
        g.node.insert(list(g.node).index(node), dq)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model, notes


def _modelopt_module() -> Any:
    try:
        from modelopt.onnx.quantization import quantize as mo_quantize
    except ImportError:
        raise UserError(f"ModelOpt is not installed here: {MODELOPT_INSTALL} (it brings CUDA torch, several GB); "
                        "the default --tool ort needs nothing more") from None
    return mo_quantize


def _modelopt(src: Path, dst: Path, name: str, x: np.ndarray | None, precision: str, method: str | None) -> None:
    mo_quantize = _modelopt_module()
    kwargs: dict[str, Any] = {"quantize_mode": precision, "output_path": str(dst), "calibration_eps": ["cpu"],
                              "log_level": "WARNING"}
    if x is not None:
        kwargs["calibration_data"] = {name: x}
    if method:
        kwargs["calibration_method"] = method
    mo_quantize(str(src), **kwargs)


def quantize(model_path: str | os.PathLike, output: str | os.PathLike, precision: str = "int8", *,
             calibration: str | os.PathLike | np.ndarray | None = None, samples: int = DEFAULT_SAMPLES,
             tool: str = "ort", method: str | None = None, block_size: int = INT4_BLOCK,
             fp8_scales: str = "amax") -> Report:
    """Quantize an ONNX model into OUT (written atomically). Everything is checked before any work."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if tool not in TOOLS:
        raise UserError(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}")
    if tool == "ort":
        method = method or "minmax"
        if method not in METHODS:
            raise UserError(f"unknown calibration method {method!r}; choose from {', '.join(METHODS)}")
    elif method is not None:  # ModelOpt's own names: max and entropy for INT8/FP8; INT4 uses its AWQ default
        allowed = {} if precision == "int4" else MODELOPT_METHODS
        if method not in allowed:
            raise UserError(f"--tool modelopt {precision}: calibration method {method!r} is not offered here"
                            + (f"; choose from {', '.join(allowed)}" if allowed else "; leave --method out"))
    if fp8_scales not in ("amax", "std"):
        raise UserError(f"fp8_scales must be 'amax' or 'std', not {fp8_scales!r}")
    if block_size < 16 or block_size & (block_size - 1):
        raise UserError(f"INT4 block size must be a power of two >= 16, not {block_size}")
    src, dst = Path(model_path), Path(output)
    if dst.exists() and dst.is_dir():
        raise UserError(f"{dst} is a folder: give the name of the ONNX file to write")
    if dst.resolve() == src.resolve() or (dst.exists() and src.exists() and os.path.samefile(src, dst)):
        raise UserError(f"the output {dst} is the input model: give another name")
    reads = (src,) + ((Path(calibration),) if isinstance(calibration, (str, os.PathLike)) else ())
    if src.is_dir():
        raise UserError(f"{src} is a folder, not an ONNX model")
    check_output(dst, reads, "-o")  # no device, FIFO, socket, link, input or project source as the output
    model = load_model(src)
    name, shape = model_input(model)
    if tool == "modelopt":
        _modelopt_module()
    output_folder(dst.parent)
    weight_only = precision == "int4" and tool == "ort"
    if isinstance(calibration, np.ndarray):
        x = None if weight_only else check_array(calibration[:samples], shape, "the array given")
    else:
        x = None if weight_only else calibration_data(shape, calibration, samples)
    notes: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trtlab-quantize-") as tmp:
        work = Path(tmp) / "quantized.onnx"
        try:
            if tool == "modelopt":
                _modelopt(src, work, name, x, precision, MODELOPT_METHODS.get(method or ""))
            elif precision == "int4":
                import onnx

                quantized, notes = _int4_weights(model, block_size)
                onnx.save(quantized, str(work))
            else:
                assert x is not None  # INT8/FP8 are calibrated
                with contextlib.redirect_stdout(io.StringIO()):  # ORT's histogram calibrators print progress
                    _ort_static(src, work, name, x, precision, method or "minmax", fp8_scales)
        except UserError:
            raise
        except Exception as exc:  # the quantizer refused this model: one line, nothing written
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise UserError(f"{src}: {tool} could not quantize it to {precision} ({type(exc).__name__}: {first})") from None
        seconds = time.perf_counter() - start
        import onnx

        result = onnx.load(str(work))
        safe_write(dst, work.read_bytes(), reads, "-o")
    info = describe(result)
    if weight_only:
        notes.append(f"weight-only INT4 in blocks of {block_size}: no calibration data needed, activations stay FP32")
    if precision == "fp8" and tool == "ort":
        notes.append("FP8 scales: " + ("amax/448 from the calibrated ranges (ORT's own std-based scales clip)"
                                      if fp8_scales == "amax" else "ORT's std-based scales (they clip large values)"))
    shown = method or ("ModelOpt's default" if tool == "modelopt" else None)
    return Report(src, dst, precision, tool, None if weight_only else shown, 0 if x is None else len(x),
                  seconds, info["q"], info["dq"], info["q_weights"], info["quantized"], info["kept"], notes)
