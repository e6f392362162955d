"""A NumPy interpreter of a TensorRT network definition: the CPU reference.

    outputs = reference.evaluate(network, {"input": x})            # the marked outputs
    every = reference.evaluate(network, {"input": x}, outputs="all")  # every tensor, for debugging

It walks ``network``'s layers in order and computes each one with NumPy from what the layer
itself holds: its kernel and bias, its constant's weights, its padding, its axes. So it checks
what TensorRT was *given*, before (or without) building an engine, on a machine with no GPU.

TensorRT's Python API returns every layer of ``network.get_layer(i)`` as a plain ``ILayer``;
its subclass attributes appear after the cast ``layer.__class__ = trt.IConvolutionLayer``
(``LAYERS`` below pairs each ``trt.LayerType`` with that class and a NumPy function). It works
for networks of the ``tensorrt`` and of the ``tensorrt_rtx`` module alike.

Every layer type TensorRT(-RTX)'s ONNX parser emits is here, loops (trip limits, iterators,
recurrences, loop outputs) and if-conditionals included; where TensorRT's semantics differ from
ONNX's, TensorRT's win (the network is what runs). Low-precision types (BF16, FP8, INT4, FP4,
E8M0) are ``ml_dtypes`` arrays and Q/DQ rounds and saturates bit for bit (``trtlab.lowp``).
Random FILL layers draw NumPy's numbers under ``RANDOM_SEED`` and warn (``RandomFill``).
Attention, sampling and sequence layers live in ``trtlab.reference_ops``.

Arithmetic runs in float32 for reduced-precision float tensors (then rounds to their type), and
in the tensor's own dtype otherwise. A layer this module does not know, or a setting it cannot
evaluate, raises ``UnsupportedLayer``: one line naming the layer, its type and why.
"""
from __future__ import annotations

import math
import sys
from typing import Callable, Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import compat, lowp
from .common import UserError

__all__ = ["evaluate", "UnsupportedLayer", "LAYERS", "numpy_dtype"]

# TensorRT DataType name -> NumPy dtype: trtlab.compat's one table (ml_dtypes for BF16, FP8, INT4,
# FP4 and E8M0, see trtlab.lowp), so nothing is lost.
DTYPES = compat.DTYPES
# Keep the im2col buffer of one convolution chunk around this size (bytes).
CHUNK_BYTES = 16 << 20
# Convolutions with at most this many kernel taps per output (C/groups x window) multiply per image.
SMALL_CONTRACTION = 64


class UnsupportedLayer(UserError):
    """A layer the CPU reference cannot evaluate (its type, or one of its settings)."""

    def __init__(self, layer, kind: str, index: int, why: str = "") -> None:
        self.layer_name, self.layer_type, self.index = layer.name, kind, index
        reason = why or f"layer type {self.layer_type} is not supported"
        super().__init__(
            f"layer {index} {self.layer_name!r} ({self.layer_type}): {reason} by the CPU reference "
            f"(trtlab.reference supports {', '.join(sorted(LAYERS))})"
        )


class _Unsupported(Exception):
    """Raised inside a layer function for a setting it cannot do; evaluate() adds the layer."""


class _Invalid(Exception):
    """Raised inside a layer function for values TensorRT would reject at run time."""


def numpy_dtype(dtype) -> np.dtype:
    """The NumPy dtype of a ``trt.DataType`` (from either module), from ``trtlab.compat``'s one table."""
    try:
        return compat.np_dtype(dtype)
    except UserError:
        name = getattr(dtype, "name", str(dtype))
        raise _Unsupported(f"data type {name} has no NumPy equivalent and is not supported") from None


def _weights(w) -> np.ndarray | None:
    """A layer's ``Weights`` as an array, or None when it is empty (not set).

    ``Weights.numpy()`` gives an array for the types NumPy has; for FP8, INT4, FP4 (and BF16 on
    some versions) TensorRT-RTX's returns the ``Weights`` object itself, and the binding exposes
    no pointer — so :func:`_stored_bytes` reads the values TensorRT holds, checked, and
    ``trtlab.lowp.from_bytes`` decodes them (INT4/FP4 two to a byte).
    """
    if w is None:
        return None
    if hasattr(w, "numpy"):
        found = w.numpy()
        if not isinstance(found, np.ndarray):
            if not w.size:
                return None
            dtype = numpy_dtype(w.dtype)
            return lowp.from_bytes(_stored_bytes(w, lowp.storage_bytes(dtype, int(w.size))), dtype, int(w.size))
        w = found
    w = np.asarray(w)
    return w if w.size else None


# A pybind11 instance: PyObject header (reference count, type), then the pointer to the C++ value.
_PYBIND_VALUE_OFFSET = 16


def _stored_bytes(w, nbytes: int) -> bytes:
    """The bytes of a ``trt.Weights`` (C++ ``{DataType type; void const* values; int64_t count}``).

    Read through the pybind11 instance, and only after the struct it points to is checked
    against what the binding itself says: the same type and count, a non-null pointer.
    """
    import ctypes

    why = f"its {getattr(w.dtype, 'name', w.dtype)} weights cannot be read from this TensorRT's Python binding"
    if type(w).__basicsize__ < _PYBIND_VALUE_OFFSET + ctypes.sizeof(ctypes.c_void_p):
        raise _Unsupported(why)
    struct = ctypes.c_void_p.from_address(id(w) + _PYBIND_VALUE_OFFSET).value
    if not struct:
        raise _Unsupported(why)
    kind = ctypes.c_int32.from_address(struct).value
    values = ctypes.c_void_p.from_address(struct + 8).value
    count = ctypes.c_int64.from_address(struct + 16).value
    if kind != int(w.dtype) or count != int(w.size) or not values:
        raise _Unsupported(why)
    return ctypes.string_at(values, nbytes)


def _compute(x: np.ndarray) -> np.ndarray:
    """Reduced precision floats are computed in float32 (NumPy has no fast float16 kernels)."""
    return x.astype(np.float32) if x.dtype.kind == "f" and x.itemsize < 4 or x.dtype.kind == "V" else x


def _input(layer, values, i: int):
    """Input ``i`` of ``layer`` as an array, or None when it is absent (optional input)."""
    if i >= layer.num_inputs:
        return None
    t = layer.get_input(i)
    return None if t is None else values[t.name]


# ---------------------------------------------------------------- convolution and pooling


