"""Which TensorRT this machine has, and what it can do with it.

Two Python packages share nearly one API:

* ``tensorrt`` — TensorRT 10.x/11.x (``pip install tensorrt-cu12`` or ``-cu13`` from NVIDIA's
  index): builds and runs engines on any recent NVIDIA GPU, needs one to build.
* ``tensorrt_rtx`` — TensorRT-RTX (``pip install tensorrt-rtx``, on PyPI): builds engines
  ahead of time **without a GPU**, runs them only on compute capability 7.5, 8.0, 8.6, 8.9
  and 12.x (not Hopper 9.0, not data-centre Blackwell 10.x).

``load()`` returns the module (``tensorrt`` first; ``TRTLAB_BACKEND`` forces one) and
``probe()`` says whether this machine can build and run engines, and why not.
"""
from __future__ import annotations

import functools
import importlib
import os
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from .common import UserError

BACKENDS = ("tensorrt", "tensorrt_rtx")
INSTALL = {
    "tensorrt": "pip install --extra-index-url https://pypi.nvidia.com tensorrt-cu12",
    "tensorrt_rtx": "pip install tensorrt-rtx",
}
# Compute capabilities each backend can run engines on.
RTX_RUNS_ON = ((7, 5), (8, 0), (8, 6), (8, 9))  # … and every 12.x
TENSORRT_MIN_CC = (7, 5)


def _rtx_supports(cc: tuple[int, int]) -> bool:
    return cc in RTX_RUNS_ON or cc[0] == 12


@functools.lru_cache(maxsize=None)
def load(name: str | None = None) -> ModuleType:
    """The TensorRT module: ``name``, else ``$TRTLAB_BACKEND``, else ``tensorrt``, else ``tensorrt_rtx``."""
    name = name or os.environ.get("TRTLAB_BACKEND") or None
    if name is not None and name not in BACKENDS:
        raise UserError(f"TRTLAB_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    errors = []
    for candidate in [name] if name else BACKENDS:
        try:
            module = importlib.import_module(candidate)
        except ImportError as exc:
            errors.append(f"{candidate}: {exc}")
            continue
        # tensorrt-stubs leaves a folder `tensorrt/` holding only .pyi files, which Python
        # imports as an empty namespace package: that is not TensorRT.
        if getattr(module, "Builder", None) is None:
            errors.append(f"{candidate}: only type stubs are installed")
            continue
        return module
    wanted = name or "tensorrt_rtx"
    raise UserError(f"no TensorRT backend importable ({'; '.join(errors)}); install one: {INSTALL[wanted]}")


def name_of(trt: ModuleType) -> str:
    return "tensorrt_rtx" if trt.__name__.startswith("tensorrt_rtx") else "tensorrt"


_LOGGERS: dict[str, Any] = {}


def logger(trt: ModuleType | None = None) -> Any:
    """One ``trt.Logger(WARNING)`` per backend, shared (TensorRT wants one logger per process)."""
    trt = trt or load()
    key = name_of(trt)
    if key not in _LOGGERS:
        _LOGGERS[key] = trt.Logger(trt.Logger.WARNING)
    return _LOGGERS[key]


@dataclass
class GPU:
    index: int
    name: str
    compute_capability: tuple[int, int]
    memory_total_mib: int
    driver: str

    @property
    def cc(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


@functools.lru_cache(maxsize=1)
def gpus() -> tuple[GPU, ...]:
    """The NVIDIA GPUs NVML sees; empty with no driver (NVML comes from ``nvidia-ml-py``)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return ()
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            found.append(GPU(i, name.decode() if isinstance(name, bytes) else name,
                             tuple(pynvml.nvmlDeviceGetCudaComputeCapability(h)),
                             pynvml.nvmlDeviceGetMemoryInfo(h).total // 2**20,
                             driver.decode() if isinstance(driver, bytes) else driver))
        return tuple(found)
    finally:
        pynvml.nvmlShutdown()


@dataclass
class Capabilities:
    backend: str | None
    version: str | None
    can_build: bool
    build_reason: str
    can_run: bool
    run_reason: str
    gpu: GPU | None = None
    install: str | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        build = "yes" if self.can_build else f"no — {self.build_reason}"
        run = "yes" if self.can_run else f"no — {self.run_reason}"
        return f"{self.backend} {self.version}: build engines: {build}; run engines: {run}"


def can_run_on(backend: str, cc: tuple[int, int]) -> tuple[bool, str]:
    """Whether ``backend`` runs engines on a GPU of compute capability ``cc``, and why not."""
    if backend == "tensorrt_rtx" and not _rtx_supports(cc):
        return False, (f"TensorRT-RTX does not run engines on compute capability {cc[0]}.{cc[1]} "
                       "(it supports 7.5, 8.0, 8.6, 8.9 and 12.x)")
    if backend == "tensorrt" and cc < TENSORRT_MIN_CC:
        return False, f"TensorRT 10/11 needs compute capability 7.5 or newer, this GPU has {cc[0]}.{cc[1]}"
    return True, ""


def probe(name: str | None = None) -> Capabilities:
    """What this machine can do: a Builder is really created (import alone proves nothing)."""
    try:
        trt = load(name)
    except UserError as exc:
        wanted = name or os.environ.get("TRTLAB_BACKEND") or "tensorrt_rtx"
        return Capabilities(None, None, False, str(exc), False, str(exc), None, INSTALL.get(wanted))
    backend = name_of(trt)
    can_build, build_reason = True, ""
    try:
        builder = trt.Builder(logger(trt))
        del builder
    except Exception as exc:  # no GPU/driver for enterprise TensorRT, broken install …
        can_build, build_reason = False, f"trt.Builder failed: {exc}".strip()
    found = gpus()
    gpu = found[0] if found else None
    if gpu is None:
        can_run, run_reason = False, "no NVIDIA GPU or driver found: NVML could not start"
    else:
        can_run, run_reason = can_run_on(backend, gpu.compute_capability)
    return Capabilities(backend, trt.__version__, can_build, build_reason, can_run, run_reason, gpu)
