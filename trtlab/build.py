"""Chapter 3.3: configure the builder and build a serialized engine (a "plan").

The guide set ``builder.max_batch_size`` and ``builder.max_workspace_size`` and called
``builder.build_cuda_engine(network)``. Today the same intent is written as

* an optimization profile (min / opt / max shape of every dynamic input) instead of a
  maximum batch size (implicit batch was removed in TensorRT 10.0);
* ``config.set_memory_pool_limit(MemoryPoolType.WORKSPACE, bytes)`` instead of the
  workspace size (``max_workspace_size`` deprecated in 8.3, removed in 10.0);
* ``config.builder_optimization_level`` (0-5, since 8.6): how hard the builder searches;
* ``builder.build_serialized_network(network, config)`` instead of ``build_cuda_engine``
  (removed in 8.0): the builder hands back the plan bytes, not a live engine.

Both backends go through the same code; where they differ the code asks ``hasattr``:
TensorRT-RTX builds ahead of time for target compute capabilities without a GPU and has
no timing cache worth using; enterprise TensorRT builds for the GPU it runs on and can
reuse a timing cache, build version-compatible or hardware-compatible engines.

Reduced precision is strongly typed: there is no ``BuilderFlag.FP16`` (removed in
TensorRT 11, never in TensorRT-RTX). An FP16 engine comes from a network whose weights
and tensors are FP16 — :func:`fp16_onnx` rewrites an ONNX model that way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from .compat import (RTX_CC_BITS, RTX_MAGIC, captured_stdout, dims, dtype_name, error_recorder,  # noqa: F401
                     is_strongly_typed, read_header, short_error)  # backend differences live in compat
from .parse import parse_onnx as _parse_onnx
from . import backend
from .common import UserError, atomic_write, fds_to, run_with_stack

# TensorRT-RTX ahead-of-time targets: the names a user writes -> ComputeCapability members.
CC_NAMES = {"7.5": "SM75", "8.0": "SM80", "8.6": "SM86", "8.9": "SM89", "12.0": "SM120", "12.1": "SM121",
            "current": "CURRENT"}
HW_COMPAT = {"ampere_plus": "AMPERE_PLUS", "same_cc": "SAME_COMPUTE_CAPABILITY"}


@dataclass
class BuildOptions:
    """What the builder is told. The defaults build a dynamic-batch FP32 engine.

    ``max_batch``/``opt_batch``/``min_batch`` make the optimization profile of the batch
    dimension (the first dimension of every input whose first dimension is -1).
    """

    max_batch: int = 64
    opt_batch: int | None = None  # the batch the kernels are tuned for; default: max_batch
    min_batch: int = 1
    workspace_mib: int | None = 256  # workspace pool limit; None leaves TensorRT's default
    opt_level: int = 3  # builder_optimization_level 0-5 (TensorRT 8.6+)
    fp16: bool = False  # strongly typed FP16: build_onnx casts the model's weights to half
    tf32: bool = True  # allow TF32 tensor-core math for FP32 (where the backend has the flag)
    compute_capabilities: tuple[str, ...] | None = None  # TensorRT-RTX AOT targets, e.g. ("8.6", "12.0")
    progress: bool = False  # progress bar from IProgressMonitor (tqdm)
    timing_cache: str | None = None  # enterprise TensorRT: file to load/save the timing cache
    version_compatible: bool = False  # enterprise TensorRT: BuilderFlag.VERSION_COMPATIBLE
    hardware_compatibility: str | None = None  # enterprise TensorRT: "ampere_plus" | "same_cc"

    def __post_init__(self) -> None:
        if isinstance(self.compute_capabilities, (list, str)):
            caps = self.compute_capabilities
            self.compute_capabilities = tuple([caps] if isinstance(caps, str) else caps)

    @property
    def opt(self) -> int:
        return self.opt_batch if self.opt_batch is not None else self.max_batch

    def validate(self) -> None:
        if not 1 <= self.min_batch <= self.opt <= self.max_batch:
            raise UserError(f"batch sizes must satisfy 1 <= min ({self.min_batch}) <= opt ({self.opt}) "
                            f"<= max ({self.max_batch})")
        if self.workspace_mib is not None and self.workspace_mib <= 0:
            raise UserError(f"workspace must be a positive number of MiB, not {self.workspace_mib}")
        if not 0 <= self.opt_level <= 5:
            raise UserError(f"builder optimization level must be 0-5, not {self.opt_level}")
        for cc in self.compute_capabilities or ():
            if cc not in CC_NAMES:
                raise UserError(f"unknown target compute capability {cc!r}; choose from {', '.join(CC_NAMES)}")
        if "current" in (self.compute_capabilities or ()) and len(self.compute_capabilities or ()) > 1:
            raise UserError("target 'current' (the GPU of this machine) must be the only target")
        if self.hardware_compatibility not in (None, *HW_COMPAT):
            raise UserError(f"hardware_compatibility must be one of {', '.join(HW_COMPAT)}")

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("progress")  # how the build was watched, not what was built
        d["opt_batch"] = self.opt
        d["compute_capabilities"] = list(self.compute_capabilities) if self.compute_capabilities else None
        return d


@dataclass
class Built:
    """A serialized engine and what is known about it without deserializing it."""

    plan: bytes
    seconds: float
    options: BuildOptions
    backend: str
    version: str
    io: list[dict[str, Any]]  # name, mode ("input"/"output"), shape (-1 = dynamic), dtype
    profiles: list[dict[str, dict[str, list[int]]]]  # [{input: {min, opt, max}}]
    targets: dict[str, Any]  # {"kind": "aot", "compute_capabilities": [...]} or {"kind": "gpu", ...}
    notes: list[str] = field(default_factory=list)  # options a backend ignored, and why
    source: Path | None = None  # the ONNX model it was built from, if any
    header: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        return len(self.plan)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.plan).hexdigest()

    def summary(self) -> dict[str, Any]:
        """A small dict for tables: options, time and size."""
        return {"max_batch": self.options.max_batch, "opt_level": self.options.opt_level,
                "precision": "fp16" if self.options.fp16 else "fp32",
                "build_s": round(self.seconds, 3), "size_bytes": self.size}


def describe_io(trt: ModuleType, network: Any) -> list[dict[str, Any]]:
    """Name, mode, shape and dtype of every network input and output."""
    io = []
    for mode, count, get in (("input", network.num_inputs, network.get_input),
                             ("output", network.num_outputs, network.get_output)):
        for i in range(count):
            t = get(i)
            io.append({"name": t.name, "mode": mode, "shape": list(dims(t.shape)),
                       "dtype": dtype_name(trt, t.dtype)})
    return io


def network_dtypes(trt: ModuleType, network: Any) -> set[str]:
    """The dtypes of every layer output: tells an FP16 network from an FP32 one."""
    found = set()
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            found.add(dtype_name(trt, layer.get_output(j).dtype))
    return found


def progress_monitor(trt: ModuleType) -> Any | None:
    """An IProgressMonitor that draws the builder's phases as tqdm bars, or None if the backend has none."""
    if not hasattr(trt, "IProgressMonitor"):
        return None
    from tqdm import tqdm

    class Monitor(trt.IProgressMonitor):  # type: ignore[misc,name-defined]
        """One bar for the top-level phase; the innermost running phase shown beside it."""

        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.lock = threading.Lock()
            self.bar: Any = None
            self.top: str | None = None
            self.phases: list[str] = []  # every phase name seen, in order

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self.lock:
                self.phases.append(phase_name)
                if parent_phase is None and self.bar is None:
                    self.top = phase_name
                    self.bar = tqdm(total=num_steps, desc=phase_name, file=sys.stderr, ascii=True, ncols=90,
                                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} {postfix}")
                elif self.bar is not None:
                    self.bar.set_postfix_str(phase_name, refresh=True)

        def step_complete(self, phase_name: str, step: int) -> bool:
            with self.lock:
                if self.bar is not None and phase_name == self.top:
                    self.bar.n = step + 1
                    self.bar.refresh()
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            with self.lock:
                if self.bar is not None and phase_name == self.top:
                    self.bar.n = self.bar.total
                    self.bar.set_postfix_str("done", refresh=False)
                    self.bar.close()
                    self.bar = None

    return Monitor()