def _spatial_padding(layer, x_spatial, window, stride):
    """Pre and post padding of each spatial axis and the output size, as TensorRT computes them."""
    mode = layer.padding_mode.name
    nd = len(window)
    if mode.startswith("SAME"):
        out = [-(-i // s) for i, s in zip(x_spatial, stride)]
        total = [max(0, (o - 1) * s + k - i) for o, s, k, i in zip(out, stride, window, x_spatial)]
        pre = [t // 2 if mode == "SAME_UPPER" else t - t // 2 for t in total]
        post = [t - p for t, p in zip(total, pre)]
        return pre, post, out
    pre, post = list(layer.pre_padding)[:nd], list(layer.post_padding)[:nd]
    span = [i + a + b - k for i, a, b, k in zip(x_spatial, pre, post, window)]
    if mode == "EXPLICIT_ROUND_UP":
        out = [-(-n // s) + 1 for n, s in zip(span, stride)]
    else:
        out = [n // s + 1 for n, s in zip(span, stride)]
    # Round-up can ask for a last window beyond the padded input: pad that too.
    post = [b + max(0, (o - 1) * s + k - (i + a + b))
            for b, o, s, k, i, a in zip(post, out, stride, window, x_spatial, pre)]
    return pre, post, out


def _windows(x, window, stride, dilation, pre, post, out, fill=0.0):
    """View of ``x`` (N, C, *spatial) as (N, C, *out, *window): every window, dilated and strided."""
    nd = len(window)
    pad = [(0, 0)] * (x.ndim - nd) + list(zip(pre, post))
    if any(p or q for p, q in zip(pre, post)):
        x = np.pad(x, pad, constant_values=fill)
    extent = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
    axes = tuple(range(x.ndim - nd, x.ndim))
    v = sliding_window_view(x, extent, axis=axes)
    index = (Ellipsis,) + tuple(slice(0, o * s, s) for o, s in zip(out, stride)) + tuple(
        slice(None, None, d) for d in dilation)
    return v[index]


def convolution(layer, values):
    x = _compute(_input(layer, values, 0))
    k = _input(layer, values, 1)
    b = _input(layer, values, 2)
    groups, maps = layer.num_groups, layer.num_output_maps
    window = list(layer.kernel_size_nd)
    nd = len(window)
    c = x.shape[1]
    k = _compute(k if k is not None else _weights(layer.kernel).reshape(maps, c // groups, *window))
    b = b if b is not None else _weights(layer.bias)
    stride, dilation = list(layer.stride_nd)[:nd], list(layer.dilation_nd)[:nd]
    extent = [d * (w - 1) + 1 for w, d in zip(window, dilation)]
    pre, post, out = _spatial_padding(layer, x.shape[2:], extent, stride)
    n = x.shape[0]
    cg, kg = c // groups, maps // groups
    taps = cg * math.prod(window)
    per_image = max(1, math.prod(out) * c * math.prod(window) * x.itemsize)
    step = max(1, CHUNK_BYTES // per_image)
    dtype = np.result_type(x, k)
    if taps <= SMALL_CONTRACTION:
        # Few taps per output (a first layer): one (maps, taps) @ (taps, pixels) product per image,
        # its columns laid out pixel-fastest, so the result is NCHW with no transpose at the end.
        y = np.empty((n, maps, math.prod(out)), dtype=dtype)
        for s in range(0, n, step):
            w = _windows(x[s:s + step], window, stride, dilation, pre, post, out)  # (m, C, *out, *window)
            w = w.transpose([0, 1] + list(range(2 + nd, 2 + 2 * nd)) + list(range(2, 2 + nd)))
            for g in range(groups):
                cols = np.ascontiguousarray(w[:, g * cg:(g + 1) * cg]).reshape(len(w), taps, -1)
                np.matmul(k[g * kg:(g + 1) * kg].reshape(kg, taps), cols, out=y[s:s + step, g * kg:(g + 1) * kg])
        y = y.reshape(n, maps, *out)
        if b is not None:
            y += _compute(np.asarray(b)).reshape((1, -1) + (1,) * nd)
        return y
    # Many taps: im2col in channels-last order — copying windows whose innermost axis is the
    # channel reads memory in order (three times faster than NCHW windows) — then one
    # (pixels, taps) @ (taps, maps) product per chunk; the output is NHWC, returned as an NCHW view.
    xl = np.moveaxis(x, 1, -1)
    xl = xl if xl.flags.c_contiguous else np.ascontiguousarray(xl)
    kl = np.moveaxis(k, 1, -1)  # (maps, *window, C/groups)
    y = np.empty((n, *out, maps), dtype=dtype)
    for s in range(0, n, step):
        w = _windows_last(xl[s:s + step], window, stride, dilation, pre, post, out)  # (m, *out, *window, C)
        for g in range(groups):
            cols = np.ascontiguousarray(w[..., g * cg:(g + 1) * cg]).reshape(-1, taps)
            kmat = np.ascontiguousarray(kl[g * kg:(g + 1) * kg].reshape(kg, taps).T)
            if groups == 1:
                np.matmul(cols, kmat, out=y[s:s + step].reshape(-1, maps))
            else:
                y[s:s + step, ..., g * kg:(g + 1) * kg] = (cols @ kmat).reshape(len(w), *out, kg)
    if b is not None:
        y += _compute(np.asarray(b))
    return np.moveaxis(y, -1, 1)


def _windows_last(x, window, stride, dilation, pre, post, out):
    """View of channels-last ``x`` (N, *spatial, C) as (N, *out, *window, C)."""
    nd = len(window)
    if any(pre) or any(post):
        x = np.pad(x, [(0, 0)] + list(zip(pre, post)) + [(0, 0)])
    extent = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
    v = sliding_window_view(x, extent, axis=tuple(range(1, 1 + nd)))  # (N, *pos, C, *extent)
    v = v[(slice(None),) + tuple(slice(0, o * s, s) for o, s in zip(out, stride)) + (slice(None),)
          + tuple(slice(None, None, d) for d in dilation)]
    return np.moveaxis(v, 1 + nd, -1)


def _pool_taps(x, window, stride, pre, post, out, op, fill):
    """Reduce every window with ``op``, one strided slice per window tap (a few passes over the
    output, where a reduction over a 2*nd-dimensional window view is slow)."""
    nd = len(window)
    if any(pre) or any(post):
        x = np.pad(x, [(0, 0)] * (x.ndim - nd) + list(zip(pre, post)), constant_values=fill)
    y = None
    for tap in np.ndindex(*window):
        part = x[(Ellipsis,) + tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, out, stride))]
        y = part.copy() if y is None else op(y, part, out=y)
    return y


def pooling(layer, values):
    """Max, average or blended pooling with TensorRT's padding modes. EXPLICIT_ROUND_UP keeps a
    last window that starts on the padding (ONNX's ceil_mode drops it; TensorRT declares the
    larger output): such a window gives -inf (max) or NaN (average without padding), values not
    checked against an engine."""
    x = _compute(_input(layer, values, 0))
    window = list(layer.window_size_nd)
    nd = len(window)
    stride = list(layer.stride_nd)[:nd]
    pre, post, out = _spatial_padding(layer, x.shape[2:], window, stride)
    ones = [1] * nd
    kind = layer.type.name  # once cast, a pooling layer's `type` is its PoolingType
    axes = tuple(range(-nd, 0))
    y_max = y_avg = None
    if kind in ("MAX", "MAX_AVERAGE_BLEND"):
        y_max = _pool_taps(x, window, stride, pre, post, out, np.maximum, -np.inf)
    if kind in ("AVERAGE", "MAX_AVERAGE_BLEND"):
        total = _pool_taps(x, window, stride, pre, post, out, np.add, 0.0)
        if layer.average_count_excludes_padding:
            valid = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)
            count = _windows(valid, window, stride, ones, pre, post, out).sum(axis=axes)
        else:
            count = math.prod(window)
        with np.errstate(invalid="ignore", divide="ignore"):
            y_avg = total / count  # (a round-up window wholly on padding: 0 / 0, NaN)
    if kind == "MAX":
        return y_max
    if kind == "AVERAGE":
        return y_avg
    if kind == "MAX_AVERAGE_BLEND":
        return layer.blend_factor * y_max + (1 - layer.blend_factor) * y_avg
    raise _Unsupported(f"pooling type {kind}")


# ---------------------------------------------------------------- pointwise layers


def _erf(x):
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=np.float64).astype(x.dtype)  # (rank 0 too)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1)  # stable for large |x|


ACTIVATIONS: dict[str, Callable] = {
    "RELU": lambda x, a, b: np.maximum(x, 0),
    "SIGMOID": lambda x, a, b: _sigmoid(x),
    "TANH": lambda x, a, b: np.tanh(x),
    "LEAKY_RELU": lambda x, a, b: np.where(x >= 0, x, a * x),
    "ELU": lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))),
    "SELU": lambda x, a, b: b * np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))),
    "SOFTSIGN": lambda x, a, b: x / (1 + np.abs(x)),
    "SOFTPLUS": lambda x, a, b: a * np.logaddexp(0, b * x),
    "CLIP": lambda x, a, b: np.clip(x, a, b),
    "HARD_SIGMOID": lambda x, a, b: np.clip(a * x + b, 0, 1),
    "SCALED_TANH": lambda x, a, b: a * np.tanh(b * x),
    "THRESHOLDED_RELU": lambda x, a, b: np.where(x > a, x, 0),
    "GELU_ERF": lambda x, a, b: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "GELU_TANH": lambda x, a, b: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
}


