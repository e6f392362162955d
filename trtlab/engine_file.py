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
from typing import Any, Callable

from . import __version__, backend, compat
from .build import Built, captured_stdout, error_recorder, read_header
from .common import UserError, check_output, folder_lock, fsync_folder, keep_owner, output_folder, sha256_file, write_temp

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
    source = None
    model = Path(source_model) if source_model is not None else built.source
    if model is not None:
        model = Path(model)
        source = {"path": _relative(model, path.parent), "sha256": sha256_file(model) if model.is_file() else None}
    gpus = backend.gpus()
    data = {
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
    Sidecar.from_dict(data, sidecar_path(path).name)  # what is written must read back through the same schema
    return data


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
    fsync_folder(path.parent)  # make the renames durable
    return path


# --- the sidecar: one schema, validated once ---------------------------------------------------
MAX_SIDECAR_BYTES = 4 << 20  # a sidecar is a few KiB; anything larger is not one
MAX_TEXT = 4096  # characters of any string in a sidecar (paths included)
MAX_DIM = 2 ** 31 - 1  # TensorRT's Dims hold 32-bit (signed) values


def _text(value: Any, what: str, problems: list[str], optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        problems.append(f"{what} must be a string")
        return None
    if len(value) > MAX_TEXT or "\0" in value:
        problems.append(f"{what} is longer than {MAX_TEXT} characters or holds a NUL")
        return None
    return value


def _shape(value: Any, what: str, problems: list[str], rank: int | None = None, low: int = -1) -> list[int] | None:
    if not (isinstance(value, list) and len(value) <= 64
            and all(isinstance(d, int) and not isinstance(d, bool) for d in value)):
        problems.append(f"{what} must be a list of integers")
        return None
    if any(not low <= d <= MAX_DIM for d in value):
        problems.append(f"{what} {_clip(value)} has a dimension outside {low}..{MAX_DIM}")
        return None
    if rank is not None and len(value) != rank:
        problems.append(f"{what} has {len(value)} dimensions, the tensor {rank}")
        return None
    return list(value)


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _obj(value: Any, what: str, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{what!r} must be an object")
        return {}
    return value


@dataclass
class Sidecar:
    """The JSON beside an engine (``ENGINE.json``), as one schema: :meth:`from_json` validates every
    field once, so the rest of trtlab reads attributes, not guessed keys. Dict-style reading
    (``side["io"]``, ``side.get("profiles")``) works too, for notebooks and older callers."""

    engine: dict[str, Any]  # {"file", "size", "sha256"}
    backend: str
    version: str
    io: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "mode", "shape", "dtype"}]
    profiles: list[dict[str, dict[str, list[int]]]] = field(default_factory=list)  # [{name: {min, opt, max}}]
    targets: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    built: dict[str, Any] = field(default_factory=dict)
    source_model: dict[str, Any] | None = None  # {"path" (relative to the engine), "sha256"}
    notes: list[Any] = field(default_factory=list)
    header: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    trtlab: str = ""
    format: str = FORMAT

    # -- reading ------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, text: str | bytes, name: str = "sidecar") -> "Sidecar":
        """Parse and validate; UserError naming the first problems, never another exception."""
        if len(text) > MAX_SIDECAR_BYTES:
            raise UserError(f"{name}: {len(text)} bytes is too large for a trtlab sidecar")
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also 5000-digit integers
            raise UserError(f"{name}: the sidecar is not valid JSON ({type(exc).__name__}: "
                            f"{_short_text(str(exc))})") from None
        return cls.from_dict(data, name)

    @classmethod
    def from_dict(cls, data: Any, name: str = "sidecar") -> "Sidecar":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            fmt = data.get("format") if isinstance(data, dict) else None
            raise UserError(f"{name}: not a trtlab sidecar (format {_clip(fmt)}, expected {FORMAT!r})")
        problems: list[str] = []
        engine = _obj(data.get("engine"), "engine", problems)
        size, digest = engine.get("size"), engine.get("sha256")
        if not (isinstance(size, int) and not isinstance(size, bool) and 0 < size < 2 ** 62) \
                or not (isinstance(digest, str) and len(digest) == 64
                        and all(c in "0123456789abcdef" for c in digest)):
            problems.append("'engine' needs a positive integer size and a sha256 of 64 hex digits")
        backend_name = _text(data.get("backend"), "'backend'", problems)
        version = _text(data.get("version"), "'version'", problems)
        targets = _obj(data.get("targets"), "targets", problems)
        options = _obj(data.get("options"), "options", problems)
        built = _obj(data.get("built"), "built", problems)
        extra = _obj(data.get("extra"), "extra", problems)
        if targets.get("kind") not in (None, "aot", "gpu"):
            problems.append(f"'targets.kind' must be \"aot\" or \"gpu\", not {_clip(targets['kind'])}")
        ccs = targets.get("compute_capabilities")
        if ccs is not None and not (isinstance(ccs, list) and len(ccs) < 64
                                    and all(isinstance(c, str) and len(c) < 8 for c in ccs)):
            problems.append("'targets.compute_capabilities' must be a list of strings like \"8.6\"")
        source = data.get("source_model")
        if source is not None:
            source = _obj(source, "source_model", problems) or None
            if source is not None:
                _text(source.get("path"), "'source_model.path'", problems)
                _text(source.get("sha256"), "'source_model.sha256'", problems, optional=True)
        io = data.get("io")
        if io is None:
            io = []
        if not (isinstance(io, list) and len(io) < 4096):
            problems.append("'io' must be a list of tensors")
            io = []
        ranks: dict[str, int] = {}
        for i, t in enumerate(io):
            if not isinstance(t, dict) or not {"name", "mode", "shape", "dtype"} <= set(t):
                problems.append("'io' must be a list of tensors, each with a name, mode, dtype (strings) and shape "
                                "(integers)")
                break
            tname = _text(t.get("name"), f"'io[{i}].name'", problems)
            if t.get("mode") not in ("input", "output"):
                problems.append(f"'io[{i}].mode' must be \"input\" or \"output\", not {_clip(t.get('mode'))}")
            dtype = _text(t.get("dtype"), f"'io[{i}].dtype'", problems)
            if dtype is not None:
                try:
                    compat.parse_dtype(dtype)
                except UserError:
                    if dtype.lower() not in ("bfloat16", "bf16", "fp8", "int4", "fp4", "e8m0"):
                        problems.append(f"'io[{i}].dtype' {_clip(dtype)} is not a tensor type")
            shape = _shape(t.get("shape"), f"'io[{i}].shape'", problems)
            if tname is not None and shape is not None:
                ranks[tname] = len(shape)
        if io and not any(isinstance(t, dict) and t.get("mode") == "input" for t in io):
            problems.append("'io' lists no input")
        if io and not any(isinstance(t, dict) and t.get("mode") == "output" for t in io):
            problems.append("'io' lists no output")
        profiles = data.get("profiles")
        if profiles is None:
            profiles = []
        if not (isinstance(profiles, list) and len(profiles) < 1024):
            problems.append("'profiles' must be a list of {tensor name: {min, opt, max shapes}}")
            profiles = []
        for i, p in enumerate(profiles):
            if not isinstance(p, dict):
                problems.append(f"'profiles[{i}]' must be an object")
                continue
            for tname, rng in p.items():
                where = f"'profiles[{i}].{_clip(tname)[:40]}'"
                if not isinstance(rng, dict):
                    problems.append(f"{where} must hold min, opt and max shapes")
                    continue
                got = [_shape(rng.get(k), f"{where}.{k}", problems, ranks.get(tname), low=0)
                       for k in ("min", "opt", "max")]
                if all(g is not None for g in got) and not all(
                        a <= b <= c for a, b, c in zip(*got)):  # type: ignore[misc]
                    problems.append(f"{where} needs min <= opt <= max in every dimension")
        notes: list[Any] = data["notes"] if isinstance(data.get("notes"), list) else []
        header = data.get("header") if isinstance(data.get("header"), dict) else None
        if problems:
            raise UserError(f"{name}: malformed sidecar: {'; '.join(problems[:3])}"
                            + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))
        return cls(engine=engine, backend=str(backend_name), version=str(version), io=io, profiles=profiles,
                   targets=targets, options=options, built=built, source_model=source, notes=notes,
                   header=header, extra=extra, trtlab=str(data.get("trtlab", ""))[:40], format=FORMAT)

    # -- writing ------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "trtlab": self.trtlab, "engine": self.engine, "backend": self.backend,
                "version": self.version, "built": self.built, "targets": self.targets, "io": self.io,
                "profiles": self.profiles, "options": self.options, "notes": self.notes, "header": self.header,
                "source_model": self.source_model, "extra": self.extra}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    # -- dict-style reading (notebooks, older callers) ------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in self.as_dict():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.as_dict().get(key, default)
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return key in self.as_dict()

    def keys(self) -> Any:
        return self.as_dict().keys()

    def __iter__(self) -> Any:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    # -- the source model -----------------------------------------------------------------------
    def source_path(self, engine_path: Path) -> Path:
        """The ONNX model the engine was built from (relative to the engine), used only when it is a
        regular file whose sha256 matches: a missing or empty hash is a refusal, not a pass."""
        engine_path = Path(engine_path)
        entry = self.source_model or {}
        if not entry.get("path"):
            raise UserError(f"{engine_path}: its sidecar names no source model, so it cannot be evaluated "
                            "on the CPU reference (rebuild it with trtlab build, which records the model)")
        path = Path(entry["path"])
        if not path.is_absolute():
            path = engine_path.parent / path
        try:
            if not path.exists():
                raise UserError(f"{engine_path}: its source model {_clip(str(path))} is missing (not found where "
                                "the sidecar says)")
            if not path.is_file():
                raise UserError(f"{engine_path}: its source model {_clip(str(path))} is not a regular file "
                                "(a device, pipe or folder): refused")
        except OSError as exc:  # a name too long for the file system
            raise UserError(f"{engine_path}: its source model path cannot be used ({exc.strerror})") from None
        digest = entry.get("sha256")
        if not digest:
            raise UserError(f"{engine_path}: its sidecar gives no sha256 for the source model {path.name}, so it "
                            "cannot be checked: refused (rebuild the engine with trtlab build)")
        if sha256_file(path) != digest:
            raise UserError(f"{engine_path}: its source model {path} changed since the engine was built "
                            "(sha256 differs); rebuild the engine")
        return path


