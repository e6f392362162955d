"""Chapter 0: the environment, made live.

The guide's whole chapter 0 is one line — ``Cpu=X86; OS: Ubuntu16.04; Tensorflow=12;
Cuda=10.0; Cudnn=`` — written once for one machine. ``report()`` reads the same facts off
*this* machine, gives each a verdict (ok / missing / unsupported, and why), and ends with
what the machine can do: build engines, run them, or neither.
"""
from __future__ import annotations

import ctypes.util
import importlib.metadata as md
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from . import backend

OK, MISSING, UNSUPPORTED, INFO = "ok", "missing", "unsupported", "info"


@dataclass
class Item:
    name: str
    value: str
    verdict: str
    why: str = ""


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)
    capabilities: backend.Capabilities | None = None

    def get(self, name: str) -> Item:
        return next(i for i in self.items if i.name == name)

    def as_dict(self) -> dict[str, Any]:
        caps = self.capabilities.as_dict() if self.capabilities else {}
        return {"items": [asdict(i) for i in self.items], **caps}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _first_version(*dists: str) -> tuple[str, str] | None:
    for d in dists:
        if (v := _version(d)) is not None:
            return d, v
    return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({platform.machine()}, {os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def _os() -> str:
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return fields.get("PRETTY_NAME", "").strip('"') or platform.platform()
    except OSError:
        return platform.platform()


def _cuda_runtime() -> Item:
    """The CUDA runtime cuda-python links (works without a driver)."""
    try:
        from cuda.bindings import runtime as cudart

        err, v = cudart.cudaRuntimeGetVersion()
        if int(err) == 0:
            return Item("CUDA runtime", f"{v // 1000}.{(v % 1000) // 10}", OK, "via cuda-python")
    except Exception as exc:  # cuda-python missing or broken
        return Item("CUDA runtime", "", MISSING, f"cuda-python cannot report it ({type(exc).__name__})")
    return Item("CUDA runtime", "", MISSING, "cudaRuntimeGetVersion failed")


def _cuda_driver() -> Item:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            v = pynvml.nvmlSystemGetCudaDriverVersion()
            drv = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
        return Item("CUDA driver", f"{v // 1000}.{(v % 1000) // 10} (driver {drv})", OK)
    except Exception:
        return Item("CUDA driver", "", MISSING, "no NVIDIA driver: NVML could not start")


def _cudnn() -> Item:
    found = _first_version("nvidia-cudnn-cu13", "nvidia-cudnn-cu12")
    if found:
        return Item("cuDNN", f"{found[1]} ({found[0]})", OK)
    if ctypes.util.find_library("cudnn"):
        return Item("cuDNN", "system libcudnn", OK)
    return Item("cuDNN", "", INFO, "not installed; TensorRT 10+ and TensorRT-RTX do not need it "
                                   "(TensorRT 8.6 turned its cuDNN tactic source off by default; 10.0 deprecated it)")


def report() -> Report:
    caps = backend.probe()
    items = [
        Item("CPU", _cpu(), OK),
        Item("OS", _os(), OK),
        Item("Python", platform.python_version(), OK if sys.version_info >= (3, 10) else UNSUPPORTED,
             "" if sys.version_info >= (3, 10) else "trtlab needs Python 3.10+"),
    ]
    tf = _first_version("tensorflow-cpu", "tensorflow")
    items.append(Item("TensorFlow", f"{tf[1]} ({tf[0]})" if tf else "", OK if tf else MISSING,
                      "" if tf else "pip install tensorflow-cpu==2.21.*"))
    items += [_cuda_driver(), _cuda_runtime(), _cudnn()]
    if caps.backend:
        flavour = "TensorRT-RTX" if caps.backend == "tensorrt_rtx" else "TensorRT"
        items.append(Item("TensorRT", f"{flavour} {caps.version} (import {caps.backend})",
                          OK if caps.can_build else UNSUPPORTED, caps.build_reason))
    else:
        items.append(Item("TensorRT", "", MISSING, f"install: {caps.install}"))
    gpu = caps.gpu
    if gpu is None:
        items.append(Item("GPU", "", MISSING, "no NVIDIA GPU visible (NVML)"))
    else:
        if caps.simulated:
            items.append(Item("GPU", gpu.name, INFO, f"SIMULATED for tests by {backend.SIMULATE_ENV}: this machine "
                                                      "may have no such GPU, and nothing runs on it"))
        else:
            items.append(Item("GPU", gpu.name, OK))
        if caps.backend is None:
            items.append(Item("Compute capability", gpu.cc, INFO, "no TensorRT backend yet to judge it"))
        else:
            items.append(Item("Compute capability", gpu.cc, OK if caps.can_run else UNSUPPORTED, caps.run_reason))
        if not caps.simulated:
            items.append(Item("GPU memory", f"{gpu.memory_total_mib} MiB", OK))
    if caps.backend == "tensorrt_rtx":
        items.append(Item("TensorRT-RTX GPUs", f"compute capability {backend.rtx_list()}", INFO,
                          "NVIDIA's support matrix and the library's own targets; default builds leave out "
                          f"7.5 (Turing) — {backend.RTX_SUPPORT_MATRIX}"))
        targets = backend.default_targets(caps.backend)
        items.append(Item("Default build targets", ", ".join(targets) if targets else
                          "the library's portable set: " + ", ".join(f"{a}.{b}" for a, b in backend.RTX_DEFAULT_BUILD),
                          INFO, "this GPU" if targets else "no GPU here that TensorRT-RTX runs on"))
    found = _first_version("cuda-python", "cuda-bindings")  # cuda-bindings alone provides cuda.bindings
    cp = f"{found[1]}" + (" (cuda-bindings)" if found[0] == "cuda-bindings" else "") if found else None
    items.append(Item("cuda-python", cp or "", OK if cp else MISSING, "" if cp else "pip install cuda-python"))
    pc = _version("pycuda")
    items.append(Item("pycuda", pc or "", OK if pc else INFO,
                      "" if pc else "optional: only for the guide's own pycuda calls (pip install pycuda)"))
    return Report(items, caps)


def verdict_line(caps: backend.Capabilities) -> str:
    """The chapter's last line: what this machine can do with TensorRT."""
    if caps.backend is None:
        return f"This machine cannot use TensorRT yet: {caps.build_reason}"
    build = "builds engines" if caps.can_build else f"cannot build engines ({caps.build_reason})"
    if caps.can_run:
        run = "and runs them on this GPU"
    else:
        run = f"but cannot run them here ({caps.run_reason}); inference falls back to the CPU reference"
    sim = f" (GPU simulated by {backend.SIMULATE_ENV}, for tests only)" if caps.simulated else ""
    return f"This machine {build} with {caps.backend} {caps.version} {run}{sim}."


def format_report(rep: Report) -> str:
    width = max(len(i.name) for i in rep.items)
    lines = []
    for i in rep.items:
        why = f"  — {i.why}" if i.why else ""
        lines.append(f"{i.name:<{width}}  {i.verdict:<11}  {i.value or '-'}{why}")
    if rep.capabilities:
        lines += ["", verdict_line(rep.capabilities)]
    return "\n".join(lines)