def activation(layer, values):
    x = _compute(_input(layer, values, 0))
    kind = layer.type.name
    if kind not in ACTIVATIONS:
        raise _Unsupported(f"activation {kind}")
    return ACTIVATIONS[kind](x, np.float32(layer.alpha), np.float32(layer.beta)).astype(x.dtype, copy=False)


def _int_div(a, b):
    """Integer division truncating toward zero, as C (and TensorRT) do."""
    q = np.floor_divide(a, b)
    return q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))


ELEMENTWISE: dict[str, Callable] = {
    "SUM": np.add,
    "PROD": np.multiply,
    "MAX": np.maximum,
    "MIN": np.minimum,
    "SUB": np.subtract,
    "DIV": lambda a, b: _int_div(a, b) if a.dtype.kind in "iu" else np.divide(a, b),
    "POW": np.power,
    "FLOOR_DIV": np.floor_divide,
    "AND": np.logical_and,
    "OR": np.logical_or,
    "XOR": np.logical_xor,
    "EQUAL": np.equal,
    "GREATER": np.greater,
    "LESS": np.less,
}


def elementwise(layer, values):
    """Broadcasting as NumPy does: TensorRT(-RTX) networks from the ONNX parser combine a rank-0
    or rank-1 tensor with a higher-rank one (the output's declared shape is checked after)."""
    a, b = _compute(_input(layer, values, 0)), _compute(_input(layer, values, 1))
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise _Invalid(f"inputs of shapes {_dims(a.shape)} and {_dims(b.shape)} do not broadcast") from None
    return ELEMENTWISE[layer.op.name](a, b)


UNARY: dict[str, Callable] = {
    "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RECIP": np.reciprocal, "ABS": np.abs,
    "NEG": np.negative, "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "SINH": np.sinh,
    "COSH": np.cosh, "ASIN": np.arcsin, "ACOS": np.arccos, "ATAN": np.arctan,
    "ASINH": np.arcsinh, "ACOSH": np.arccosh, "ATANH": np.arctanh, "CEIL": np.ceil,
    "FLOOR": np.floor, "ERF": _erf, "NOT": np.logical_not, "SIGN": np.sign,
    "ROUND": np.round, "ISINF": np.isinf, "ISNAN": np.isnan,
}


def unary(layer, values):
    x = _compute(_input(layer, values, 0))
    op = layer.op.name
    if op not in UNARY:
        raise _Unsupported(f"unary operation {op}")
    with np.errstate(all="ignore"):  # log(0), sqrt(-1)... give inf/nan as on the GPU
        return UNARY[op](x)


def scale(layer, values):
    x = _compute(_input(layer, values, 0))
    mode, axis = layer.mode.name, layer.channel_axis
    shape = {"UNIFORM": (), "CHANNEL": (x.shape[axis],) + (1,) * (x.ndim - axis - 1),
             "ELEMENTWISE": x.shape[axis:]}[mode]
    y = x
    for name, op in (("scale", np.multiply), ("shift", np.add), ("power", np.power)):
        w = _weights(getattr(layer, name))
        if w is not None:
            y = op(y, _compute(w).reshape(shape))
    return y


# ---------------------------------------------------------------- data movement


def constant(layer, values):
    return _weights(layer.weights).reshape(tuple(layer.shape)) if math.prod(layer.shape) else np.zeros(
        tuple(layer.shape), dtype=numpy_dtype(layer.get_output(0).dtype))


def shuffle(layer, values):
    x = _input(layer, values, 0)
    x = x.transpose(list(layer.first_transpose)[:x.ndim])
    dims = _input(layer, values, 1)
    if dims is None and layer.reshape_dims is not None:
        dims = list(layer.reshape_dims)
    if dims is not None:
        dims = [int(d) for d in np.asarray(dims).reshape(-1)]
        if layer.zero_is_placeholder:
            dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        x = x.reshape(dims)
    return x.transpose(list(layer.second_transpose)[:x.ndim])


def identity(layer, values):
    return _input(layer, values, 0)


def cast(layer, values):
    """To the output type: narrow types round to nearest even and saturate (trtlab.lowp.cast).

    TensorRT's cast layer has no ``saturate`` flag (the ONNX parser drops ONNX Cast's): a cast to
    FP8 saturates to ±448 as TensorRT's FP8 conversions do."""
    return lowp.cast(_input(layer, values, 0), numpy_dtype(layer.get_output(0).dtype))


def concatenation(layer, values):
    return np.concatenate([_input(layer, values, i) for i in range(layer.num_inputs)], axis=layer.axis)


def matrix_multiply(layer, values):
    a, b = _compute(_input(layer, values, 0)), _compute(_input(layer, values, 1))
    ops = layer.op0.name, layer.op1.name
    a = a[..., None, :] if ops[0] == "VECTOR" else a.swapaxes(-1, -2) if ops[0] == "TRANSPOSE" else a
    b = b[..., :, None] if ops[1] == "VECTOR" else b.swapaxes(-1, -2) if ops[1] == "TRANSPOSE" else b
    y = np.matmul(a, b)
    if ops[1] == "VECTOR":
        y = y[..., 0]
    if ops[0] == "VECTOR":
        y = y[..., 0] if ops[1] == "VECTOR" else y[..., 0, :]
    return y


def _axes(mask: int, rank: int) -> tuple[int, ...]:
    return tuple(i for i in range(rank) if mask >> i & 1)


def softmax(layer, values):
    x = _compute(_input(layer, values, 0))
    axes = _axes(layer.axes, x.ndim)
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


REDUCE = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min, "AVG": np.mean}


def reduce(layer, values):
    x = _compute(_input(layer, values, 0))
    return REDUCE[layer.op.name](x, axis=_axes(layer.axes, x.ndim), keepdims=layer.keep_dims)


def shape(layer, values):
    return np.array(_input(layer, values, 0).shape, dtype=np.int64)


def gather(layer, values):
    data, index = _input(layer, values, 0), _input(layer, values, 1).astype(np.int64)
    mode, axis, batch = layer.mode.name, layer.axis, layer.num_elementwise_dims
    if mode == "ELEMENT":
        return np.take_along_axis(data, index, axis=axis)
    if batch:  # the first `batch` dimensions pair data and indices one to one
        return np.stack([_gather(mode, d, i, axis - 1) for d, i in zip(data, index)])
    return _gather(mode, data, index, axis)


