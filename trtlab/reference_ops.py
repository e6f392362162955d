"""Attention, sampling and sequence layers of the CPU reference (registered in ``reference.LAYERS``).

IAttention, grid sample, NMS, rotary embedding, reverse sequence, KV cache update, ragged
softmax and assertion: each a NumPy function of (layer, values), as in ``trtlab.reference``.
"""
from __future__ import annotations

import numpy as np

from .reference import LAYERS, _compute, _input, _Invalid, _Unsupported


def attention_input(layer, values):
    """IAttention (its input layer computes it; the output layer passes it on).

    softmax(Q Kᵀ + mask) V per batch and head, with no scale of its own (the ONNX parser scales
    Q and K before); grouped-query attention repeats each K/V head over its group of Q heads;
    causal masks: UPPER_LEFT lets query i see keys j <= i, LOWER_RIGHT keys j <= i + (S_kv - S_q);
    a boolean mask keeps True, a float mask is added. A row with every key masked gives 0.
    """
    a = layer.attention
    if a.norm_op.name != "SOFTMAX":
        raise _Unsupported(f"attention normalization {a.norm_op.name}")
    for form in ("query_form", "key_value_form"):
        if getattr(a, form).name != "PADDED_BHND":
            raise _Unsupported(f"attention {form} {getattr(a, form).name}")
    for lengths in ("query_lengths", "key_value_lengths"):
        if getattr(a, lengths, None) is not None:
            raise _Unsupported(f"attention with {lengths}")
    if getattr(a, "normalization_quantize_scale", None) is not None:
        raise _Unsupported("attention with a quantized normalization")
    q, k, v = (_compute(_input(layer, values, i)).astype(np.float32) for i in range(3))
    out_dtype = _input(layer, values, 0).dtype
    if q.shape[1] != k.shape[1]:
        k, v = (np.repeat(t, q.shape[1] // t.shape[1], axis=1) for t in (k, v))
    s = q @ np.swapaxes(k, -1, -2)
    sq, skv = s.shape[-2:]
    keep = np.ones((sq, skv), dtype=bool)
    if a.causal:
        offset = 0 if a.causal_kind.name == "UPPER_LEFT" else skv - sq
        keep = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + offset
    mask = _input(layer, values, 3)
    if mask is not None and mask.dtype == np.bool_:
        keep = keep & mask
    elif mask is not None:
        s = s + _compute(mask).astype(np.float32)
    s = np.where(keep, s, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0))
    total = e.sum(axis=-1, keepdims=True)
    p = e / np.where(total > 0, total, 1)
    return (p @ v).astype(out_dtype)


def attention_output(layer, values):
    return _input(layer, values, 0)


def _grid_coords(g, size, align, mode):
    """Normalized grid coordinates [-1, 1] to pixel positions, with border/reflection handling."""
    pos = (g + 1) / 2 * (size - 1) if align else ((g + 1) * size - 1) / 2
    if mode == "CLAMP":
        pos = np.clip(pos, 0, size - 1)
    elif mode == "REFLECT":
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        span = hi - lo
        if span <= 0:
            pos = np.zeros_like(pos)
        else:
            d = np.abs(pos - lo) % (2 * span)
            flips = np.floor(np.abs(pos - lo) / span)
            pos = lo + np.where(flips % 2 == 0, d % span if span else 0, span - d % span)
            pos = np.where(np.abs(pos - lo) / span == 1, hi, pos)
            pos = np.clip(pos, 0, size - 1) if not align else pos
    return pos


def grid_sample(layer, values):
    """IGridSampleLayer on (N, C, *spatial) with a grid (N, *out, nd) of (x, y[, z]) in [-1, 1].

    Modes as ONNX GridSample defines them: nearest (round half to even), linear (bilinear or
    trilinear), cubic (bicubic, a = -0.75, 2-D only); outside the input: zeros (FILL), the
    border (CLAMP) or a reflection (REFLECT)."""
    x = _compute(_input(layer, values, 0)).astype(np.float32)
    grid = _compute(_input(layer, values, 1)).astype(np.float64)
    nd = x.ndim - 2
    n, c, sizes = x.shape[0], x.shape[1], x.shape[2:]
    align, mode = bool(layer.align_corners), layer.sample_mode.name
    interp = layer.interpolation_mode.name
    pos = [_grid_coords(grid[..., nd - 1 - j], sizes[j], align, mode) for j in range(nd)]  # grid is (x, y, z)
    batch = np.arange(n).reshape((n,) + (1,) * nd)

    def tap(index):  # per spatial axis (N, *out) integer positions -> (N, C, *out), 0 outside
        inside = np.ones(index[0].shape, dtype=bool)
        for i, size in zip(index, sizes):
            inside &= (i >= 0) & (i < size)
        clipped = tuple(np.clip(i, 0, size - 1) for i, size in zip(index, sizes))
        vals = np.moveaxis(x, 1, -1)[(batch,) + clipped]  # (N, *out, C)
        if mode == "FILL":
            vals = np.where(inside[..., None], vals, 0)
        return np.moveaxis(vals, -1, 1)

    if interp == "NEAREST":
        return tap([np.rint(p).astype(np.int64) for p in pos])
    if interp == "LINEAR":
        low = [np.floor(p).astype(np.int64) for p in pos]
        frac = [(p - lo)[:, None] for p, lo in zip(pos, low)]
        out = 0
        for corner in np.ndindex(*([2] * nd)):
            weight = 1
            for f, bit in zip(frac, corner):
                weight = weight * (f if bit else 1 - f)
            out = out + weight * tap([lo + bit for lo, bit in zip(low, corner)])
        return np.asarray(out, dtype=np.float32)
    if interp == "CUBIC" and nd == 2:
        a = -0.75

        def weights(t):
            d = np.stack([t + 1, t, 1 - t, 2 - t])
            near = ((a + 2) * d - (a + 3)) * d * d + 1
            far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
            return np.where(d <= 1, near, far)
        py, px = pos
        x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
        wx, wy = weights(px - x0), weights(py - y0)
        out = 0
        for i in range(4):
            row = sum(wx[j][:, None] * tap([y0 - 1 + i, x0 - 1 + j]) for j in range(4))
            out = out + wy[i][:, None] * row
        return np.asarray(out, dtype=np.float32)
    raise _Unsupported(f"grid sample interpolation {interp} on {nd} spatial axes")


def reverse_sequence(layer, values):
    """IReverseSequenceLayer: for each batch item b, reverse its first lengths[b] steps."""
    x, lengths = _input(layer, values, 0), _input(layer, values, 1)
    batch, seq = layer.batch_axis % x.ndim, layer.sequence_axis % x.ndim
    y = x.copy()
    for b, n in enumerate(np.asarray(lengths).reshape(-1)):
        n = int(n)
        index = [slice(None)] * x.ndim
        index[batch], index[seq] = b, slice(0, n)
        src = [slice(None)] * x.ndim
        src[batch], src[seq] = b, slice(n - 1, None, -1) if n else slice(0, 0)
        y[tuple(index)] = x[tuple(src)]
    return y


def rotary_embedding(layer, values):
    """IRotaryEmbeddingLayer on x (B, H, S, D) with cos/sin caches, as ONNX RotaryEmbedding:
    the first ``rotary_embedding_dim`` features (all when 0) rotate in pairs — halves, or
    neighbours when ``interleaved`` — by the angles of their position; the rest pass through.
    With a position-ids input the caches are (max positions, rd/2) and rows are gathered,
    otherwise they are (B, S, rd/2)."""
    x = _compute(_input(layer, values, 0)).astype(np.float32)
    cos, sin = (_compute(_input(layer, values, i)).astype(np.float32) for i in (1, 2))
    ids = _input(layer, values, 3)
    if ids is not None:
        cos, sin = cos[ids.astype(np.int64)], sin[ids.astype(np.int64)]
    if x.ndim != 4:
        raise _Unsupported(f"rotary embedding of a rank-{x.ndim} input (rank 4 only)")
    rd = layer.rotary_embedding_dim or x.shape[-1]
    cos, sin = cos[..., : rd // 2], sin[..., : rd // 2]
    if cos.ndim == 3:  # (B, S, rd/2) -> (B, 1, S, rd/2)
        cos, sin = cos[:, None], sin[:, None]
    rot, rest = x[..., :rd], x[..., rd:]
    if layer.interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., : rd // 2], rot[..., rd // 2:]
    y1, y2 = x1 * cos - x2 * sin, x2 * cos + x1 * sin
    out = np.stack([y1, y2], axis=-1).reshape(rot.shape) if layer.interleaved else np.concatenate([y1, y2], axis=-1)
    return np.concatenate([out, rest], axis=-1)


def nms(layer, values):
    """INMSLayer, as ONNX NonMaxSuppression (scores are (batch, box, class) here, the ONNX parser
    transposes ONNX's (batch, class, box)): per batch item and class, boxes by falling score,
    each kept unless its IoU with a kept box exceeds the threshold, at most ``max_output``
    per class, scores above the score threshold only. Outputs (batch, class, box) rows and
    their count."""
    boxes = _compute(_input(layer, values, 0)).astype(np.float32)
    scores = np.swapaxes(_compute(_input(layer, values, 1)).astype(np.float32), 1, 2)  # TensorRT: (B, N, C)
    limit = int(np.asarray(_input(layer, values, 2)).reshape(()))
    iou_t = _input(layer, values, 3)
    iou_t = -np.inf if iou_t is None else float(np.asarray(iou_t).reshape(()))  # (absent: nothing suppressed)
    iou_t = 0.0 if iou_t == -np.inf else iou_t
    score_t = _input(layer, values, 4)
    score_t = None if score_t is None else float(np.asarray(score_t).reshape(()))
    if layer.bounding_box_format.name == "CENTER_SIZES":
        cx, cy, bw, bh = np.moveaxis(boxes, -1, 0)
        y1, x1, y2, x2 = cy - bh / 2, cx - bw / 2, cy + bh / 2, cx + bw / 2
    else:  # CORNER_PAIRS: (y1, x1, y2, x2), either corner first
        a, b, c, d = np.moveaxis(boxes, -1, 0)
        y1, x1, y2, x2 = np.minimum(a, c), np.minimum(b, d), np.maximum(a, c), np.maximum(b, d)
    area = (y2 - y1) * (x2 - x1)
    rows = []
    for bi in range(scores.shape[0]):
        for ci in range(scores.shape[1]):
            s = scores[bi, ci]
            order = np.argsort(-s, kind="stable")
            if score_t is not None:
                order = order[s[order] > score_t]
            kept = []
            for j in order:
                if len(kept) >= limit:
                    break
                ok = True
                for k in kept:
                    ih = max(0.0, min(y2[bi, j], y2[bi, k]) - max(y1[bi, j], y1[bi, k]))
                    iw = max(0.0, min(x2[bi, j], x2[bi, k]) - max(x1[bi, j], x1[bi, k]))
                    inter = ih * iw
                    union = area[bi, j] + area[bi, k] - inter
                    if union > 0 and inter / union > iou_t:
                        ok = False
                        break
                if ok:
                    kept.append(j)
            rows += [(bi, ci, j) for j in kept]
    index = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return index, np.array(len(rows), dtype=np.int32)


LAYERS.update({
    "ATTENTION_INPUT": ("IAttentionInputLayer", attention_input),
    "ATTENTION_OUTPUT": ("IAttentionOutputLayer", attention_output),
    "GRID_SAMPLE": ("IGridSampleLayer", grid_sample),
    "REVERSE_SEQUENCE": ("IReverseSequenceLayer", reverse_sequence),
    "ROTARY_EMBEDDING": ("IRotaryEmbeddingLayer", rotary_embedding),
    "NMS": ("INMSLayer", nms),
})


def kv_cache_update(layer, values):
    """IKVCacheUpdateLayer (LINEAR, PADDED_BHND): the cache (B, H, S_max, D) with each batch item's
    update (B, H, S_new, D) written from its write index on."""
    if layer.update_form.name != "PADDED_BHND":
        raise _Unsupported(f"KV cache update form {layer.update_form.name}")
    cache, update, where = (_input(layer, values, i) for i in range(3))
    out = cache.copy()
    n = update.shape[2]
    for b, start in enumerate(np.asarray(where).reshape(-1)):
        start = int(start)
        if start < 0 or start + n > cache.shape[2]:
            raise _Invalid(f"write index {start} + {n} new entries does not fit a cache of {cache.shape[2]}")
        out[b, :, start:start + n] = update[b]
    return out


def ragged_softmax(layer, values):
    """IRaggedSoftMaxLayer: a softmax over the first bounds[z] entries of each row z; the rest 0."""
    x = _compute(_input(layer, values, 0)).astype(np.float32)
    bounds = np.asarray(_input(layer, values, 1)).reshape(-1, 1)
    keep = np.arange(x.shape[-1])[None, :] < bounds
    e = np.where(keep, np.exp(x - np.where(keep, x, -np.inf).max(axis=-1, keepdims=True)), 0)
    return e / np.maximum(e.sum(axis=-1, keepdims=True), np.finfo(np.float32).tiny)


def assertion(layer, values):
    x = _input(layer, values, 0)
    if not np.all(x):
        raise _Invalid(f"assertion failed: {layer.message or '(no message)'}")
    return ()


LAYERS.update({
    "KV_CACHE_UPDATE": ("IKVCacheUpdateLayer", kv_cache_update),
    "RAGGED_SOFTMAX": ("IRaggedSoftMaxLayer", ragged_softmax),
    "ASSERTION": ("IAssertionLayer", assertion),
})