def _short_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."


def read_sidecar(path: str | os.PathLike) -> Any:
    """The :class:`Sidecar` of engine ``path`` (or of the sidecar file itself).

    ``{}`` when there is none (an engine from elsewhere: best effort); UserError when there is
    one that is not valid JSON or not a valid trtlab sidecar."""
    path = Path(path)
    side = path if path.suffix == ".json" else sidecar_path(path)
    try:
        if not side.is_file():
            if side.exists():
                raise UserError(f"{side.name}: the sidecar is not a regular file (a device, pipe or folder)")
            return {}
        with open(side, "rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{side.name}: the sidecar cannot be read ({exc.strerror or exc})") from None
    return Sidecar.from_json(raw, side.name)


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

    can_run: bool  # every check passed: this machine can deserialize and run it
    reasons: list[str]  # why not, the most important first (file, then build, then machine)
    intact: bool = True  # the bytes are what was saved (no truncation, hash matches, header sane)
    compatible: bool = True  # backend, version and GPU/targets match this machine (as far as known)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sidecar: Sidecar | None = None

    @property
    def can_load(self) -> bool:
        """The old name of ``can_run`` (they were always equal)."""
        return self.can_run

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


HEAD_BYTES = 4096  # what the checks read of an engine file; only load() reads it whole