def _gather(mode, data, index, axis):
    if mode == "DEFAULT":
        return np.take(data, index, axis=axis)
    return data[tuple(np.moveaxis(index, -1, 0))]  # ND: the last index axis addresses data's first axes


def slice_(layer, values):
    x = _input(layer, values, 0)
    dyn = [_input(layer, values, i) for i in range(1, 6)]
    start = list(dyn[0]) if dyn[0] is not None else list(layer.start)
    size = list(dyn[1]) if dyn[1] is not None else list(layer.shape)
    stride = list(dyn[2]) if dyn[2] is not None else list(layer.stride)
    axes = dyn[4] if dyn[4] is not None else getattr(layer, "axes", None)  # (TensorRT >= 10.x)
    if axes is not None:  # start/size/stride name only these axes
        full = [[0] * x.ndim, list(x.shape), [1] * x.ndim]
        for j, ax in enumerate(int(a) % x.ndim for a in axes):
            full[0][ax], full[1][ax], full[2][ax] = start[j], size[j], stride[j]
        start, size, stride = full
    mode = layer.mode.name
    index = []
    for n, s0, sz, st in zip(x.shape, start, size, stride):
        i = int(s0) + int(st) * np.arange(int(sz))
        if mode == "WRAP":
            i = i % n
        elif mode == "CLAMP":
            i = np.clip(i, 0, n - 1)
        elif mode == "REFLECT":
            period = 2 * (n - 1) if n > 1 else 1
            i = np.abs(i) % period if n > 1 else i * 0
            i = np.where(i >= n, period - i, i)
        index.append(i)
    if mode == "FILL":
        fill = dyn[3].reshape(()) if dyn[3] is not None else np.zeros((), x.dtype)
        inside = np.ones([len(i) for i in index], dtype=bool)
        for ax, (i, n) in enumerate(zip(index, x.shape)):
            shp = [1] * x.ndim
            shp[ax] = -1
            inside &= ((i >= 0) & (i < n)).reshape(shp)
        clipped = [np.clip(i, 0, n - 1) for i, n in zip(index, x.shape)]
        return np.where(inside, x[np.ix_(*clipped)], fill)
    for i, n in zip(index, x.shape):
        if len(i) and (i.min() < 0 or i.max() >= n):
            raise _Invalid(f"the slice reads outside its input of shape {_dims(x.shape)} in {mode} mode")
    return x[np.ix_(*index)] if index else x


# ---------------------------------------------------------------- more layers


def padding(layer, values):
    """Zero padding of the last dimensions; a negative padding crops."""
    x = _input(layer, values, 0)
    pre, post = list(layer.pre_padding_nd), list(layer.post_padding_nd)
    lead = x.ndim - len(pre)
    x = np.pad(x, [(0, 0)] * lead + [(max(a, 0), max(b, 0)) for a, b in zip(pre, post)])
    crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for a, b, n in zip(pre, post, x.shape[lead:]))
    return x[(Ellipsis,) + crop]


