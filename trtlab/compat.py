"""The one place that knows how ``tensorrt``, ``tensorrt_rtx`` and ``tensorrt_lean`` differ.

Every other module asks here instead of testing the backend itself:

* the logger (one per backend module, ``backend.logger``) and an ``IErrorRecorder`` that keeps
  TensorRT's messages for a one-line reason (:func:`error_recorder`, :func:`short_error`), and
  :class:`captured_stdout` for the lines TensorRT writes straight to file descriptor 1;
* network creation: :func:`network_flags` / :func:`create_network` make every network strongly
  typed on every backend — TensorRT 10.x needs ``1 << NetworkDefinitionCreationFlag.STRONGLY_TYPED``
  (weakly typed otherwise), TensorRT 11.x and TensorRT-RTX networks are always strongly typed
  (11.x still accepts the flag; TensorRT-RTX has none);
* ``Dims`` as tuples (:func:`dims`), TensorRT data types as NumPy dtypes and back
  (:func:`np_dtype`, :func:`dtype_name`, :func:`parse_dtype`), tensor modes (:func:`is_input`);
* the header of a TensorRT-RTX plan (:func:`read_header`), the only backend with one we can read.

``tensorrt_lean`` is TensorRT's runtime without a builder: it has ``Runtime``, ``ICudaEngine``
and ``IExecutionContext`` but no ``Builder`` — :func:`has_builder` says which one is loaded.
"""
from __future__ import annotations

import re
import struct
import sys
import tempfile
import threading
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from . import backend, lowp
from .common import UserError, fds_to

# --- names ----------------------------------------------------------------------------------------


def name_of(trt: ModuleType) -> str:
    """``"tensorrt"``, ``"tensorrt_rtx"`` or ``"tensorrt_lean"`` (``backend.name_of`` counts lean as tensorrt)."""
    if trt.__name__.startswith("tensorrt_lean"):
        return "tensorrt_lean"
    return backend.name_of(trt)


def logger(trt: ModuleType | None = None) -> Any:
    """The backend's shared ``trt.Logger`` (WARNING)."""
    return backend.logger(trt)


def has_builder(trt: ModuleType) -> bool:
    """False for ``tensorrt_lean`` (runtime only)."""
    return hasattr(trt, "Builder")