@dataclass
class _Facts:
    """What the checks learn, one after another (each check reads what earlier ones found)."""

    path: Path
    module: ModuleType | None  # the TensorRT backend module
    gpu: backend.GPU | None
    size: int = 0
    head: bytes = b""
    sidecar: Sidecar | None = None
    header: dict[str, Any] | None = None
    here: str = ""
    version: str = ""
    built_with: str | None = None
    built_version: str | None = None
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool | None, detail: str, kind: str = "file") -> None:
        self.checks.append(Check(name, ok, detail, kind))

    def failed(self, name: str) -> bool:
        return any(c.name == name and c.ok is False for c in self.checks)


def _check_file(f: _Facts) -> bool:
    """A regular, readable, non-empty file (its first bytes read, never the whole of it)."""
    path = f.path
    try:
        if path.is_dir():
            f.add("file", False, f"{path}: is a folder, not an engine file")
            return False
        if not path.is_file():
            f.add("file", False, f"{path}: " + ("not a regular file (a device, pipe or socket)" if path.exists()
                                                else "no such engine file"))
            return False
        with open(path, "rb") as fh:
            f.size = os.fstat(fh.fileno()).st_size
            f.head = fh.read(HEAD_BYTES)
    except OSError as exc:
        f.add("file", False, f"{path}: cannot be read ({exc.strerror or exc})")
        return False
    if not f.size:
        f.add("file", False, f"{path.name}: the engine file is empty")
        return False
    f.add("file", True, f"{f.size} bytes")
    f.header = read_header(f.head)
    return True


