"""Chapter 3.4: engine files that refuse to be misused.

The guide wrote ``engine.serialize()`` to a file and read it back with
``runtime.deserialize_cuda_engine``, warning that an engine only works on the GPU and
TensorRT version that built it. Here that warning is enforced:

* :func:`save` writes the plan and a JSON sidecar (``ENGINE.json``) beside it: backend and
  version, the GPU or the ahead-of-time targets, I/O tensors, profiles, build options, the
  source model and the sha256 of the plan. Both files go through a temporary file and a
  rename, so an interrupted save leaves the previous engine and sidecar intact.
* :func:`check` compares the file with its sidecar and the sidecar with this machine
  **without deserializing**: truncation, hash, backend, version, compute capability, and
  TensorRT-RTX's own header check (``Runtime.get_engine_validity``).
* :func:`load` deserializes only when every check passed, else raises ``UserError`` with a
  one-line reason. A missing sidecar is a warning and a best-effort load.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from . import backend
from .build import Built, captured_stdout, error_recorder, read_header
from .common import UserError, check_output, folder_lock, keep_owner, output_folder, sha256_file, write_temp

FORMAT = "trtlab-engine/1"


def sidecar_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_suffix(path.suffix + ".json")


def _relative(target: Path, start: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), start.resolve())
    except ValueError:  # another drive on Windows
        return str(target.resolve())


def make_sidecar(path: Path, built: Built, source_model: str | os.PathLike | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar dict for ``built`` saved at ``path``."""
    from . import __version__

    source = None
    model = Path(source_model) if source_model is not None else built.source
    if model is not None:
        model = Path(model)
        source = {"path": _relative(model, path.parent), "sha256": sha256_file(model) if model.is_file() else None}
    gpus = backend.gpus()
    return {
        "format": FORMAT,
        "trtlab": __version__,
        "engine": {"file": path.name, "size": built.size, "sha256": built.sha256},
        "backend": built.backend,
        "version": built.version,
        "built": {"at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "host": platform.node(), "seconds": round(built.seconds, 4),
                  "gpu": {"name": gpus[0].name, "cc": gpus[0].cc} if gpus else None},
        "targets": built.targets,
        "io": built.io,
        "profiles": built.profiles,
        "options": built.options.as_dict(),
        "notes": built.notes,
        "header": built.header,
        "source_model": source,
        "extra": extra or {},
    }


def save(path: str | os.PathLike, built: Built, source_model: str | os.PathLike | None = None,
         extra: dict[str, Any] | None = None) -> Path:
    """Write the plan to ``path`` and its sidecar to ``path.json``, atomically.

    Both are written completely to temporary files first; only then are they renamed over
    the old ones (engine first, sidecar right after). A crash before the renames leaves the
    previous pair untouched; a crash between the two renames leaves a new engine beside the
    old sidecar, which :func:`check` refuses (hash mismatch) rather than loading.
    """
    path = Path(path)
    side = sidecar_path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give the engine file's name (e.g. {path / 'model.engine'})")
    if side.is_dir():  # refused before anything is written: no engine without its sidecar
        raise UserError(f"{side} is a folder, and the sidecar of {path.name} must be written there: "
                        "remove it or pick another name")
    model = source_model if source_model is not None else built.source
    if model is not None and path.resolve() == Path(model).resolve():
        raise UserError(f"{path} is the model the engine was built from: saving there would overwrite it; "
                        f"give the engine another name (e.g. {path.with_suffix('.engine').name})")
    sidecar = make_sidecar(path, built, source_model, extra)
    check_output(path, (model,) if model is not None else (), "engine")  # no device, link, input, source
    check_output(side, (model,) if model is not None else (), "sidecar")
    output_folder(path.parent)
    tmp_engine = tmp_side = None
    replaced = False
    try:
        tmp_engine = write_temp(path, built.plan)
        tmp_side = write_temp(side, (json.dumps(sidecar, indent=2) + "\n").encode())
        with folder_lock(path.parent):  # the pair as one unit: two saves to one name never mix
            keep_owner(tmp_engine, path)
            keep_owner(tmp_side, side)
            os.replace(tmp_engine, path)
            replaced = True
            os.replace(tmp_side, side)
    except BaseException as exc:
        for tmp in (tmp_engine, tmp_side):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        after = ("the engine was written but its sidecar was not: save again before using it"
                 if replaced else "any previous engine there is unchanged")
        raise UserError(f"{path}: could not save the engine ({exc.strerror or exc}); {after}") from None
    try:  # make the renames durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in value)