# --- the build -------------------------------------------------------------------------------
def configure(trt: ModuleType, builder: Any, network: Any, options: BuildOptions) -> tuple[Any, list[dict], list[str]]:
    """An IBuilderConfig for ``options``: profiles, workspace, level, TF32, targets.

    Returns (config, profiles as dicts, notes about options this backend ignores).
    """
    options.validate()
    rtx = backend.name_of(trt) == "tensorrt_rtx"
    config = builder.create_builder_config()
    notes: list[str] = []

    # The optimization profile replaces builder.max_batch_size (implicit batch, removed in 10.0).
    profile = builder.create_optimization_profile()
    described: dict[str, dict[str, list[int]]] = {}
    for i in range(network.num_inputs):
        t = network.get_input(i)
        shape = dims(t.shape)
        if -1 not in shape:
            continue
        if shape[0] != -1 or -1 in shape[1:]:
            raise UserError(f"input {t.name!r} has shape {shape}: only a dynamic first (batch) dimension "
                            "is supported by trtlab build; fix the other dimensions in the model")
        lo, opt, hi = ([b, *shape[1:]] for b in (options.min_batch, options.opt, options.max_batch))
        profile.set_shape(t.name, trt.Dims(lo), trt.Dims(opt), trt.Dims(hi))
        described[t.name] = {"min": lo, "opt": opt, "max": hi}
    profiles = []
    if described:
        config.add_optimization_profile(profile)
        profiles.append(described)
    else:
        notes.append("the network has no dynamic input: no optimization profile, max_batch is not used")

    # Workspace: a memory pool limit (max_workspace_size deprecated 8.3, removed 10.0).
    if options.workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)

    if hasattr(config, "builder_optimization_level"):
        config.builder_optimization_level = options.opt_level
    else:
        notes.append("this TensorRT has no builder_optimization_level (added in 8.6)")

    if hasattr(trt.BuilderFlag, "TF32"):
        (config.set_flag if options.tf32 else config.clear_flag)(trt.BuilderFlag.TF32)

    if options.compute_capabilities:
        if not hasattr(config, "set_compute_capability"):
            raise UserError("target compute capabilities are a TensorRT-RTX option: enterprise TensorRT "
                            "builds for the GPU it runs on (see hardware_compatibility)")
        config.num_compute_capabilities = len(options.compute_capabilities)
        for i, cc in enumerate(options.compute_capabilities):
            if not config.set_compute_capability(getattr(trt.ComputeCapability, CC_NAMES[cc]), i):
                raise UserError(f"TensorRT refused target compute capability {cc} at index {i}"
                                + (" ('current' must be the only target)" if cc == "current" else ""))

    if options.timing_cache:
        if rtx:
            notes.append("timing cache ignored: TensorRT-RTX engines do not use it (deprecated in RTX 1.2, and "
                         "it would force a GPU query during the CPU-only build); RTX has a runtime cache instead")
        else:
            path = Path(options.timing_cache)
            cache = config.create_timing_cache(path.read_bytes() if path.exists() else b"")
            config.set_timing_cache(cache, ignore_mismatch=False)

    if options.version_compatible:
        if rtx:
            notes.append("version_compatible ignored: TensorRT-RTX engines only run on the release that built them")
        else:
            config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)

    if options.hardware_compatibility:
        if rtx:
            notes.append("hardware_compatibility ignored: TensorRT-RTX picks portability by target compute "
                         "capabilities instead")
        else:
            config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel,
                                                          HW_COMPAT[options.hardware_compatibility])
    return config, profiles, notes