def _check_sidecar(f: _Facts) -> bool:
    """The sidecar parses and validates (a missing one is a warning: best-effort checks only)."""
    try:
        side = read_sidecar(f.path)
    except UserError as exc:
        f.add("sidecar", False, str(exc))
        return False
    if side:
        f.sidecar = side
        f.add("sidecar", True, sidecar_path(f.path).name)
        f.built_with, f.built_version = side.backend, side.version
    else:
        msg = (f"{f.path.name}: no sidecar {sidecar_path(f.path).name}: hash, backend, version and targets cannot "
               "be verified; best-effort checks only")
        f.warnings.append(msg)
        f.add("sidecar", None, msg)
    return True


def _check_size_and_hash(f: _Facts) -> bool:
    """The bytes are the ones saved: size, then sha256 (streamed, not read into memory at once)."""
    if f.sidecar is None:
        return True
    want = f.sidecar.engine
    if f.size != want["size"]:
        if f.header is not None and f.header["declared_size"] == f.size:
            what = (f"replaced by another engine (its own header says its {f.size} bytes are whole; the sidecar "
                    f"says {want['size']})")
        else:
            what = f"{'truncated' if f.size < want['size'] else 'longer than saved'}: {f.size} of {want['size']} bytes"
        f.add("size", False, f"{f.path.name}: {what}")
        return True
    f.add("size", True, f"{f.size} bytes as saved")
    digest = sha256_file(f.path)
    if digest != want["sha256"]:
        f.add("sha256", False, f"{f.path.name}: sha256 {digest[:12]}… differs from the sidecar's "
                               f"{want['sha256'][:12]}…: the file is corrupt or was replaced")
    else:
        f.add("sha256", True, digest)
    return True


def _check_source_model(f: _Facts) -> bool:
    """The model it was built from, for information (not needed to load the engine)."""
    if f.sidecar is None or not f.sidecar.source_model:
        return True
    try:
        model = f.sidecar.source_path(f.path)
    except UserError as exc:
        text = str(exc)
        if "changed since" in text:
            f.warnings.append(f"{f.path.name}: its source model changed since the build: rebuild to pick the "
                              "change up")
        f.add("source_model", None, text.split(": ", 1)[-1] + " (not needed to load it)", "info")
        return True
    f.add("source_model", True, f"{model.name} (unchanged since the build)", "info")
    return True


def _check_backend(f: _Facts) -> bool:
    """A TensorRT here, and the one that built the engine."""
    try:
        f.module = f.module or backend.load()
    except UserError as exc:
        f.add("backend", False, f"no TensorRT here: {exc}", "machine")
        return False
    f.here, f.version = backend.name_of(f.module), f.module.__version__
    if f.built_with is not None and f.built_with != f.here:
        f.add("backend", False, f"{f.path.name}: built with {f.built_with} {f.built_version}, this machine has "
                                f"{f.here} {f.version}: rebuild the engine here", "build")
    elif f.built_with is not None:
        f.add("backend", True, f.here, "build")
    return True


def _check_header(f: _Facts) -> bool:
    """TensorRT-RTX plans: the header is there and declares the file's size."""
    if not (f.here == "tensorrt_rtx" and f.built_with in (None, "tensorrt_rtx")):
        return True
    h = f.header
    if h is None:
        f.add("header", False, f"{f.path.name}: not a TensorRT-RTX engine (no plan header)")
    elif h["declared_size"] != f.size and not f.failed("size"):
        f.add("header", False, f"{f.path.name}: truncated: {f.size} of {h['declared_size']} bytes "
                               "(size from the plan header)")
    else:
        f.add("header", True, f"TensorRT-RTX {h['version']} plan, targets "
                              f"{', '.join(h['compute_capabilities']) or '?'}")
        if f.built_version is None:
            f.built_version = h["version"]
    return True