def version_tuple(version: str) -> tuple[int, ...]:
    out = []
    for part in str(version).split(".")[:4]:
        digits = "".join(ch for ch in part[:9] if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


# --- strong typing --------------------------------------------------------------------------------
def network_flags(trt: ModuleType) -> int:
    """``create_network`` flags for a strongly typed, explicit-batch network on this backend.

    TensorRT 10.x: ``1 << int(NetworkDefinitionCreationFlag.STRONGLY_TYPED)`` (without it a 10.x
    network is weakly typed and the builder picks precisions). TensorRT 11.x: strongly typed
    always (the flag is accepted and means nothing more). TensorRT-RTX: strongly typed always,
    no such flag."""
    flag_enum = getattr(trt, "NetworkDefinitionCreationFlag", None)
    flag = getattr(flag_enum, "STRONGLY_TYPED", None) if flag_enum is not None else None
    if name_of(trt) == "tensorrt" and flag is not None:
        return 1 << int(flag)
    return 0


def create_network(builder: Any, trt: ModuleType) -> Any:
    """``builder.create_network(network_flags(trt))``: strongly typed on every backend."""
    return builder.create_network(network_flags(trt))


def is_strongly_typed(network: Any, trt: ModuleType) -> bool:
    """True when ``network`` is strongly typed (always, on TensorRT-RTX)."""
    flag_enum = getattr(trt, "NetworkDefinitionCreationFlag", None)
    flag = getattr(flag_enum, "STRONGLY_TYPED", None) if flag_enum is not None else None
    if flag is None or not hasattr(network, "get_flag"):
        return True
    return bool(network.get_flag(flag))


# --- shapes and types -----------------------------------------------------------------------------
def dims(d: Any) -> tuple[int, ...]:
    """A ``trt.Dims`` (or any sequence of ints) as a tuple of ints; -1 marks a dynamic dimension."""
    return tuple(int(d[i]) for i in range(len(d)))


# TensorRT DataType member name -> NumPy dtype: the one table (trtlab.reference, runtime and build
# use it). BF16, FP8 (E4M3), INT4, FP4 (E2M1) and E8M0 have no NumPy dtype of their own;
# ml_dtypes gives them one (trtlab.lowp), so every TensorRT type has a lossless NumPy equivalent.
DTYPES: dict[str, Any] = {"FLOAT": np.float32, "HALF": np.float16, "BF16": lowp.BF16, "INT8": np.int8,
                          "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8,
                          "FP8": lowp.FP8_E4M3, "INT4": lowp.INT4, "FP4": lowp.FP4_E2M1, "E8M0": lowp.E8M0}
NUMPY_NAMES = {np.dtype(v).name for v in DTYPES.values()}  # float32 … bfloat16, float8_e4m3fn, int4 …


def _member_name(dt: Any) -> str:
    return str(getattr(dt, "name", dt)).split(".")[-1].upper()


def np_dtype(trt_dtype: Any) -> np.dtype:
    """NumPy dtype of a ``trt.DataType`` (by member name, so every backend's enum works)."""
    name = _member_name(trt_dtype)
    found = DTYPES.get(name)
    if found is None:
        raise UserError(f"TensorRT data type {name[:40]} has no NumPy equivalent here")
    return np.dtype(found)


def dtype_name(trt: ModuleType | None, dt: Any) -> str:
    """``float32``, ``float16``, ``bfloat16``, ``float8_e4m3fn`` … for a ``trt.DataType``: its NumPy
    (or ml_dtypes) name, which :func:`parse_dtype` reads back; the lower-case member name for a type
    this table lacks."""
    found = DTYPES.get(_member_name(dt))
    return np.dtype(found).name if found is not None else _member_name(dt).lower()


def parse_dtype(text: Any) -> np.dtype:
    """``float32``, ``bfloat16``, ``DataType.FLOAT``, ``FLOAT``, ``bf16`` … -> NumPy dtype; UserError otherwise."""
    name = str(text).split(".")[-1][:40]
    if name.upper() in DTYPES:
        return np_dtype(name)
    if name.lower() in NUMPY_NAMES:
        return np.dtype(next(v for v in DTYPES.values() if np.dtype(v).name == name.lower()))
    raise UserError(f"unknown tensor dtype {name!r} (known: {', '.join(sorted(NUMPY_NAMES))})")


def is_input(mode: Any) -> bool:
    """``trt.TensorIOMode.INPUT`` (compared by name: every backend has its own enum)."""
    return str(getattr(mode, "name", mode)).split(".")[-1].upper() == "INPUT"


# --- errors ---------------------------------------------------------------------------------------
class captured_stdout:
    """Catch what TensorRT's logger prints (it writes to file descriptor 1, not sys.stdout).

    Our own reasons come from the error recorder; TensorRT's lines would otherwise land before
    the one-line reason or in the middle of ``--json`` output. ``.text`` holds what was caught.
    """

    def __enter__(self) -> "captured_stdout":
        self.text = ""
        self._file = tempfile.TemporaryFile()
        self._redirect = fds_to(self._file, (1,))
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._redirect.__exit__(*exc)
        self._file.seek(0)
        self.text = self._file.read(1 << 20).decode(errors="replace")
        self._file.close()

    def forward(self) -> None:
        """Show what was caught on stderr (TensorRT's warnings stay visible, off stdout)."""
        if self.text.strip():
            sys.stderr.write(self.text if self.text.endswith("\n") else self.text + "\n")


def short_error(desc: str) -> str:
    """TensorRT's message without its source-file locations, on one line."""
    desc = " ".join(desc.split())
    desc = re.sub(r"\s*\(?In \w+ at /_src/\S+?(:\d+)?\s*(?=\()", " ", desc)  # "(In f at /_src/x.cpp:25 (cudaError…"
    desc = re.sub(r"\s*In \w+ at /_src/\S+", "", desc)
    desc = desc.replace("((", "(").replace("))", ")").replace(" )", ")")
    return desc.strip()[:300]


_RECORDER_CLASSES: dict[str, type] = {}


def error_recorder(trt: ModuleType) -> Any:
    """An ``IErrorRecorder`` that keeps TensorRT's messages (``.errors``, ``.first()``)."""
    key = name_of(trt)
    cls = _RECORDER_CLASSES.get(key)
    if cls is None:
        class Recorder(trt.IErrorRecorder):  # type: ignore[name-defined]
            def __init__(self) -> None:
                trt.IErrorRecorder.__init__(self)
                self.errors: list[tuple[Any, str]] = []
                self.lock = threading.Lock()

            def clear(self) -> None:
                self.errors.clear()

            def get_error_code(self, i: int) -> Any:
                return self.errors[i][0]

            def get_error_desc(self, i: int) -> str:
                return self.errors[i][1]

            def has_overflowed(self) -> bool:
                return False

            def num_errors(self) -> int:
                return len(self.errors)

            def report_error(self, code: Any, desc: str) -> bool:
                with self.lock:
                    self.errors.append((code, desc))
                return False  # not fatal for the recorder: TensorRT goes on and returns None

            def first(self) -> str:
                return short_error(self.errors[0][1]) if self.errors else "no error message from TensorRT"

        cls = _RECORDER_CLASSES[key] = Recorder
    return cls()


# --- the header of a TensorRT-RTX plan ------------------------------------------------------------
# Observed (undocumented) layout of TensorRT-RTX 1.x plans: magic "vtrt" at 0, the plan's total
# size as u64 at 16, version bytes major/minor/patch at 24..26, a bit mask of AOT target compute
# capabilities at 32. Used only for hints a user could not get otherwise (truncation and build
# version when the sidecar is missing); the documented check is Runtime.get_engine_validity.
RTX_MAGIC = b"vtrt"
RTX_CC_BITS = {0: "7.5", 1: "8.0", 2: "8.6", 3: "8.9", 4: "12.0", 5: "12.1"}


def read_header(data: bytes) -> dict[str, Any] | None:
    """What the first 36 bytes of a TensorRT-RTX plan say, or None if they are not one."""
    if len(data) < 36 or data[:4] != RTX_MAGIC:
        return None
    total = struct.unpack_from("<Q", data, 16)[0]
    major, minor, patch = data[24], data[25], data[26]
    mask = struct.unpack_from("<I", data, 32)[0]
    ccs = [cc for bit, cc in RTX_CC_BITS.items() if mask >> bit & 1]
    unknown = [bit for bit in range(32) if mask >> bit & 1 and bit not in RTX_CC_BITS]
    return {"format": "tensorrt_rtx plan (observed layout, undocumented)", "declared_size": total,
            "version": f"{major}.{minor}.{patch}", "compute_capabilities": ccs,
            "unknown_target_bits": unknown}