def _targets(trt: ModuleType, options: BuildOptions, header: dict[str, Any] | None) -> dict[str, Any]:
    if backend.name_of(trt) == "tensorrt_rtx":
        explicit = list(options.compute_capabilities or [])
        if explicit and explicit != ["current"]:
            ccs = explicit
        elif header is not None:  # the backend's default set, or the GPU that "current" found
            ccs = header["compute_capabilities"]
        else:
            ccs = []
        return {"kind": "aot", "compute_capabilities": ccs, "default": not explicit,
                "current": explicit == ["current"]}
    gpus = backend.gpus()
    gpu = gpus[0] if gpus else None
    return {"kind": "gpu", "gpu": gpu.name if gpu else None,
            "compute_capabilities": [gpu.cc] if gpu else [],
            "hardware_compatibility": options.hardware_compatibility,
            "version_compatible": options.version_compatible}


def build(builder: Any, network: Any, options: BuildOptions | None = None, trt: ModuleType | None = None) -> Built:
    """Configure and run ``builder.build_serialized_network``; time it; raise UserError on failure."""
    options = options or BuildOptions()
    trt = trt or backend.load()
    auto = options.compute_capabilities is None and backend.default_targets(backend.name_of(trt))
    if auto:  # a GPU TensorRT-RTX runs on: build for it (compute_capabilities=() is the portable set)
        options = dataclasses.replace(options, compute_capabilities=auto)
    if network.num_outputs == 0 or network.num_inputs == 0:
        raise UserError(f"the network has {network.num_inputs} inputs and {network.num_outputs} outputs: "
                        "nothing to build (an empty or non-ONNX file?)")
    if options.fp16 and "float16" not in network_dtypes(trt, network):
        raise UserError("fp16=True but the network holds no FP16 tensor: under strong typing FP16 comes from "
                        "FP16 weights and casts (build_onnx(..., fp16=True) converts the model)")
    if options.fp16 and not is_strongly_typed(network, trt):
        raise UserError("an FP16 network must be strongly typed: on TensorRT 10.x create it with "
                        "compat.create_network (NetworkDefinitionCreationFlag.STRONGLY_TYPED); TensorRT 10 "
                        "would otherwise choose precisions itself")
    config, profiles, notes = configure(trt, builder, network, options)
    monitor = progress_monitor(trt) if options.progress and hasattr(config, "progress_monitor") else None
    if monitor is not None:
        config.progress_monitor = monitor
    recorder = error_recorder(trt)
    previous = builder.error_recorder
    builder.error_recorder = recorder
    io = describe_io(trt, network)
    try:
        with captured_stdout() as log:
            start = time.perf_counter()
            # on a thread with a large stack: deep graphs overflow the main thread's (a segfault)
            plan = run_with_stack(builder.build_serialized_network, network, config)
            seconds = time.perf_counter() - start
    finally:
        builder.error_recorder = previous
    if plan is None:
        reason = recorder.first()
        if auto and "Turing" in reason:  # e.g. no FP32 matrix multiply for 7.5: the portable set, said in a note
            built = build(builder, network, dataclasses.replace(options, compute_capabilities=()), trt)
            built.notes.append(f"built the portable set, which does not run on this GPU: {reason}")
            return built
        if list(options.compute_capabilities or ()) == ["current"] and not backend.real_gpus():
            reason = ("target 'current' means the GPU of this machine, and this machine has none "
                      f"(TensorRT said: {reason}); name targets such as 8.6 or 12.0 instead")
        raise UserError(f"the build failed: {reason}")
    log.forward()
    data = bytes(plan)
    if options.timing_cache and backend.name_of(trt) == "tensorrt":
        atomic_write(options.timing_cache, bytes(config.get_timing_cache().serialize()))
    header = read_header(data)
    return Built(plan=data, seconds=seconds, options=options, backend=backend.name_of(trt),
                 version=trt.__version__, io=io, profiles=profiles,
                 targets=_targets(trt, options, header), notes=notes, header=header)