def deconvolution(layer, values):
    """Transposed convolution: each input pixel scatters the kernel, strided and dilated, then crop."""
    x = _compute(_input(layer, values, 0))
    k, b = _input(layer, values, 1), _input(layer, values, 2)
    groups, maps = layer.num_groups, layer.num_output_maps
    window = list(layer.kernel_size_nd)
    nd, c = len(window), x.shape[1]
    k = _compute(k if k is not None else _weights(layer.kernel).reshape(c, maps // groups, *window))
    b = b if b is not None else _weights(layer.bias)
    stride, dilation = list(layer.stride_nd)[:nd], list(layer.dilation_nd)[:nd]
    pre, post = list(layer.pre_padding)[:nd], list(layer.post_padding)[:nd]
    full = [(i - 1) * s + d * (w - 1) + 1 for i, s, d, w in zip(x.shape[2:], stride, dilation, window)]
    mode = layer.padding_mode.name
    if mode.startswith("SAME"):  # output = input * stride; the crop split as for convolutions
        total = [f - i * s for f, i, s in zip(full, x.shape[2:], stride)]
        pre = [t // 2 if mode == "SAME_UPPER" else t - t // 2 for t in total]
        post = [t - p for t, p in zip(total, pre)]
    y = np.zeros((x.shape[0], maps, *full), dtype=x.dtype)
    cg, kg = c // groups, maps // groups
    for g in range(groups):
        xg = x[:, g * cg:(g + 1) * cg]
        for tap in np.ndindex(*window):
            at = tuple(slice(t * d, t * d + s * (i - 1) + 1, s) for t, d, s, i in zip(tap, dilation, stride, x.shape[2:]))
            contrib = np.tensordot(xg, k[(slice(g * cg, (g + 1) * cg), slice(None)) + tap], axes=([1], [0]))  # (N, *in, Kg)
            y[(slice(None), slice(g * kg, (g + 1) * kg)) + at] += np.moveaxis(contrib, -1, 1)
    y = y[(Ellipsis,) + tuple(slice(a, n - q) for a, q, n in zip(pre, post, full))]
    return y if b is None else y + _compute(np.asarray(b)).reshape((1, -1) + (1,) * nd)


def select(layer, values):
    return np.where(_input(layer, values, 0), _input(layer, values, 1), _input(layer, values, 2))


def parametric_relu(layer, values):
    x, slope = _compute(_input(layer, values, 0)), _compute(_input(layer, values, 1))
    return np.where(x >= 0, x, slope * x)


def squeeze(layer, values):
    """Without an axes tensor, the axes whose size the network declares as 1 (not those that
    happen to be 1 at run time), as the declared output shape shows."""
    x, axes = _input(layer, values, 0), _input(layer, values, 1)
    if axes is None:
        return np.squeeze(x, axis=tuple(j for j, d in enumerate(layer.get_input(0).shape) if d == 1))
    return np.squeeze(x, axis=tuple(int(a) % x.ndim for a in axes.reshape(-1)))


def unsqueeze(layer, values):
    return np.expand_dims(_input(layer, values, 0), tuple(int(a) for a in _input(layer, values, 1).reshape(-1)))


def einsum(layer, values):
    inputs = [_compute(_input(layer, values, i)) for i in range(layer.num_inputs)]
    equation = layer.equation.replace(" ", "")
    return np.einsum(equation, *inputs, optimize=len(inputs) > 2)  # (optimize trips on '->' with rank 0)


def topk(layer, values):
    x = _compute(_input(layer, values, 0))
    k = _input(layer, values, 1)
    k = layer.k if k is None else int(np.asarray(k).reshape(()))
    [axis] = _axes(layer.axes, x.ndim)
    key = -x if layer.op.name == "MAX" else x
    index = np.take(np.argsort(key, axis=axis, kind="stable"), np.arange(k), axis=axis)
    return np.take_along_axis(x, index, axis=axis), index


def normalization(layer, values):
    """(x - mean) / sqrt(var + epsilon) * scale + bias over the axes (per group of channels)."""
    x = _compute(_input(layer, values, 0))
    gamma, beta = _compute(_input(layer, values, 1)), _compute(_input(layer, values, 2))
    axes, groups = _axes(layer.axes, x.ndim), layer.num_groups
    xs = x.reshape(x.shape[0], groups, -1, *x.shape[2:]) if groups > 1 else x
    axes = tuple(a + 1 for a in axes) + (2,) if groups > 1 else axes
    mean = xs.mean(axis=axes, keepdims=True)
    var = ((xs - mean) ** 2).mean(axis=axes, keepdims=True)
    y = ((xs - mean) / np.sqrt(var + layer.epsilon)).reshape(x.shape)
    return y * gamma + beta


def cumulative(layer, values):
    x = _compute(_input(layer, values, 0))
    axis = int(np.asarray(_input(layer, values, 1)).reshape(()))
    x = np.flip(x, axis) if layer.reverse else x
    y = np.cumsum(x, axis=axis)
    if layer.exclusive:
        y = y - x
    return np.flip(y, axis) if layer.reverse else y


def one_hot(layer, values):
    index, on_off, depth = (_input(layer, values, i) for i in range(3))
    depth = int(np.asarray(depth).reshape(()))
    axis = layer.axis % (index.ndim + 1)
    hot = np.expand_dims(index % depth, axis) == np.arange(depth).reshape((-1,) + (1,) * (index.ndim - axis))
    return np.where(hot, on_off[1], on_off[0])


def non_zero(layer, values):
    return np.array(np.nonzero(_input(layer, values, 0)), dtype=np.int64).reshape(_input(layer, values, 0).ndim, -1)


def lrn(layer, values):
    """Across channels, as ONNX LRN: x / (k + alpha / n * sum of x² over n channels) ** beta."""
    x = _compute(_input(layer, values, 0))
    n = layer.window_size
    sq = np.pad(x * x, [(0, 0), ((n - 1) // 2, n // 2)] + [(0, 0)] * (x.ndim - 2))
    total = sliding_window_view(sq, n, axis=1).sum(axis=-1)
    return x / (layer.k + layer.alpha / n * total) ** layer.beta


def scatter(layer, values):
    data, index, updates = (_input(layer, values, i) for i in range(3))
    out = data.copy()
    if layer.mode.name == "ELEMENT":
        np.put_along_axis(out, index.astype(np.int64), updates, axis=layer.axis)
    else:  # ND: the last index axis addresses data's first axes
        out[tuple(np.moveaxis(index.astype(np.int64), -1, 0))] = updates
    return out


RANDOM_SEED = 0  # random fills draw from numpy.random.default_rng(RANDOM_SEED + layer index)


class RandomFill(UserWarning):
    """A FILL layer drew random numbers: NumPy's, not TensorRT's generator (only shape, dtype and
    distribution agree)."""


def fill(layer, values):
    """FILL: LINSPACE (what ONNX Range and the parser's iotas become) is exact:
    alpha + the sum over axes of index * delta. RANDOM_UNIFORM (alpha..beta) and RANDOM_NORMAL
    (mean alpha, standard deviation beta) come from NumPy's generator under ``RANDOM_SEED``:
    exact shape and dtype, the right distribution, not TensorRT's numbers — a ``RandomFill``
    warning says so each time."""
    op = layer.operation.name
    size = _input(layer, values, 0)
    shape = [int(v) for v in (size if size is not None else layer.shape)]
    alpha, beta = _input(layer, values, 1), _input(layer, values, 2)
    alpha = layer.alpha if alpha is None else np.asarray(alpha).reshape(())
    if op in ("RANDOM_UNIFORM", "RANDOM_NORMAL"):
        beta = layer.beta if beta is None else np.asarray(beta).reshape(())
        rng = np.random.default_rng(RANDOM_SEED + _fill_index(layer))
        import warnings
        warnings.warn(RandomFill(f"FILL layer {layer.name!r} ({op}): values from NumPy's generator "
                                 f"(seed {RANDOM_SEED}), not TensorRT's: only shape, dtype and distribution agree"),
                      stacklevel=2)
        if op == "RANDOM_UNIFORM":
            return rng.uniform(float(alpha), float(beta), shape)
        return rng.normal(float(alpha), float(beta), shape)
    if op != "LINSPACE":
        raise _Unsupported(f"fill operation {op}")
    if beta is None:
        if len(shape) != 1:
            raise _Unsupported("a LINSPACE fill of rank > 1 without a delta tensor")
        beta = [layer.beta]
    beta = np.asarray(beta).reshape(-1)
    return sum((np.arange(n).reshape([-1 if j == a else 1 for j in range(len(shape))]) * beta[a]
                for a, n in enumerate(shape)), np.full(shape, alpha))


def _fill_index(layer) -> int:
    """A stable number per fill layer (its name's hash would change between runs)."""
    return sum(layer.name.encode()) % 9973


def _block_shape(layer):
    """The block shape of a block-quantized Q/DQ layer, or None (TensorRT raises when unset)."""
    try:
        shape = layer.block_shape
    except (RuntimeError, AttributeError):
        return None
    shape = list(shape) if shape is not None else []
    return shape or None


def _qdq_args(layer, values, x):
    scale, zero = _input(layer, values, 1), _input(layer, values, 2)
    if scale is None:
        raise _Unsupported("a Q/DQ layer without a scale input")
    return dict(zero_point=zero, axis=layer.axis, block=_block_shape(layer))


def quantize(layer, values):
    """TensorRT's IQuantizeLayer: saturate(round_half_even(x / scale) + zero_point), see trtlab.lowp."""
    x = _input(layer, values, 0)
    dtype = numpy_dtype(layer.get_output(0).dtype)
    try:
        return lowp.quantize(x, _input(layer, values, 1), dtype, **_qdq_args(layer, values, x))
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def dequantize(layer, values):
    """TensorRT's IDequantizeLayer: (q - zero_point) * scale in float32, rounded to the output type."""
    x = _input(layer, values, 0)
    dtype = numpy_dtype(layer.get_output(0).dtype)
    try:
        return lowp.dequantize(x, _input(layer, values, 1), dtype, **_qdq_args(layer, values, x))
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def dynamic_quantize(layer, values):
    """IDynamicQuantizeLayer (NVFP4: FP4 data + FP8 scales; MXFP8: FP8 data + E8M0 scales), see
    trtlab.lowp.dynamic_block_quantize for the formulas."""
    x = _input(layer, values, 0)
    double = _input(layer, values, 1)
    double = 1.0 if double is None else float(np.asarray(double, dtype=np.float32).reshape(()))
    block = _block_shape(layer)
    if block is None:
        block = [1] * x.ndim
        block[layer.axis % x.ndim] = layer.block_size
    try:
        return lowp.dynamic_block_quantize(x, block, numpy_dtype(layer.to_type), numpy_dtype(layer.scale_type), double)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def resize(layer, values):
    """Nearest, linear or cubic resize, one axis after the other (as ONNX Resize defines them)."""
    x = _compute(_input(layer, values, 0))
    size = _input(layer, values, 1)
    scales = list(layer.scales)
    if size is not None and size.dtype.kind == "f":
        scales, size = [float(v) for v in size], None
    if scales:
        out = [int(math.floor(n * f)) for n, f in zip(x.shape, scales)]
    else:
        # (the output tensor's shape rather than layer.shape, which logs a warning when read)
        static = list(layer.get_output(0).shape)
        out = [int(v) for v in (size if size is not None else layer.shape if -1 in static else static)]
        scales = [o / n if n else 1.0 for o, n in zip(out, x.shape)]
    for axis, (n, o, f) in enumerate(zip(x.shape, out, scales)):
        if n != o or f != 1:
            index, weight = _resize_taps(layer, n, o, f)
            shape = [1] * x.ndim
            shape[axis] = o
            x = sum(np.take(x, index[:, t], axis=axis) * weight[:, t].reshape(shape).astype(x.dtype)
                    for t in range(index.shape[1]))
    return x


def _resize_taps(layer, n, o, f):
    """For each of ``o`` output positions: the input indices it reads and their weights."""
    i = np.arange(o, dtype=np.float64)
    mode = layer.coordinate_transformation.name
    if mode == "ALIGN_CORNERS":
        pos = i * (n - 1) / (o - 1) if o > 1 else i * 0
    elif mode == "HALF_PIXEL":
        pos = (i + 0.5) / f - 0.5
        if o == 1 and layer.selector_for_single_pixel.name == "UPPER":
            pos = i * 0
    else:  # ASYMMETRIC
        pos = i / f
    kind = layer.resize_mode.name
    if kind == "NEAREST":
        rounding = {"HALF_UP": lambda p: np.floor(p + 0.5), "HALF_DOWN": lambda p: np.ceil(p - 0.5),
                    "FLOOR": np.floor, "CEIL": np.ceil}[layer.nearest_rounding.name]
        return np.clip(rounding(pos), 0, n - 1).astype(np.int64)[:, None], np.ones((o, 1))
    if kind == "LINEAR":
        pos = np.clip(pos, 0, n - 1)
        low = np.floor(pos)
        frac = (pos - low)[:, None]
        index = np.clip(low[:, None] + [0, 1], 0, n - 1).astype(np.int64)
        return index, np.concatenate([1 - frac, frac], axis=1)
    if kind == "CUBIC":
        a = layer.cubic_coeff
        index = np.floor(pos)[:, None] + [-1, 0, 1, 2]
        d = np.abs(pos[:, None] - index)
        weight = np.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                          np.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, 0))
        if layer.exclude_outside:
            weight = np.where((index >= 0) & (index < n), weight, 0)
            weight = weight / weight.sum(axis=1, keepdims=True)
        return np.clip(index, 0, n - 1).astype(np.int64), weight
    raise _Unsupported(f"resize mode {kind}")


# Layer type name -> (the ILayer subclass to cast to, the NumPy function).
LAYERS: dict[str, tuple[str, Callable]] = {
    "ACTIVATION": ("IActivationLayer", activation),
    "CAST": ("ICastLayer", cast),
    "CONCATENATION": ("IConcatenationLayer", concatenation),
    "CONSTANT": ("IConstantLayer", constant),
    "CONVOLUTION": ("IConvolutionLayer", convolution),
    "CUMULATIVE": ("ICumulativeLayer", cumulative),
    "DECONVOLUTION": ("IDeconvolutionLayer", deconvolution),
    "DEQUANTIZE": ("IDequantizeLayer", dequantize),
    "DYNAMIC_QUANTIZE": ("IDynamicQuantizeLayer", dynamic_quantize),
    "EINSUM": ("IEinsumLayer", einsum),
    "ELEMENTWISE": ("IElementWiseLayer", elementwise),
    "FILL": ("IFillLayer", fill),
    "GATHER": ("IGatherLayer", gather),
    "IDENTITY": ("IIdentityLayer", identity),
    "LRN": ("ILRNLayer", lrn),
    "MATRIX_MULTIPLY": ("IMatrixMultiplyLayer", matrix_multiply),
    "NON_ZERO": ("INonZeroLayer", non_zero),
    "NORMALIZATION": ("INormalizationLayer", normalization),
    "ONE_HOT": ("IOneHotLayer", one_hot),
    "PADDING": ("IPaddingLayer", padding),
    "PARAMETRIC_RELU": ("IParametricReLULayer", parametric_relu),
    "POOLING": ("IPoolingLayer", pooling),
    "QUANTIZE": ("IQuantizeLayer", quantize),
    "REDUCE": ("IReduceLayer", reduce),
    "RESIZE": ("IResizeLayer", resize),
    "SCALE": ("IScaleLayer", scale),
    "SCATTER": ("IScatterLayer", scatter),
    "SELECT": ("ISelectLayer", select),
    "SHAPE": ("IShapeLayer", shape),
    "SHUFFLE": ("IShuffleLayer", shuffle),
    "SLICE": ("ISliceLayer", slice_),
    "SOFTMAX": ("ISoftMaxLayer", softmax),
    "SQUEEZE": ("ISqueezeLayer", squeeze),
    "TOPK": ("ITopKLayer", topk),
    "UNARY": ("IUnaryLayer", unary),
    "UNSQUEEZE": ("IUnsqueezeLayer", unsqueeze),
}


# ---------------------------------------------------------------- the interpreter


def _dims(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _check_feeds(network, feeds) -> dict[str, np.ndarray]:
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    names = [t.name for t in inputs]
    unknown = sorted(set(feeds) - set(names))
    if unknown:
        raise UserError(f"no network input named {', '.join(map(repr, unknown))}; the inputs are {', '.join(map(repr, names))}")
    values = {}
    for t in inputs:
        declared = list(t.shape)
        want = f"{t.dtype.name} of shape {_dims(declared)}" + (" (-1: any size)" if -1 in declared else "")
        if t.name not in feeds:
            raise UserError(f"missing feed for network input {t.name!r}: give an array, {want}")
        x = np.asarray(feeds[t.name])
        dtype = numpy_dtype(t.dtype)
        if x.ndim != len(declared) or any(d != -1 and d != n for d, n in zip(declared, x.shape)):
            raise UserError(f"network input {t.name!r} got shape {_dims(x.shape)}, expected {want}")
        if not np.can_cast(x.dtype, dtype, "same_kind") and not (x.dtype.kind in "iub" and dtype.kind in "iu"):
            raise UserError(f"network input {t.name!r} got dtype {x.dtype}, expected {want}")
        if dtype in lowp.LOW_FLOATS + lowp.LOW_INTS and x.dtype != dtype:  # round and saturate, as a Q layer
            x = lowp.cast(x, dtype)
        values[t.name] = np.asarray(x, dtype=dtype, order="C")  # (ascontiguousarray makes rank 0 rank 1)
    return values


def _layers(network):
    """(index, LayerType name, layer cast to its subclass) for every layer.

    Read the type before the cast: once cast, ``type`` of an activation or pooling layer is
    its ActivationType or PoolingType.
    """
    module = sys.modules[type(network).__module__]
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        kind = layer.type.name
        if kind in LAYERS and hasattr(module, LAYERS[kind][0]):
            layer.__class__ = getattr(module, LAYERS[kind][0])
        yield i, kind, layer


def evaluate(network, feeds: dict[str, np.ndarray], outputs: str | Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Run ``network`` on ``feeds`` (input name -> array) with NumPy, layer by layer.

    ``outputs``: None for the network's marked outputs, ``"all"`` for every tensor (inputs
    and each layer's outputs, in layer order), or a list of tensor names. Returns name -> array.
    Raises ``UserError`` for a wrong feed and ``UnsupportedLayer`` for a layer it cannot evaluate.
    """
    values = _check_feeds(network, feeds)
    layers = list(_layers(network))
    produced = {layer.get_output(j).name for _, _, layer in layers for j in range(layer.num_outputs)}
    if outputs is None:
        wanted = [network.get_output(i).name for i in range(network.num_outputs)]
        if not wanted:
            raise UserError("the network has no marked output: call network.mark_output(tensor), "
                            "or name the tensors you want with outputs=[...] (or outputs='all')")
    elif isinstance(outputs, str) and outputs == "all":
        wanted = list(values) + [layer.get_output(j).name for _, _, layer in layers for j in range(layer.num_outputs)]
        inside = _loop_inside(layers)  # a loop body's tensors have no value of their own after the loop
        wanted = [n for n in wanted if n not in inside]
    else:
        wanted = [outputs] if isinstance(outputs, str) else list(outputs)
        missing = [n for n in wanted if n not in produced and n not in values]
        if missing:
            raise UserError(f"no tensor named {', '.join(map(repr, missing))} in the network")
    ctx = _Context(layers)
    needed = _needed(layers, wanted, ctx)
    _execute(_plan([entry for entry in layers if entry[0] in needed], values, ctx), values, ctx)
    lost = [n for n in wanted if n not in values]
    if lost:
        raise UserError(f"{lost[0]!r} is computed inside a loop: mark a loop output instead")
    return {name: values[name] for name in wanted}


class _Context:
    """What the interpreter needs to know across layers: conditions of if-conditionals, loops."""

    def __init__(self, layers) -> None:
        self.conditions: dict[str, str] = {}  # IIfConditional name -> its condition tensor
        self.loops: dict[str, list] = {}  # ILoop name -> its boundary layers (entries)
        for entry in layers:
            i, kind, layer = entry
            if kind == "CONDITION":
                self.conditions[layer.conditional.name] = layer.get_input(0).name
            elif kind in LOOP_KINDS:
                self.loops.setdefault(layer.loop.name, []).append(entry)

    def inputs(self, entry) -> list[str]:
        i, kind, obj = entry
        if kind == "LOOP":
            return obj.inputs
        names = _inputs(obj)
        if kind == "CONDITIONAL_OUTPUT":
            names.append(self.conditions[obj.conditional.name])
        return names


def _outputs_of(entry) -> list[str]:
    i, kind, obj = entry
    if kind == "LOOP":
        return obj.outputs
    return [obj.get_output(j).name for j in range(obj.num_outputs)]


def _run_layer(entry, values, ctx) -> None:
    i, kind, layer = entry
    if kind not in LAYERS:
        raise UnsupportedLayer(layer, kind, i)
    if type(layer).__name__ != LAYERS[kind][0]:  # an older TensorRT without this layer class
        raise UnsupportedLayer(layer, kind, i, f"this TensorRT module has no {LAYERS[kind][0]}, so its settings cannot be read")
    try:
        with np.errstate(all="ignore"):  # inf and NaN as the GPU gives them, silently
            fn = LAYERS[kind][1]
            result = fn(layer, values, ctx) if kind in CONTEXT_LAYERS else fn(layer, values)
    except _Unsupported as exc:
        raise UnsupportedLayer(layer, kind, i, str(exc)) from None
    except _Invalid as exc:
        raise UserError(f"layer {i} {layer.name!r} ({kind}): {exc}") from None
    values.update(_outputs(layer, kind, i, result))


def _execute(plan, values, ctx) -> None:
    for entry in plan:
        if entry[1] == "LOOP":
            entry[2].run(values, ctx)
        else:
            _run_layer(entry, values, ctx)


def _plan(entries, available, ctx) -> list:
    """The entries in the order to run them, each loop folded into one step."""
    return _order(_fold_loops(entries, ctx), available, ctx)


def _inputs(layer) -> list[str]:
    return [t.name for t in (layer.get_input(k) for k in range(layer.num_inputs)) if t is not None]


def _order(entries, available, ctx) -> list:
    """The entries in an order where each one's inputs come first (``set_input`` can reorder them)."""
    done, order, pending = set(available), [], list(entries)
    while pending:
        waiting = []
        for entry in pending:
            if all(name in done for name in ctx.inputs(entry)):
                order.append(entry)
                done.update(_outputs_of(entry))
            else:
                waiting.append(entry)
        if len(waiting) == len(pending):
            i, kind, layer = waiting[0]
            missing = [n for n in ctx.inputs(waiting[0]) if n not in done]
            name = layer.name if kind != "LOOP" else layer.name
            raise UserError(f"layer {i} {name!r} ({kind}): input {missing[0]!r} is never computed (a cycle?)")
        pending = waiting
    return order


def _needed(layers, wanted, ctx) -> set[int]:
    """Indexes of the layers the wanted tensors depend on (a loop's trip limit with its loop)."""
    maker = {layer.get_output(j).name: entry for entry in layers for j, layer in
             ((j, entry[2]) for j in range(entry[2].num_outputs))}
    needed, todo = set(), list(wanted)

    def add(entry):
        needed.add(entry[0])
        todo.extend(ctx.inputs(entry))
        if entry[1] in LOOP_KINDS:
            for other in ctx.loops[entry[2].loop.name]:
                if other[0] not in needed:
                    add(other)

    while todo:
        name = todo.pop()
        if name in maker and maker[name][0] not in needed:
            add(maker[name])
    return needed


# ---------------------------------------------------------------- loops and conditionals

LOOP_KINDS = {"TRIP_LIMIT", "ITERATOR", "RECURRENCE", "LOOP_OUTPUT"}
MAX_ITERATIONS = 1_000_000  # a while loop still running after this many is an error, not a hang


def _loop_inside(layers) -> set[str]:
    """Names of the tensors computed inside loop bodies (and the loops' own internal tensors)."""
    ctx = _Context(layers)
    inside = set()
    for name, boundary in ctx.loops.items():
        body = _loop_body(name, boundary, layers)
        for entry in body + [e for e in boundary if e[1] in ("RECURRENCE", "ITERATOR")]:
            inside.update(_outputs_of(entry))
    return inside


def _loop_body(name, boundary, entries) -> list:
    """The entries a loop runs each iteration: everything downstream of its recurrences and
    iterators up to its loop outputs, whole inner loops included."""
    consumers: dict[str, list] = {}
    for entry in entries:
        if entry[1] != "LOOP":
            for t in _inputs(entry[2]):
                consumers.setdefault(t, []).append(entry)
    loops: dict[str, list] = {}
    for entry in entries:
        if entry[1] in LOOP_KINDS:
            loops.setdefault(entry[2].loop.name, []).append(entry)
    stop = {e[0] for e in boundary}
    body: dict[int, tuple] = {}
    todo = [t for e in boundary if e[1] in ("RECURRENCE", "ITERATOR") for t in _outputs_of(e)]
    while todo:
        t = todo.pop()
        for entry in consumers.get(t, []):
            if entry[0] in stop or entry[0] in body:
                continue
            group = [entry]
            if entry[1] in LOOP_KINDS:  # an inner loop: all of it, each iteration
                group = [e for e in loops[entry[2].loop.name] if e[0] not in body]
            for e in group:
                body[e[0]] = e
                todo.extend(_outputs_of(e))
    return sorted(body.values(), key=lambda e: e[0])


def _fold_loops(entries, ctx) -> list:
    """``entries`` with each outermost loop (boundary layers and body) replaced by one _Loop."""
    names = []
    for entry in entries:
        if entry[1] in LOOP_KINDS and entry[2].loop.name not in names:
            names.append(entry[2].loop.name)
    if not names:
        return entries
    bodies = {}
    for name in names:
        boundary = [e for e in entries if e[1] in LOOP_KINDS and e[2].loop.name == name]
        bodies[name] = (boundary, _loop_body(name, boundary, entries))
    inner = {e[2].loop.name for _, body in bodies.values() for e in body if e[1] in LOOP_KINDS}
    folded, taken = [], set()
    for name in names:
        if name in inner:
            continue
        boundary, body = bodies[name]
        loop = _Loop(name, boundary, body, ctx)
        taken.update(e[0] for e in boundary + body)
        folded.append((min(e[0] for e in boundary), "LOOP", loop))
    return sorted([e for e in entries if e[0] not in taken] + folded, key=lambda e: e[0])


class _Loop:
    """A TensorRT loop (``network.add_loop()``) as one step of the interpreter.

    Each iteration: recurrences hold their current value, iterators a slice of their input;
    the body runs; each loop output collects its input; recurrences take their next value.
    A COUNT trip limit runs it that many times (at most the iterators' length); a WHILE trip
    limit checks its condition, computed from the current values, before each iteration.
    A LAST_VALUE output of a recurrence is the recurrence's value after the last iteration.
    """

    def __init__(self, name, boundary, body, ctx) -> None:
        self.name, self.boundary, self.body = name, boundary, body
        members = boundary + body
        made = {t for e in members for t in _outputs_of(e)}
        self.inputs = sorted({t for e in members for t in ctx.inputs(e) if t not in made})
        self.outputs = [t for e in boundary if e[1] == "LOOP_OUTPUT" for t in _outputs_of(e)]
        self._plans = None

    def _fail(self, why):
        entry = next(e for e in self.boundary if e[1] == "LOOP_OUTPUT") if any(
            e[1] == "LOOP_OUTPUT" for e in self.boundary) else self.boundary[0]
        raise UserError(f"layer {entry[0]} {entry[2].name!r} ({entry[1]}) of loop {self.name!r}: {why}")

    def run(self, values, ctx) -> None:
        of = lambda kind: [e for e in self.boundary if e[1] == kind]  # noqa: E731
        recs, iters, outs, limits = of("RECURRENCE"), of("ITERATOR"), of("LOOP_OUTPUT"), of("TRIP_LIMIT")
        count, condition = None, None
        for _, _, lim in limits:
            if lim.kind.name == "COUNT":
                count = int(np.asarray(values[lim.get_input(0).name]).reshape(()))
            else:
                condition = lim.get_input(0).name
        sources = []
        for _, _, it in iters:
            data = values[it.get_input(0).name]
            axis = it.axis % data.ndim
            sources.append((it.get_output(0).name, data, axis, it.reverse))
            count = data.shape[axis] if count is None else min(count, data.shape[axis])
        if count is None and condition is None:
            self._fail("a loop needs a trip limit or an iterator")
        state = {rec.get_output(0).name: values[rec.get_input(0).name] for _, _, rec in recs}
        local = dict(values)
        local.update(state)
        for name, data, axis, reverse in sources:  # (values for planning only)
            local[name] = np.take(data, 0, axis=axis) if data.shape[axis] else None
        if self._plans is None:
            first = [] if condition is None or condition in state else [
                e for e in self.body if e[0] in _needed(self.body, [condition], ctx)]
            rest = [e for e in self.body if e not in first]
            self._plans = (_plan(first, local, ctx), _plan(rest, set(local) | {t for e in first for t in _outputs_of(e)}, ctx))
        check, plan = self._plans
        collected: dict[str, list] = {t: [] for t in self.outputs}
        i = 0
        while count is None or i < count:
            if i >= MAX_ITERATIONS:
                self._fail(f"still running after {MAX_ITERATIONS:,} iterations (its condition never turned false)")
            local = dict(values)
            local.update(state)
            for name, data, axis, reverse in sources:
                local[name] = np.take(data, data.shape[axis] - 1 - i if reverse else i, axis=axis)
            if condition is not None:
                _execute(check, local, ctx)
                if not bool(np.asarray(local[condition]).reshape(())):
                    break
            _execute(plan, local, ctx)
            for _, _, out in outs:
                collected[out.get_output(0).name].append(local[out.get_input(0).name])
            state = {rec.get_output(0).name: local[rec.get_input(1).name] for _, _, rec in recs}
            i += 1
        for index, kind, out in outs:
            source, name = out.get_input(0).name, out.get_output(0).name
            mode = out.kind.name
            if mode == "LAST_VALUE":
                if source in state:
                    result = state[source]
                elif collected[name]:
                    result = collected[name][-1]
                else:
                    self._fail(f"the loop ran 0 times, so {source!r} has no last value")
            else:
                items = collected[name] if mode == "CONCATENATE" else collected[name][::-1]
                if items:
                    result = np.stack(items, axis=out.axis)
                else:
                    shape = [d if d >= 0 else 0 for d in out.get_input(0).shape]
                    shape.insert(out.axis, 0)
                    result = np.zeros(shape, numpy_dtype(out.get_output(0).dtype))
            values.update(_outputs(out, kind, index, result))


def condition(layer, values):
    return ()  # IIfConditional's condition is read by its outputs


def conditional_input(layer, values):
    return _input(layer, values, 0)


def conditional_output(layer, values, ctx):
    """IIfConditionalOutputLayer: the then-branch's value if the condition holds, else the else-branch's.

    Both branches were computed (they are side-effect free); only the chosen one is returned."""
    chosen = bool(np.asarray(values[ctx.conditions[layer.conditional.name]]).reshape(()))
    return _input(layer, values, 0 if chosen else 1)


def _boundary(layer, values):  # evaluated by _Loop.run, never alone
    raise _Unsupported("a loop layer outside its loop")


CONTEXT_LAYERS = {"CONDITIONAL_OUTPUT"}
LAYERS.update({
    "CONDITION": ("IConditionLayer", condition),
    "CONDITIONAL_INPUT": ("IIfConditionalInputLayer", conditional_input),
    "CONDITIONAL_OUTPUT": ("IIfConditionalOutputLayer", conditional_output),
    "TRIP_LIMIT": ("ITripLimitLayer", _boundary),
    "ITERATOR": ("IIteratorLayer", _boundary),
    "RECURRENCE": ("IRecurrenceLayer", _boundary),
    "LOOP_OUTPUT": ("ILoopOutputLayer", _boundary),
})


def _outputs(layer, kind, index, result) -> dict[str, np.ndarray]:
    """The layer's output tensors, cast to the dtype TensorRT declares and checked against its shape."""
    results = result if isinstance(result, tuple) else (result,)
    out = {}
    for j, r in enumerate(results):
        t = layer.get_output(j)
        try:
            dtype = numpy_dtype(t.dtype)
        except _Unsupported as exc:
            raise UnsupportedLayer(layer, kind, index, str(exc)) from None
        r = np.asarray(r)
        r = r if r.dtype == dtype else lowp.cast(r, dtype) if dtype in lowp.LOW_FLOATS + lowp.LOW_INTS \
            else r.astype(dtype)
        try:
            declared = list(t.shape)
        except RuntimeError:
            raise UserError(f"layer {index} {layer.name!r} ({kind}): TensorRT cannot infer the shape of "
                            f"{t.name!r}, so this network is not valid (the TensorRT log says why)") from None
        if r.ndim != len(declared) or any(d != -1 and d != n for d, n in zip(declared, r.shape)):
            raise UserError(
                f"layer {index} {layer.name!r} ({kind}) gave {t.name!r} the shape {_dims(r.shape)} "
                f"but TensorRT declares {_dims(declared)}: the feeds do not fit this network, or the CPU "
                "reference got this layer wrong")
        out[t.name] = r
    return out


from . import reference_ops  # noqa: E402,F401  (registers attention, sampling and sequence layers in LAYERS)
