"""Which TensorRT this machine has, and what it can do with it.

Two Python packages share nearly one API:

* ``tensorrt`` — TensorRT 10.x/11.x (``pip install tensorrt-cu12`` or ``-cu13`` from NVIDIA's
  index): builds and runs engines on any recent NVIDIA GPU, needs one to build.
* ``tensorrt_rtx`` — TensorRT-RTX (``pip install tensorrt-rtx``, on PyPI): builds engines
  ahead of time **without a GPU**, runs them only on the compute capabilities in
  ``RTX_COMPUTE_CAPABILITIES`` below (not Hopper 9.0, not data-centre Blackwell 10.x).

``load()`` returns the module (``tensorrt`` first; ``TRTLAB_BACKEND`` forces one),
``probe()`` says whether this machine can build and run engines, and why not, and
``default_targets()`` what a build targets when the user names nothing.

Test-only: ``TRTLAB_SIMULATE_GPU=8.9`` (any ``X.Y``) makes ``gpus()`` report one simulated GPU
of that compute capability instead of asking NVML, so the test suite can be run as if on an RTX
card (8.9) or an H100 (9.0). Nothing can really run on a simulated GPU; ``trtlab env`` labels it.
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
# The GPUs TensorRT-RTX runs engines on: the ONE list the book, `trtlab env` and the README use.
# Sources, checked 2026-12 against TensorRT-RTX 1.7.1:
# * NVIDIA's support matrix (RTX_SUPPORT_MATRIX), Linux x86-64: 7.5 (Turing, RTX 20xx), 8.6 (Ampere,
#   RTX 30xx), 8.9 (Ada, RTX 40xx), 12.0 (Blackwell, RTX 50xx), 12.1 (GB10, since 1.5); its note: "by
#   default, TensorRT-RTX does not create portable engines that are compatible with Turing".
# * the library itself: trt.ComputeCapability has SM75, SM80, SM86, SM89, SM120, SM121; a build that
#   names no target gets 8.0, 8.6, 8.9, 12.0, 12.1 in its plan header (no 7.5); loading an engine on
#   another GPU is refused with its message "The engine cannot run on this GPU, which has compute
#   capability …" (a string in libtensorrt_rtx.so).
# 8.0 (A100) is a target the library accepts and builds by default, but the matrix does not list it.
# Turing's FP32 is footnoted in the matrix; measured with 1.7.1, a build for 7.5 refuses an FP32 matrix
# multiply ("Cannot compile operation … for Turing (SM75): FP32 GEMM is not supported") and accepts
# FP16 matrix multiplies and FP32 convolutions.
RTX_SUPPORT_MATRIX = "https://docs.nvidia.com/deeplearning/tensorrt-rtx/latest/getting-started/support-matrix.html"
RTX_COMPUTE_CAPABILITIES: dict[tuple[int, int], str] = {
    (7, 5): "Turing (GeForce RTX 20xx, Quadro RTX): default builds leave it out, build with target 7.5 or "
            "current; FP32 matrix multiplies do not compile for it (FP16 ones do)",
    (8, 0): "Ampere A100: a library target (in default builds) that the support matrix does not list",
    (8, 6): "Ampere (GeForce RTX 30xx, RTX A-series)",
    (8, 9): "Ada Lovelace (GeForce RTX 40xx, RTX 6000 Ada)",
    (12, 0): "Blackwell (GeForce RTX 50xx, RTX PRO)",
    (12, 1): "Blackwell GB10 (DGX Spark)",
}
# What a TensorRT-RTX build with no target covers (observed in 1.7.1 plan headers): no Turing.
RTX_DEFAULT_BUILD = ((8, 0), (8, 6), (8, 9), (12, 0), (12, 1))
# Where TensorRT-RTX compiles no FP32 matrix multiply (measured with 1.7.1): trtlab's build then falls
# back to the portable set, which does not run there (FP16 dense layers do build for it).
RTX_NO_FP32_GEMM = ((7, 5),)
RTX_RUNS_ON = tuple(RTX_COMPUTE_CAPABILITIES)
TENSORRT_MIN_CC = (7, 5)


def _cc(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def rtx_list() -> str:
    """``"7.5, 8.0, 8.6, 8.9, 12.0 and 12.1"``: the list, for prose and messages."""
    names = [_cc(cc) for cc in RTX_RUNS_ON]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _rtx_supports(cc: tuple[int, int]) -> bool:
    return tuple(cc) in RTX_COMPUTE_CAPABILITIES


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


SIMULATE_ENV = "TRTLAB_SIMULATE_GPU"


def simulated() -> tuple[int, int] | None:
    """The compute capability ``$TRTLAB_SIMULATE_GPU`` asks for (tests only), else None."""
    value = os.environ.get(SIMULATE_ENV, "").strip()
    if not value:
        return None
    major, dot, minor = value.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise UserError(f"{SIMULATE_ENV} must be a compute capability such as 8.9 or 9.0, not {value!r}")
    return int(major), int(minor)


def gpus() -> tuple[GPU, ...]:
    """The NVIDIA GPUs NVML sees (empty with no driver), or the one ``$TRTLAB_SIMULATE_GPU`` simulates."""
    cc = simulated()
    if cc is not None:
        return (GPU(0, f"simulated GPU ({SIMULATE_ENV}={_cc(cc)})", cc, 0, "simulated"),)
    return real_gpus()


@functools.lru_cache(maxsize=1)
def real_gpus() -> tuple[GPU, ...]:
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
    simulated: bool = False  # the GPU is TRTLAB_SIMULATE_GPU's, not a real one

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        build = "yes" if self.can_build else f"no — {self.build_reason}"
        run = "yes" if self.can_run else f"no — {self.run_reason}"
        sim = f" [GPU simulated by {SIMULATE_ENV}]" if self.simulated else ""
        return f"{self.backend} {self.version}: build engines: {build}; run engines: {run}{sim}"


def can_run_on(backend: str, cc: tuple[int, int]) -> tuple[bool, str]:
    """Whether ``backend`` runs engines on a GPU of compute capability ``cc``, and why not."""
    if backend == "tensorrt_rtx" and not _rtx_supports(cc):
        return False, (f"TensorRT-RTX does not run engines on compute capability {cc[0]}.{cc[1]} "
                       f"(it supports {rtx_list()}; NVIDIA's support matrix)")
    if backend == "tensorrt" and cc < TENSORRT_MIN_CC:
        return False, f"TensorRT 10/11 needs compute capability 7.5 or newer, this GPU has {cc[0]}.{cc[1]}"
    return True, ""


def probe(name: str | None = None) -> Capabilities:
    """What this machine can do: a Builder is really created (import alone proves nothing)."""
    try:
        trt = load(name)
    except UserError as exc:
        wanted = name or os.environ.get("TRTLAB_BACKEND") or "tensorrt_rtx"
        found = gpus()  # the GPU is there even when TensorRT is not: report it
        return Capabilities(None, None, False, str(exc), False, str(exc), found[0] if found else None,
                            INSTALL.get(wanted), simulated() is not None)
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
    return Capabilities(backend, trt.__version__, can_build, build_reason, can_run, run_reason, gpu,
                        simulated=simulated() is not None)


def default_targets(name: str | None = None) -> tuple[str, ...] | None:
    """What a TensorRT-RTX build targets when the user names nothing.

    With a GPU TensorRT-RTX can run: that GPU (``"current"``), so a reader with an RTX 20xx
    (Turing, which default builds leave out) gets an engine that runs. With no such GPU: None,
    the library's portable default (``RTX_DEFAULT_BUILD``). A simulated GPU cannot be queried,
    so it gets its compute capability by name. Enterprise TensorRT always builds for the GPU it
    runs on: None.
    """
    name = name or name_of(load())
    found = gpus()
    if name != "tensorrt_rtx" or not found or not can_run_on(name, found[0].compute_capability)[0]:
        return None
    return (found[0].cc,) if simulated() is not None else ("current",)