# --- ONNX ------------------------------------------------------------------------------------
def parse_onnx(path: Path, trt: ModuleType, strongly_typed: bool = True) -> tuple[Any, Any, Any]:
    """``trtlab.parse.parse_onnx`` (the chapter-3 module), TensorRT's log lines kept off stdout.

    Every network is strongly typed on every backend (``compat.network_flags``);
    ``strongly_typed`` is kept for old callers and means nothing more."""
    with captured_stdout() as log:  # the parser's errors come back in the exception
        result = _parse_onnx(path, trt)
    log.forward()
    return result


def fp16_onnx(model: Any) -> Any:
    """An FP16 copy of an ONNX ModelProto whose inputs and outputs stay FP32.

    Float initializers and Constant tensors become float16, Casts to float become casts to
    float16, and a Cast is put after every FP32 input and before every FP32 output, so the
    engine takes and returns float32 while computing in half (strong typing). Subgraphs
    (If/Loop bodies) are not converted.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    keep_fp32 = {n.input[i] for n in g.node if n.op_type == "Resize" for i in (1, 2) if i < len(n.input)}

    def half(t: Any) -> None:
        if t.data_type == TensorProto.FLOAT and t.name not in keep_fp32:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))

    for init in g.initializer:
        half(init)
    for node in g.node:
        for attr in node.attribute:
            if node.op_type in ("Constant", "ConstantOfShape") and attr.name == "value":
                half(attr.t)
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    del g.value_info[:]
    initializers = {i.name for i in g.initializer}
    front, back = [], []
    for inp in g.input:
        if inp.name in initializers or inp.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        new = inp.name + "__fp16"
        for node in g.node:
            node.input[:] = [new if x == inp.name else x for x in node.input]
        front.append(helper.make_node("Cast", [inp.name], [new], to=TensorProto.FLOAT16, name=new + "_cast"))
    for out in g.output:
        if out.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        new = out.name + "__fp16"
        for node in g.node:
            node.output[:] = [new if x == out.name else x for x in node.output]
            node.input[:] = [new if x == out.name else x for x in node.input]
        back.append(helper.make_node("Cast", [new], [out.name], to=TensorProto.FLOAT, name=new + "_cast"))
    nodes = front + list(g.node) + back
    del g.node[:]
    g.node.extend(nodes)
    return m


def build_onnx(onnx_path: str | os.PathLike, options: BuildOptions | None = None,
               trt: ModuleType | None = None) -> Built:
    """Parse an ONNX model (FP16-converted first when ``options.fp16``) and build it."""
    options = options or BuildOptions()
    options.validate()
    trt = trt or backend.load()
    path = Path(onnx_path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an ONNX model")
    if not path.is_file():
        raise UserError(f"{path}: " + ("not a regular file (a device, pipe or socket)" if path.exists()
                                       else "no such ONNX model"))
    if not options.fp16:
        builder, network, _parser = parse_onnx(path, trt)
        built = _build_model(path, builder, network, options, trt)
    else:
        import onnx

        if not path.stat().st_size:
            raise UserError(f"{path} is empty, not an ONNX model")
        try:
            model = onnx.load(str(path))
        except Exception as exc:
            raise UserError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
        with tempfile.TemporaryDirectory(prefix="trtlab-fp16-") as tmp:
            half = Path(tmp) / (path.stem + ".fp16.onnx")
            try:
                onnx.save(fp16_onnx(model), str(half))
            except (ValueError, TypeError) as exc:  # an initializer shorter than its dims, an odd dtype …
                raise UserError(f"{path}: cannot convert it to FP16: {' '.join(str(exc).split())}") from None
            try:
                builder, network, _parser = parse_onnx(half, trt, strongly_typed=True)
            except UserError as exc:  # name the user's model, not the temporary FP16 copy
                issues = getattr(exc, "issues", None)
                if issues is not None:
                    raise type(exc)(path, issues) from None
                raise UserError(str(exc).replace(str(half), str(path))) from None
            built = _build_model(path, builder, network, options, trt)
    built.source = path
    return built


def _build_model(path: Path, builder: Any, network: Any, options: BuildOptions, trt: ModuleType) -> Built:
    try:
        return build(builder, network, options, trt=trt)
    except UserError as exc:
        raise UserError(f"{path.name}: {exc}") from None