def _check_version(f: _Facts) -> bool:
    """The release that built it is the one here (or a version-compatible engine from an older one)."""
    if f.built_version is None or f.built_with not in (None, f.here):
        return True
    built, here = compat.version_tuple(f.built_version), compat.version_tuple(f.version)
    vc = bool(f.sidecar and f.sidecar.options.get("version_compatible")) and f.here == "tensorrt"
    if built == here[:len(built)]:
        f.add("version", True, f"{f.here} {f.version}", "build")
    elif vc and built[:1] == here[:1] and built <= here:
        f.add("version", True, f"version-compatible engine from {f.built_version}, runtime {f.version}", "build")
    else:
        f.add("version", False, f"{f.path.name}: built with {f.here} {f.built_version}, this machine has "
                                f"{f.version}: engines only load on the TensorRT release that built them; rebuild",
              "build")
    return True


def _check_header_matches(f: _Facts) -> bool:
    """The sidecar belongs to this plan: the header's version and AOT targets are the sidecar's."""
    h, side = f.header, f.sidecar
    if h is None or side is None or f.built_with not in (None, "tensorrt_rtx"):
        return True
    if compat.version_tuple(h["version"]) != compat.version_tuple(side.version)[:len(compat.version_tuple(h["version"]))]:
        f.add("header version", False, f"{f.path.name}: the plan header says TensorRT-RTX {h['version']}, the "
                                       f"sidecar says {side.version}: the sidecar does not belong to this engine",
              "build")
    ccs = side.targets.get("compute_capabilities")
    if h["compute_capabilities"] and side.targets.get("kind") == "aot" and ccs \
            and set(ccs) != set(h["compute_capabilities"]):
        f.add("header targets", False, f"{f.path.name}: the plan header targets compute capability "
                                       f"{', '.join(h['compute_capabilities'])}, the sidecar says {', '.join(ccs)}: "
                                       "the sidecar does not belong to this engine", "build")
    return True


def _check_validity(f: _Facts) -> bool:
    """TensorRT-RTX's documented header check, ``Runtime.get_engine_validity`` (header bytes only)."""
    if not (f.here == "tensorrt_rtx" and f.built_with in (None, f.here)) or f.module is None:
        return True
    res = engine_validity(f.module, f.head)
    if res is None:
        return True
    validity, flags, msg = res
    name = f.path.name
    if validity in ("VALID", "SUBOPTIMAL"):
        f.add("get_engine_validity", True, validity, "build")
    elif "MALFORMED_ENGINE" in flags:
        f.add("get_engine_validity", False, f"{name}: TensorRT-RTX says the engine is malformed "
                                            "(get_engine_validity: MALFORMED_ENGINE)")
    elif {"VERSION_MISMATCH", "UNSUPPORTED_CC"} & set(flags):
        f.add("get_engine_validity", False, f"{name}: TensorRT-RTX get_engine_validity: INVALID "
                                            f"({', '.join(flags)})", "build")
    else:
        why = (f"INVALID ({', '.join(flags)})" if flags else "INVALID without diagnostics")
        f.add("get_engine_validity", None, f"{why}: it could not query a GPU here"
              + (f" (TensorRT: {_short(msg)})" if msg else ""), "machine")
    return True


