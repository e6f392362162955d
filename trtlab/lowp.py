"""Low-precision number formats for the CPU reference: BF16, FP8, INT4, FP4, and Q/DQ on them.

    lowp.cast(x, lowp.FP8_E4M3)                   # round to nearest even, saturate to ±448
    lowp.cast(x, lowp.FP8_E4M3, saturate=False)   # out of range -> NaN (E4M3 has no infinity)
    q = lowp.quantize(x, scale, lowp.INT4, axis=0, block=(1, 16))
    y = lowp.dequantize(q, scale, np.float32, axis=0, block=(1, 16))
    w = lowp.from_bytes(raw, lowp.INT4, count)    # stored weights: 4-bit types two to a byte

NumPy has no dtype for these formats; ``ml_dtypes`` (the package JAX and TensorFlow use)
gives each one, so an INT4 tensor is stored as ``ml_dtypes.int4`` values — one per byte,
nothing lost, and ``astype(np.float32)`` is exact. What ``ml_dtypes``' ``astype`` does *not*
do is what TensorRT and ONNX ask of a conversion *to* a narrow type:

- floats to FP8/FP4/BF16 round to nearest, ties to even (``ml_dtypes`` does this), and
  **saturate**: a value beyond the largest finite one becomes that value, ±infinity too
  (``astype`` gives NaN or infinity);
- floats to INT4/INT8 round half to even and clamp (``astype`` truncates and wraps: 8.5 -> -8).

Quantization is TensorRT's ``IQuantizeLayer``: ``q = saturate(round_half_even(x / scale) + zero_point)``
computed in float32; dequantization is ``(q - zero_point) * scale`` in float32, then rounded to
the output type. The scale is per tensor (a scalar), per channel (a vector along ``axis``) or
per block (the scale has the input's rank and each of its values covers a block; TensorRT
and ONNX use this for INT4 and FP4 weights).
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
FP8_E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)
FP8_E5M2 = np.dtype(ml_dtypes.float8_e5m2)
INT4 = np.dtype(ml_dtypes.int4)
UINT4 = np.dtype(ml_dtypes.uint4)
FP4_E2M1 = np.dtype(ml_dtypes.float4_e2m1fn)
E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)

# Floating formats NumPy lacks, and integer ones. SATURATING: the formats a conversion clamps
# (BF16 has the range of float32 and an infinity: overflow there is infinity, as in ONNX).
LOW_FLOATS = (BF16, FP8_E4M3, FP8_E5M2, FP4_E2M1, E8M0)
SATURATING = (FP8_E4M3, FP8_E5M2, FP4_E2M1, E8M0)
LOW_INTS = (INT4, UINT4)
# Stored two to a byte by TensorRT and ONNX, the first value in the low four bits.
PACKED = (INT4, UINT4, FP4_E2M1)


def is_float(dtype) -> bool:
    """True for NumPy floats and the ``ml_dtypes`` floating formats."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype in LOW_FLOATS