def _is_tensor(t: Any) -> bool:
    return (isinstance(t, dict) and all(isinstance(t.get(k), str) for k in ("name", "mode", "dtype"))
            and _is_shape(t.get("shape")))


def _is_profile(p: Any) -> bool:
    return isinstance(p, dict) and all(
        isinstance(s, dict) and all(_is_shape(s.get(k)) for k in ("min", "opt", "max")) for s in p.values())


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of engine ``path`` (or the sidecar file itself).

    ``{}`` when there is none (an engine from elsewhere: best effort); UserError when there is
    one that is not valid JSON or not a trtlab sidecar.
    """
    path = Path(path)
    side = path if path.suffix == ".json" else sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{side.name}: the sidecar is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{side.name}: not a trtlab sidecar (format {data.get('format') if isinstance(data, dict) else None!r}, "
                        f"expected {FORMAT!r})")
    engine = data.get("engine")
    problems = []
    if not isinstance(engine, dict) or not isinstance(engine.get("size"), int) \
            or not isinstance(engine.get("sha256"), str):
        problems.append("'engine' needs an integer size and a sha256 string")
    for key in ("backend", "version"):
        if not isinstance(data.get(key), str):
            problems.append(f"{key!r} must be a string")
    for key in ("targets", "options", "built", "source_model"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            problems.append(f"{key!r} must be an object")
    targets: dict[str, Any] = data["targets"] if isinstance(data.get("targets"), dict) else {}
    if targets.get("kind") not in (None, "aot", "gpu"):
        problems.append(f"'targets.kind' must be \"aot\" or \"gpu\", not {targets['kind']!r}")
    ccs = targets.get("compute_capabilities")
    if ccs is not None and not (isinstance(ccs, list) and all(isinstance(c, str) for c in ccs)):
        problems.append("'targets.compute_capabilities' must be a list of strings like \"8.6\"")
    if isinstance(data.get("source_model"), dict) and not isinstance(data["source_model"].get("path", ""), str):
        problems.append("'source_model.path' must be a string")
    if data.get("io") is not None and not (isinstance(data["io"], list) and all(_is_tensor(t) for t in data["io"])):
        problems.append("'io' must be a list of tensors, each with a name, mode, dtype (strings) and shape (integers)")
    if data.get("profiles") is not None and not (isinstance(data["profiles"], list)
                                                 and all(_is_profile(p) for p in data["profiles"])):
        problems.append("'profiles' must be a list of {tensor name: {min, opt, max shapes}}")
    if problems:
        raise UserError(f"{side.name}: malformed sidecar: {'; '.join(problems)}")
    return data


# --- checks -----------------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    ok: bool | None  # None: could not be checked here
    detail: str
    kind: str = "file"  # "file" (the bytes), "build" (what built it vs this install), "machine", "info"


@dataclass
class Verdict:
    """What this machine can do with an engine file, decided without deserializing it."""

    can_load: bool  # every check passed and this machine can deserialize engines
    can_run: bool  # ... and its GPU is one the backend runs engines on
    reasons: list[str]  # why not, the most important first (file, then build, then machine)
    intact: bool = True  # the bytes are what was saved (no truncation, hash matches, header sane)
    compatible: bool = True  # backend, version and GPU/targets match this machine (as far as known)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sidecar: dict[str, Any] | None = None

    @property
    def reason(self) -> str:
        return self.reasons[0] if self.reasons else ""

    def as_dict(self) -> dict[str, Any]:
        return {"can_load": self.can_load, "can_run": self.can_run, "intact": self.intact,
                "compatible": self.compatible, "reasons": self.reasons, "warnings": self.warnings,
                "checks": [vars(c) for c in self.checks]}


def _ver(v: str) -> tuple[int, ...]:
    out = []
    for part in str(v).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def engine_validity(trt: ModuleType, data: bytes) -> tuple[str, list[str], str] | None:
    """TensorRT-RTX's documented header check: (validity, diagnostic flags, TensorRT message), or None
    where the backend has no ``Runtime.get_engine_validity``."""
    runtime = trt.Runtime(backend.logger(trt))
    if not hasattr(runtime, "get_engine_validity"):
        return None
    recorder = error_recorder(trt)
    runtime.error_recorder = recorder
    n = max(int(getattr(runtime, "engine_header_size", 64) or 64), 64)
    with captured_stdout() as log:  # without a driver TensorRT logs a fatal-looking line; the result says it
        validity, diagnostics = runtime.get_engine_validity(data[:n] if len(data) >= n else data)
    flags = [name for name, member in trt.EngineInvalidityDiagnostics.__members__.items()
             if int(diagnostics) & int(member)]
    logged = [line.split("] ", 2)[-1] for line in log.text.splitlines() if line.strip()]
    msgs = "; ".join([desc for _, desc in recorder.errors] or logged)
    return validity.name, flags, msgs


def check(path: str | os.PathLike, trt: ModuleType | None = None, gpu: backend.GPU | None = None) -> Verdict:
    """Check an engine file against its sidecar and this machine, without deserializing it.

    ``gpu`` asks about another GPU instead of this machine's ("would it load on an RTX 2080?").
    """
    path = Path(path)
    checks: list[Check] = []
    warn: list[str] = []

    def add(name: str, ok: bool | None, detail: str, kind: str = "file") -> None:
        checks.append(Check(name, ok, detail, kind))

    if path.is_dir():
        add("file", False, f"{path}: is a folder, not an engine file")
        return _verdict(checks, warn, None)
    if not path.is_file():
        add("file", False, f"{path}: " + ("not a regular file (a device, pipe or socket)" if path.exists()
                                          else "no such engine file"))
        return _verdict(checks, warn, None)
    try:
        data = path.read_bytes()
    except OSError as exc:
        add("file", False, f"{path}: cannot be read ({exc.strerror or exc})")
        return _verdict(checks, warn, None)
    if not data:
        add("file", False, f"{path.name}: the engine file is empty")
        return _verdict(checks, warn, None)
    add("file", True, f"{len(data)} bytes")

    sidecar: dict[str, Any] | None = None
    try:
        sidecar = read_sidecar(path) or None
    except UserError as exc:
        add("sidecar", False, str(exc))
        return _verdict(checks, warn, None)
    if sidecar is not None:
        add("sidecar", True, sidecar_path(path).name)
    else:
        msg = (f"{path.name}: no sidecar {sidecar_path(path).name}: hash, backend, version and targets cannot be "
               "verified; best-effort checks only")
        warn.append(msg)
        add("sidecar", None, msg)

    if sidecar is not None:
        want = sidecar.get("engine", {})
        if want.get("size") is not None and len(data) != want["size"]:
            what = "truncated" if len(data) < want["size"] else "longer than saved"
            add("size", False, f"{path.name}: {what}: {len(data)} of {want['size']} bytes")
        else:
            add("size", True, f"{len(data)} bytes as saved")
        digest = hashlib.sha256(data).hexdigest()
        if want.get("sha256") and digest != want["sha256"]:
            add("sha256", False, f"{path.name}: sha256 {digest[:12]}… differs from the sidecar's "
                                 f"{want['sha256'][:12]}…: the file is corrupt or was replaced")
        else:
            add("sha256", True, digest)

    if sidecar is not None and sidecar.get("source_model"):
        src = sidecar["source_model"]
        model = (path.parent / src["path"]) if src.get("path") else None
        if model is None or not model.is_file():
            add("source_model", None, f"{src.get('path')}: not found next to the engine (not needed to load it)", "info")
        elif src.get("sha256") and sha256_file(model) != src["sha256"]:
            msg = f"{path.name}: its source model {src['path']} changed since the build: rebuild to pick the change up"
            warn.append(msg)
            add("source_model", None, msg, "info")
        else:
            add("source_model", True, f"{src['path']} (unchanged since the build)", "info")

    # What built it vs what is installed here.
    try:
        trt = trt or backend.load()
    except UserError as exc:
        add("backend", False, f"no TensorRT here: {exc}", "machine")
        return _verdict(checks, warn, sidecar)
    here, version = backend.name_of(trt), trt.__version__
    built_with = sidecar.get("backend") if sidecar else None
    built_version = sidecar.get("version") if sidecar else None

    header = read_header(data)
    if here == "tensorrt_rtx" and built_with in (None, "tensorrt_rtx"):
        if header is None:
            add("header", False, f"{path.name}: not a TensorRT-RTX engine (no plan header)")
        elif header["declared_size"] != len(data) and not any(c.name == "size" and c.ok is False for c in checks):
            add("header", False, f"{path.name}: truncated: {len(data)} of {header['declared_size']} bytes "
                                 "(size from the plan header)")
        else:
            add("header", True, f"TensorRT-RTX {header['version']} plan, targets "
                                f"{', '.join(header['compute_capabilities']) or '?'}")
            if built_version is None:
                built_version = header["version"]

    if built_with is not None and built_with != here:
        add("backend", False, f"{path.name}: built with {built_with} {built_version}, this machine has {here} "
                              f"{version}: rebuild the engine here", "build")
    elif built_with is not None:
        add("backend", True, here, "build")
    if built_version is not None and (built_with in (None, here)):
        same = _ver(built_version)[:len(_ver(built_version))] == _ver(version)[:len(_ver(built_version))]
        vc = bool(sidecar and sidecar.get("options", {}).get("version_compatible")) and here == "tensorrt"
        if same:
            add("version", True, f"{here} {version}", "build")
        elif vc and _ver(built_version)[0] == _ver(version)[0] and _ver(built_version) <= _ver(version):
            add("version", True, f"version-compatible engine from {built_version}, runtime {version}", "build")
        else:
            add("version", False, f"{path.name}: built with {here} {built_version}, this machine has {version}: "
                                  "engines only load on the TensorRT release that built them; rebuild", "build")

    if header is not None and sidecar is not None and built_with in (None, "tensorrt_rtx") \
            and _ver(header["version"]) != _ver(str(built_version))[:len(_ver(header["version"]))]:
        add("header version", False, f"{path.name}: the plan header says TensorRT-RTX {header['version']}, the "
                                     f"sidecar says {built_version}: the sidecar does not belong to this engine", "build")

    side_targets = ((sidecar or {}).get("targets") or {})
    if header is not None and header["compute_capabilities"] and side_targets.get("kind") == "aot" \
            and side_targets.get("compute_capabilities") \
            and set(side_targets["compute_capabilities"]) != set(header["compute_capabilities"]):
        add("header targets", False, f"{path.name}: the plan header targets compute capability "
                                     f"{', '.join(header['compute_capabilities'])}, the sidecar says "
                                     f"{', '.join(side_targets['compute_capabilities'])}: the sidecar does not "
                                     "belong to this engine", "build")

    # TensorRT-RTX's documented header check (reads the header only).
    if here == "tensorrt_rtx" and built_with in (None, here):
        res = engine_validity(trt, data)
        if res is not None:
            validity, flags, msg = res
            if validity in ("VALID", "SUBOPTIMAL"):
                add("get_engine_validity", True, validity, "build")
            elif "MALFORMED_ENGINE" in flags:
                add("get_engine_validity", False, f"{path.name}: TensorRT-RTX says the engine is malformed "
                                                  "(get_engine_validity: MALFORMED_ENGINE)")
            elif {"VERSION_MISMATCH", "UNSUPPORTED_CC"} & set(flags):
                add("get_engine_validity", False, f"{path.name}: TensorRT-RTX get_engine_validity: INVALID "
                                                  f"({', '.join(flags)})", "build")
            else:
                why = (f"INVALID ({', '.join(flags)})" if flags else "INVALID without diagnostics")
                add("get_engine_validity", None, f"{why}: it could not query a GPU here"
                    + (f" (TensorRT: {_short(msg)})" if msg else ""), "machine")

    # The GPU: the sidecar's targets against this machine's GPU.
    if gpu is None:
        gpus = backend.gpus()
        gpu = gpus[0] if gpus else None
    targets = (sidecar or {}).get("targets") or ({"kind": "aot", "compute_capabilities": header["compute_capabilities"]}
                                                 if header else None)
    if gpu is None:
        add("gpu", False, f"{path.name}: cannot be deserialized on this machine: "
                          f"{backend.probe().run_reason} — {here} builds engines here but needs an NVIDIA GPU "
                          "and driver to load them", "machine")
    else:
        ok_backend, why = backend.can_run_on(here, gpu.compute_capability)
        if not ok_backend:
            add("gpu", False, f"{path.name}: {why} (this GPU: {gpu.name})", "machine")
        elif targets and targets.get("kind") == "aot" and targets.get("compute_capabilities") \
                and not targets.get("current") and gpu.cc not in targets["compute_capabilities"]:
            add("gpu", False, f"{path.name}: built for compute capability {', '.join(targets['compute_capabilities'])}; "
                              f"this GPU ({gpu.name}) is {gpu.cc}: rebuild with that target", "build")
        elif targets and targets.get("kind") == "gpu" and targets.get("compute_capabilities"):
            built_cc = targets["compute_capabilities"][0]
            hw = targets.get("hardware_compatibility")
            if hw == "ampere_plus" and _ver(gpu.cc) >= (8, 0):
                add("gpu", True, f"hardware-compatible (Ampere+) engine on {gpu.name} ({gpu.cc})", "build")
            elif built_cc != gpu.cc:
                add("gpu", False, f"{path.name}: built on {targets.get('gpu')} (compute capability {built_cc}); "
                                  f"this GPU is {gpu.name} ({gpu.cc}): rebuild here", "build")
            else:
                if targets.get("gpu") and targets["gpu"] != gpu.name:
                    warn.append(f"{path.name}: built on {targets['gpu']}, running on {gpu.name} (same compute "
                                "capability; performance may differ)")
                add("gpu", True, f"{gpu.name} ({gpu.cc})", "build")
        else:
            add("gpu", True, f"{gpu.name} ({gpu.cc})", "machine")
    return _verdict(checks, warn, sidecar)


def _short(msg: str) -> str:
    from .build import short_error

    text = short_error(msg)
    text = text.split("] ", 1)[-1] if text.startswith("[") else text  # drop a "[F] " severity tag
    return text.split(". ")[0].rstrip(".")[:200]


def _verdict(checks: list[Check], warn: list[str], sidecar: dict[str, Any] | None) -> Verdict:
    order = {"file": 0, "build": 1, "machine": 2, "info": 3}
    failed = sorted([c for c in checks if c.ok is False], key=lambda c: order[c.kind])
    reasons = [c.detail for c in failed]
    intact = not any(c.kind == "file" for c in failed)
    compatible = not any(c.kind == "build" for c in failed)
    ok = not failed
    return Verdict(can_load=ok, can_run=ok, reasons=reasons, intact=intact, compatible=compatible,
                   checks=checks, warnings=warn, sidecar=sidecar)


def load(path: str | os.PathLike, trt: ModuleType | None = None) -> Any:
    """Check, then deserialize: the ``ICudaEngine``; UserError with the first reason when a check fails."""
    trt = trt or backend.load()
    verdict = check(path, trt)
    for w in verdict.warnings:
        warnings.warn(w, stacklevel=2)
    if verdict.reasons:
        raise UserError(verdict.reason)
    runtime = trt.Runtime(backend.logger(trt))
    recorder = error_recorder(trt)
    runtime.error_recorder = recorder
    options = (verdict.sidecar or {}).get("options") or {}
    if options.get("version_compatible") and hasattr(runtime, "engine_host_code_allowed"):
        # a version-compatible plan carries its own lean runtime (host code); the sha256 check
        # above says it is the file this project built, so it may run
        runtime.engine_host_code_allowed = True
    engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
    if engine is None:
        raise UserError(f"{Path(path).name}: deserialize_cuda_engine failed: {recorder.first()}")
    return engine


# --- inspect ------------------------------------------------------------------------------------
def gpu_of_cc(cc: str) -> backend.GPU:
    """A stand-in GPU of compute capability ``"X.Y"``, to ask "would it load there?"."""
    try:
        major, minor = (int(p) for p in cc.split("."))
    except ValueError:
        raise UserError(f"compute capability must look like 8.6, not {cc!r}") from None
    return backend.GPU(0, "--cc", (major, minor), 0, "n/a")


def inspect(path: str | os.PathLike, trt: ModuleType | None = None, gpu: backend.GPU | None = None) -> dict[str, Any]:
    """Everything known about an engine file: sidecar, I/O, sizes, verdict for this machine
    (or for ``gpu``, a GPU it does not have)."""
    path = Path(path)
    verdict = check(path, trt, gpu=gpu)
    side = verdict.sidecar or {}
    data_head = b""
    if path.is_file():
        with open(path, "rb") as f:
            data_head = f.read(64)
    report: dict[str, Any] = {
        "engine": str(path),
        "size_bytes": path.stat().st_size if path.is_file() else None,
        "sidecar": str(sidecar_path(path)) if verdict.sidecar else None,
        "backend": side.get("backend"),
        "version": side.get("version"),
        "built": side.get("built"),
        "targets": side.get("targets"),
        "io": side.get("io"),
        "profiles": side.get("profiles"),
        "options": side.get("options"),
        "source_model": side.get("source_model"),
        "header": read_header(data_head) if data_head else None,
        "verdict": verdict.as_dict(),
        "deserialized": None,
    }
    report["verdict_for"] = gpu.name if gpu is not None else "this machine"
    if gpu is not None:
        report["verdict"]["cc"] = gpu.cc
    if verdict.can_load and gpu is None:  # only on a machine that can: what the engine itself says
        engine = load(path, trt)
        report["deserialized"] = {
            "io": [{"name": engine.get_tensor_name(i),
                    "mode": str(engine.get_tensor_mode(engine.get_tensor_name(i))).split(".")[-1].lower(),
                    "shape": list(engine.get_tensor_shape(engine.get_tensor_name(i))),
                    "dtype": str(engine.get_tensor_dtype(engine.get_tensor_name(i))).split(".")[-1].lower()}
                   for i in range(engine.num_io_tensors)],
            "num_layers": engine.num_layers,
            "num_optimization_profiles": engine.num_optimization_profiles,
        }
    return report


def format_inspect(report: dict[str, Any]) -> str:
    """The inspect report as text."""
    lines = [f"engine   {report['engine']}  ({report['size_bytes']} bytes)"]
    if report["sidecar"]:
        built = report.get("built") or {}
        lines.append(f"sidecar  {report['sidecar']}")
        lines.append(f"built    with {report['backend']} {report['version']} on {built.get('host')} at {built.get('at')}"
                     f" in {built.get('seconds')} s")
        t = report.get("targets") or {}
        if t.get("kind") == "aot":
            lines.append(f"targets  ahead-of-time for compute capability {', '.join(t.get('compute_capabilities') or ['?'])}"
                         + (" (backend default)" if t.get("default") else ""))
        elif t:
            lines.append(f"targets  the GPU that built it: {t.get('gpu')} ({', '.join(t.get('compute_capabilities') or [])})")
        opts = report.get("options") or {}
        lines.append("options  " + ", ".join(f"{k}={v}" for k, v in opts.items() if v not in (None, False)))
        src = report.get("source_model")
        if src:
            lines.append(f"model    {src.get('path')} (sha256 {str(src.get('sha256'))[:12]}…)")
        lines.append("I/O")
        for t in report.get("io") or []:
            lines.append(f"  {t['mode']:<6} {t['name']:<24} {t['dtype']:<8} {t['shape']}")
        for i, prof in enumerate(report.get("profiles") or []):
            for name, s in prof.items():
                lines.append(f"profile {i}: {name} min {s['min']} opt {s['opt']} max {s['max']}")
    elif report.get("header"):
        h = report["header"]
        lines.append(f"header   TensorRT-RTX {h['version']} plan, targets {', '.join(h['compute_capabilities'])}")
    v = report["verdict"]
    lines.append("checks")
    for c in v["checks"]:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[c["ok"]]
        lines.append(f"  {mark} {c['name']:<20} {c['detail']}")
    for w in v["warnings"]:
        lines.append(f"warning  {w}")
    where = report.get("verdict_for", "this machine")
    if where == "--cc":
        where = f"a GPU of compute capability {v['cc']}" if v.get("cc") else "the GPU asked about"
    if v["can_run"] and where != "this machine":
        lines.append(f"verdict  passes every check made without deserializing for {where}")
    elif v["can_run"]:
        lines.append(f"verdict  loads and runs on {where}")
    else:
        lines.append(f"verdict  cannot load on {where}: {v['reasons'][0] if v['reasons'] else 'unknown'}")
        lines.append(f"         file intact: {'yes' if v['intact'] else 'no'}; matches this install: "
                     f"{'yes' if v['compatible'] else 'no'}")
    return "\n".join(lines)