def _check_gpu(f: _Facts) -> bool:
    """The sidecar's targets against this machine's GPU (or the GPU asked about)."""
    name = f.path.name
    gpu = f.gpu
    if gpu is None:
        gpus = backend.gpus()
        gpu = gpus[0] if gpus else None
    targets = (f.sidecar.targets if f.sidecar is not None else None) or \
        ({"kind": "aot", "compute_capabilities": f.header["compute_capabilities"]} if f.header else None)
    if gpu is None:
        f.add("gpu", False, f"{name}: cannot be deserialized on this machine: {backend.probe().run_reason} — "
                            f"{f.here} builds engines here but needs an NVIDIA GPU and driver to load them", "machine")
        return True
    ok_backend, why = backend.can_run_on(f.here, gpu.compute_capability)
    if not ok_backend:
        f.add("gpu", False, f"{name}: {why} (this GPU: {gpu.name})", "machine")
    elif targets and targets.get("kind") == "aot" and targets.get("compute_capabilities") \
            and not targets.get("current") and gpu.cc not in targets["compute_capabilities"]:
        turing = f.here == "tensorrt_rtx" and tuple(gpu.compute_capability) in backend.RTX_NO_FP32_GEMM
        f.add("gpu", False, f"{name}: built for compute capability {', '.join(targets['compute_capabilities'])}; "
                            f"this GPU ({gpu.name}) is {gpu.cc}: rebuild with that target"
                            + (" and FP16 dense layers (trtlab build --fp16 --target " + gpu.cc + "; TensorRT-RTX "
                               "compiles no FP32 matrix multiply for it)" if turing else ""), "build")
    elif targets and targets.get("kind") == "gpu" and targets.get("compute_capabilities"):
        built_cc = targets["compute_capabilities"][0]
        if targets.get("hardware_compatibility") == "ampere_plus" and compat.version_tuple(gpu.cc) >= (8, 0):
            f.add("gpu", True, f"hardware-compatible (Ampere+) engine on {gpu.name} ({gpu.cc})", "build")
        elif built_cc != gpu.cc:
            f.add("gpu", False, f"{name}: built on {targets.get('gpu')} (compute capability {built_cc}); "
                                f"this GPU is {gpu.name} ({gpu.cc}): rebuild here", "build")
        else:
            if targets.get("gpu") and targets["gpu"] != gpu.name:
                f.warnings.append(f"{name}: built on {targets['gpu']}, running on {gpu.name} (same compute "
                                  "capability; performance may differ)")
            f.add("gpu", True, f"{gpu.name} ({gpu.cc})", "build")
    else:
        f.add("gpu", True, f"{gpu.name} ({gpu.cc})", "machine")
    return True


# The checks, in order: the file, its sidecar, the bytes, the model, what built it vs what is
# here, the plan header, TensorRT-RTX's own check, the GPU. A check returning False stops the list.
CHECKS: list[Callable[[_Facts], bool]] = [_check_file, _check_sidecar, _check_size_and_hash, _check_source_model,
                                          _check_backend, _check_header, _check_version, _check_header_matches,
                                          _check_validity, _check_gpu]


def check(path: str | os.PathLike, trt: ModuleType | None = None, gpu: backend.GPU | None = None) -> Verdict:
    """Check an engine file against its sidecar and this machine, without deserializing it (and
    without reading it whole: its first bytes and a streamed sha256).

    ``gpu`` asks about another GPU instead of this machine's ("would it load on an RTX 2080?").
    """
    facts = _Facts(Path(path), trt, gpu)
    for step in CHECKS:
        if not step(facts):
            break
    return _verdict(facts.checks, facts.warnings, facts.sidecar)


def _short(msg: str) -> str:
    text = compat.short_error(msg)
    text = text.split("] ", 1)[-1] if text.startswith("[") else text  # drop a "[F] " severity tag
    return text.split(". ")[0].rstrip(".")[:200]


def _verdict(checks: list[Check], warn: list[str], sidecar: Sidecar | None) -> Verdict:
    order = {"file": 0, "build": 1, "machine": 2, "info": 3}
    failed = sorted([c for c in checks if c.ok is False], key=lambda c: order[c.kind])
    reasons = [c.detail for c in failed]
    intact = not any(c.kind == "file" for c in failed)
    compatible = not any(c.kind == "build" for c in failed)
    ok = not failed
    return Verdict(can_run=ok, reasons=reasons, intact=intact, compatible=compatible,
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
    options = verdict.sidecar.options if verdict.sidecar is not None else {}
    if options.get("version_compatible") and hasattr(runtime, "engine_host_code_allowed"):
        # a version-compatible plan carries its own lean runtime (host code); the sha256 check
        # above says it is the file this project built, so it may run
        runtime.engine_host_code_allowed = True
    with captured_stdout() as log:  # TensorRT's own lines must not come before the one-line reason
        engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
    if engine is not None:
        log.forward()
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
    side: Any = verdict.sidecar or {}
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


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``), so a sidecar's strings cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


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
    return "\n".join(printable(line) for line in lines)