def is_int(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "iu" or dtype in LOW_INTS


def int_range(dtype) -> tuple[int, int]:
    info = ml_dtypes.iinfo(dtype) if np.dtype(dtype) in LOW_INTS else np.iinfo(dtype)
    return int(info.min), int(info.max)


def float_max(dtype) -> float:
    return float(ml_dtypes.finfo(dtype).max)


def to_float32(x) -> np.ndarray:
    """``x`` as float32 (exact for every format here; float64 stays float64)."""
    x = np.asarray(x)
    return x if x.dtype == np.float64 else x.astype(np.float32)


def storage_bytes(dtype, count: int) -> int:
    """Bytes that ``count`` values of ``dtype`` take in TensorRT's and ONNX's storage."""
    dtype = np.dtype(dtype)
    return (count + 1) // 2 if dtype in PACKED else count * dtype.itemsize


def from_bytes(raw, dtype, count: int) -> np.ndarray:
    """``count`` values of ``dtype`` from their stored bytes (a flat array).

    4-bit types (INT4, UINT4, FP4) are packed two to a byte, low nibble first, as TensorRT and
    ONNX store them; every other type is one value per ``itemsize`` bytes, little-endian.
    """
    dtype = np.dtype(dtype)
    raw = np.frombuffer(raw, dtype=np.uint8)
    if raw.size != storage_bytes(dtype, count):
        raise ValueError(f"{raw.size} bytes for {count} {dtype.name} values (expected {storage_bytes(dtype, count)})")
    if dtype in PACKED:  # ml_dtypes keeps one 4-bit value per byte, in its low nibble
        return np.stack([raw & 0x0F, raw >> 4], axis=-1).reshape(-1)[:count].view(dtype)
    return raw.view(dtype.newbyteorder("<")).astype(dtype, copy=False)


def cast(x, dtype, saturate: bool = True) -> np.ndarray:
    """``x`` converted to ``dtype`` as TensorRT's cast and ONNX ``Cast`` do for narrow types.

    To a float format: round to nearest even; for FP8/FP4, ``saturate`` clamps to ± the largest finite value
    (infinities too), otherwise out-of-range values become infinity or, for formats without one,
    NaN. To INT4/UINT4 from a float: round half to even, then clamp. Anything else: ``astype``.
    """
    x, dtype = np.asarray(x), np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype in LOW_FLOATS:
        if x.dtype.kind in "iub" or x.dtype in LOW_INTS:
            x = x.astype(np.float64)  # exact for every integer up to 2**53
        elif x.dtype in LOW_FLOATS:
            x = x.astype(np.float32)
        if saturate and dtype in SATURATING:
            big = float_max(dtype)
            x = np.clip(x, -big, big) if dtype != E8M0 else np.clip(x, 0, big)
        return x.astype(dtype)
    if dtype in LOW_INTS:
        lo, hi = int_range(dtype)
        if is_float(x.dtype):
            x = np.rint(to_float32(x))
        return np.clip(x, lo, hi).astype(dtype)
    if x.dtype in LOW_FLOATS or x.dtype in LOW_INTS:
        x = x.astype(np.float32)
    return x.astype(dtype)


def expand_scale(scale, shape, axis: int | None = None, block=None) -> np.ndarray:
    """A scale (or zero point) broadcast to ``shape``: scalar, per-channel or per-block.

    Per channel: a vector, its length ``shape[axis]``. Per block: the same rank as the input;
    each value repeats over ``block`` (or over ``ceil(shape / scale.shape)``) elements of
    each axis, the last block of an axis possibly shorter.
    """
    scale = np.asarray(scale)
    rank = len(shape)
    if scale.size == 1:
        return scale.reshape(())
    if scale.ndim == 1 and (rank > 1 or block is None and scale.shape[0] == shape[0]):
        if axis is None:
            raise ValueError("a per-channel scale needs an axis")
        axis %= rank
        if scale.shape[0] != shape[axis]:
            raise ValueError(f"a per-channel scale of {scale.shape[0]} values for axis {axis} of size {shape[axis]}")
        return scale.reshape([-1 if j == axis else 1 for j in range(rank)])
    if scale.ndim != rank:
        raise ValueError(f"a scale of shape {scale.shape} for an input of shape {tuple(shape)}")
    block = list(block) if block is not None and len(block) == rank else [
        -(-n // m) for n, m in zip(shape, scale.shape)]
    for j, (b, n) in enumerate(zip(block, shape)):
        if b > 1 or b == -1:
            b = n if b == -1 else b
            scale = np.repeat(scale, b, axis=j)
        if scale.shape[j] < n:
            raise ValueError(f"a block scale of shape {scale.shape} does not cover shape {tuple(shape)}")
    return scale[tuple(slice(0, n) for n in shape)]


def quantize(x, scale, dtype, zero_point=None, axis: int | None = None, block=None) -> np.ndarray:
    """TensorRT's ``IQuantizeLayer``: ``saturate(round_half_even(x / scale) + zero_point)``, in float32."""
    dtype = np.dtype(dtype)
    x = to_float32(x).astype(np.float32)
    s = expand_scale(to_float32(scale).astype(np.float32), x.shape, axis, block)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = x / s
    if is_int(dtype):
        q = np.rint(q)
        if zero_point is not None:
            q = q + expand_scale(to_float32(zero_point).astype(np.float32), x.shape, axis, block)
        lo, hi = int_range(dtype)
        return np.clip(q, lo, hi).astype(dtype)
    if zero_point is not None and np.any(to_float32(zero_point) != 0):
        raise ValueError(f"a {dtype.name} quantization takes no zero point (it must be 0)")
    return cast(q, dtype, saturate=True)


def dequantize(q, scale, dtype=np.float32, zero_point=None, axis: int | None = None, block=None) -> np.ndarray:
    """TensorRT's ``IDequantizeLayer``: ``(q - zero_point) * scale`` in float32, rounded to ``dtype``."""
    x = to_float32(q).astype(np.float32)
    if zero_point is not None:
        x = x - expand_scale(to_float32(zero_point).astype(np.float32), x.shape, axis, block)
    y = x * expand_scale(to_float32(scale).astype(np.float32), x.shape, axis, block)
    return cast(y, dtype)


def dynamic_block_quantize(x, block, dtype, scale_dtype, double_scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    """TensorRT's ``IDynamicQuantizeLayer``: per block, a scale from the block's largest magnitude.

    ``block``: the block shape (1 on every axis but the blocked ones; -1: the whole axis).
    NVFP4 (FP4 data, FP8 scales): scale = amax / 6 / double_scale rounded to FP8 (nearest even,
    as NVIDIA ModelOpt's NVFP4 reference does); data = x / (scale * double_scale) rounded to FP4.
    MXFP8 (FP8 data, E8M0 scales): scale = amax / 448 rounded *up* to a power of two (cuDNN's
    block-scaling recipe, so no value saturates); data = x / scale rounded to FP8.
    Returns (data, scales); scales have the input's shape divided by the block shape. These
    formulas come from NVIDIA's documentation of the recipes, not from an engine's output.
    """
    x = to_float32(x).astype(np.float32)
    block = [x.shape[j] if b == -1 else b for j, b in enumerate(block)]
    if any(n % b for n, b in zip(x.shape, block)):
        raise ValueError(f"the block shape {tuple(block)} does not divide the input shape {x.shape}")
    grouped = x.reshape([v for n, b in zip(x.shape, block) for v in (n // b, b)])
    amax = np.abs(grouped).max(axis=tuple(range(1, grouped.ndim, 2)))
    dtype, scale_dtype = np.dtype(dtype), np.dtype(scale_dtype)
    top = float_max(dtype)
    if scale_dtype == E8M0:
        with np.errstate(divide="ignore"):
            exponent = np.ceil(np.log2(np.where(amax > 0, amax / top, 1.0)))
        scales = cast(np.exp2(exponent).astype(np.float32), E8M0)
        applied = scales.astype(np.float32)
    else:
        scales = cast(amax / top / np.float32(double_scale), scale_dtype)
        applied = scales.astype(np.float32) * np.float32(double_scale)
    full = applied
    for j, b in enumerate(block):
        full = np.repeat(full, b, axis=j)
    with np.errstate(divide="ignore", invalid="ignore"):
        data = np.where(full > 0, x / np.where(full > 0, full, 1), 0)
    return cast(data, dtype), scales
