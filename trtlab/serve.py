"""Serving an engine with NVIDIA Triton Inference Server (chapter 11, ``trtlab serve``).

- :func:`python_repository` writes a model repository from an engine's sidecar for Triton's
  **Python backend**: the engine runs through trtlab's TensorRT runner where this machine can
  run it, else the engine's source ONNX model runs on ONNX Runtime's CPU provider — and the
  config says which (parameter ``trtlab_label``).
- :func:`plan_config` / :func:`plan_repository` write the ``tensorrt_plan`` repository a GPU
  deployment uses (Triton's TensorRT backend), and refuse a TensorRT-RTX plan, which that
  backend cannot load.
- :class:`Server` starts the real ``tritonserver`` bundled in the ``nvidia-pytriton`` wheel on
  127.0.0.1, in its own process group, and stops every process it started.
- :func:`k8s_manifests` writes the cluster side: a KServe InferenceService, a Deployment +
  Service with Triton's health probes, a HorizontalPodAutoscaler on a Triton metric.

Why the bundled binary and not PyTriton's Python API: PyTriton pins ``numpy<2`` and this book
uses numpy 2, so the wheel is installed with ``--no-deps`` and only its ``tritonserver`` (Triton
2.51.0, Python backend only) is used, with a plain model repository.

Every config is built as Triton's own ``ModelConfig`` protobuf (``tritonclient.grpc.model_config_pb2``)
and written with protobuf's text format, so a field Triton does not know cannot be written.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .common import UserError, check_output, folder_lock, keep_owner, output_folder

HOST = "127.0.0.1"
TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "bfloat16": "TYPE_BF16", "int32": "TYPE_INT32",
                 "int64": "TYPE_INT64", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL"}
RUNNER_TENSORRT, RUNNER_ONNXRUNTIME = "tensorrt", "onnxruntime"


# --- what the sidecar says about batching ----------------------------------------------------------
@dataclass
class Batching:
    """Triton's view of an engine's batch: ``max_batch_size`` and each tensor's dims without it.

    ``max_batch_size`` 0 means Triton must not batch (a fixed batch, or an engine whose first
    dimension is not a batch): then dims are the full shapes and dynamic batching is off."""

    max_batch_size: int
    dims: dict[str, list[int]]
    profile_max: int | None  # the largest batch the engine's profile accepts (None: fixed batch)
    why_not: str = ""  # why the engine cannot be batched by Triton


def batching(sidecar: Mapping[str, Any], max_batch: int | None = None) -> Batching:
    """Read the batch dimension from the sidecar's I/O table and optimization profile.

    An engine whose every tensor starts with a dynamic dimension (-1), with a profile from batch 1,
    gets ``max_batch_size`` = the profile's max (or ``max_batch``, which must lie within it) and
    dims without the batch — what Triton needs for its dynamic batcher."""
    io = [t for t in sidecar.get("io") or [] if isinstance(t, Mapping)]
    if not io:
        raise UserError("the sidecar lists no inputs or outputs; rebuild the engine with trtlab build")
    for t in io:
        if t.get("mode") not in ("input", "output"):
            raise UserError(f"tensor {t.get('name')!r}: mode {t.get('mode')!r} is neither input nor output")
        if t.get("dtype") not in TRITON_DTYPES:
            raise UserError(f"tensor {t.get('name')!r}: dtype {t.get('dtype')!r} has no Triton type here")
    profile = (sidecar.get("profiles") or [{}])[0] or {}
    inputs = [t for t in io if t.get("mode") == "input"]
    why = ""
    if not all(t["shape"] and t["shape"][0] == -1 for t in io):
        why = "the engine has a fixed batch (its first dimension is not dynamic)"
    elif not all(isinstance(profile.get(t["name"]), Mapping) for t in inputs):
        why = "the sidecar has no optimization profile for every input"
    elif not all(profile[t["name"]]["min"] and profile[t["name"]]["max"] for t in inputs):
        why = "the sidecar's profile has an empty shape"
    else:
        mins = {int(profile[t["name"]]["min"][0]) for t in inputs}
        if mins != {1}:
            why = f"the profile's smallest batch is {min(mins)}, and Triton sends batches from 1"
    if why:
        if max_batch is not None:
            raise UserError(f"--max-batch {max_batch}: {why}, so Triton cannot batch requests for it")
        return Batching(0, {t["name"]: [int(d) for d in t["shape"]] for t in io}, None, why)
    profile_max = min(int(profile[t["name"]]["max"][0]) for t in inputs)
    if max_batch is None:
        max_batch = profile_max
    if not 1 <= max_batch <= profile_max:
        raise UserError(f"--max-batch {max_batch}: the engine's profile accepts batches 1 to {profile_max}")
    return Batching(max_batch, {t["name"]: [int(d) for d in t["shape"][1:]] for t in io}, profile_max)


# --- model configs (Triton's ModelConfig protobuf) ----------------------------------------------
def _pb() -> Any:
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError as exc:  # pragma: no cover - a dependency of trtlab
        raise UserError(f"tritonclient is not installed ({exc}); see the README's install") from None
    return model_config_pb2


def _base_config(name: str, sidecar: Mapping[str, Any], batch: Batching, instances: int, kind: str,
                 queue_delay_us: int | None) -> Any:
    pb = _pb()
    if instances < 1:
        raise UserError(f"--instances {instances}: at least one instance is needed")
    if queue_delay_us is not None and queue_delay_us < 0:
        raise UserError(f"--queue-delay-us {queue_delay_us}: a delay cannot be negative")
    cfg = pb.ModelConfig(name=name, max_batch_size=batch.max_batch_size)
    for t in sidecar["io"]:
        spec = cfg.input.add() if t["mode"] == "input" else cfg.output.add()
        spec.name, spec.dims[:] = t["name"], batch.dims[t["name"]]
        spec.data_type = pb.DataType.Value(TRITON_DTYPES[t["dtype"]])
    if batch.max_batch_size > 0 and queue_delay_us is not None:
        cfg.dynamic_batching.SetInParent()  # present even with a delay of 0 (then: batch what is queued)
        cfg.dynamic_batching.max_queue_delay_microseconds = queue_delay_us
    group = cfg.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.Kind.Value(kind))
    if kind == "KIND_GPU":
        group.gpus[:] = [0]
    return cfg


def config_text(cfg: Any) -> str:
    from google.protobuf import text_format

    return text_format.MessageToString(cfg)


def parse_config(text: str) -> Any:
    """Parse ``config.pbtxt`` text into Triton's ``ModelConfig``: an unknown field, a wrong enum
    or a malformed line is a UserError naming it (what Triton itself would refuse at load)."""
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, _pb().ModelConfig())
    except text_format.ParseError as exc:
        raise UserError(f"config.pbtxt is not a valid Triton ModelConfig: {exc}") from None


def check_config(cfg: Any) -> list[str]:
    """What Triton would refuse beyond the schema: the batching rules and tensor types."""
    problems = []
    if not cfg.name:
        problems.append("no model name")
    if not (cfg.platform or cfg.backend):
        problems.append("neither platform nor backend")
    if cfg.max_batch_size < 0:
        problems.append("max_batch_size is negative")
    if cfg.HasField("dynamic_batching") and cfg.max_batch_size == 0:
        problems.append("dynamic_batching needs max_batch_size > 0")
    for spec in list(cfg.input) + list(cfg.output):
        if spec.data_type == 0:
            problems.append(f"{spec.name}: no data_type")
        if not spec.dims and not cfg.max_batch_size:
            problems.append(f"{spec.name}: no dims")
        if cfg.max_batch_size and any(d == 0 or d < -1 for d in spec.dims):
            problems.append(f"{spec.name}: dims {list(spec.dims)} are not positive or -1")
    for group in cfg.instance_group:
        if group.count < 1:
            problems.append("an instance_group with count < 1")
    return problems


def plan_config(name: str, sidecar: Mapping[str, Any], *, max_batch: int | None = None, instances: int = 1,
                queue_delay_us: int | None = 100, warmup: bool = True) -> Any:
    """The ``tensorrt_plan`` config for Triton's TensorRT backend on a GPU: batch from the profile,
    dims without it, dynamic batching, ``instances`` copies on GPU 0, and a warm-up request of
    zeros at batch 1 so the first client does not pay for the first run."""
    pb = _pb()
    batch = batching(sidecar, max_batch)
    cfg = _base_config(name, sidecar, batch, instances, "KIND_GPU", queue_delay_us)
    cfg.platform = "tensorrt_plan"
    if warmup:
        w = cfg.model_warmup.add(name="zeros", batch_size=1)  # 1 is valid with and without batching
        for t in (t for t in sidecar["io"] if t["mode"] == "input"):
            dims = batch.dims[t["name"]]
            if any(d < 0 for d in dims):  # a dynamic non-batch dimension: warm up at the profile's opt
                opt = ((sidecar.get("profiles") or [{}])[0] or {}).get(t["name"], {}).get("opt")
                if not opt:
                    raise UserError(f"input {t['name']!r} has dynamic dims {dims} and no profile to warm up with")
                dims = list(opt[1:] if batch.max_batch_size else opt)
            w.inputs[t["name"]].CopyFrom(pb.ModelWarmup.Input(
                data_type=pb.DataType.Value(TRITON_DTYPES[t["dtype"]]), dims=dims, zero_data=True))
    return cfg


def refuse_rtx(sidecar: Mapping[str, Any]) -> None:
    """Triton's TensorRT backend links the TensorRT of its container; a TensorRT-RTX plan is a
    different format for a different runtime, and an engine loads only with the TensorRT version
    that built it."""
    if sidecar.get("backend") == "tensorrt_rtx":
        raise UserError(f"this is a TensorRT-RTX {sidecar.get('version')} plan: Triton's TensorRT backend "
                        "(platform tensorrt_plan) loads plans of the TensorRT version inside its container only; "
                        "rebuild the engine with TensorRT (pip install tensorrt) for a tensorrt_plan "
                        "repository, or serve this one with trtlab serve (Python backend)")


def plan_repository(engine: str | os.PathLike, repository: str | os.PathLike, name: str | None = None,
                    **options: Any) -> Path:
    """Write ``REPOSITORY/NAME/{config.pbtxt, 1/model.plan}`` for Triton's TensorRT backend;
    a TensorRT-RTX plan is refused with the reason (:func:`refuse_rtx`)."""
    engine, sidecar = _engine_and_sidecar(engine)
    refuse_rtx(sidecar)
    name = name or model_name(engine)
    cfg = plan_config(name, sidecar, **options)
    return _write_model(Path(repository), name, cfg, {"1/model.plan": engine.read_bytes()},
                        _reads(engine))


# --- the Python-backend repository ------------------------------------------------------------
@dataclass
class Runner:
    kind: str  # RUNNER_TENSORRT or RUNNER_ONNXRUNTIME
    label: str  # what the config, the command and the chapter show
    engine: Path
    model: Path | None  # the source ONNX model (CPU runner)
    why: str = ""  # why the engine itself does not run here


def model_name(engine: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(engine).stem).strip(".") or "model"
    return name


def _engine_and_sidecar(engine: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    from . import engine_file

    path = Path(engine)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an engine file")
    if not path.exists():
        raise UserError(f"{path}: no such engine file")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file")
    sidecar = engine_file.read_sidecar(path)
    if not sidecar:
        raise UserError(f"{path}: no sidecar ({engine_file.sidecar_path(path).name}); the model config is "
                        "written from it — save the engine with trtlab build")
    verdict = engine_file.check(path)
    if not verdict.intact:
        raise UserError(verdict.reason)
    return path.resolve(), dict(sidecar)


def choose_runner(engine: Path, sidecar: Mapping[str, Any], cpu: bool = False) -> Runner:
    """TensorRT where this machine can run the engine; else ONNX Runtime on the source model.

    ONNX Runtime and not trtlab.reference for the CPU path: a server answers many requests, and
    ONNX Runtime is a maintained, multi-threaded CPU runtime some hundred times faster than the
    NumPy reference, which stays the independent check the chapter compares answers with."""
    from . import backend, engine_file, runtime

    caps = backend.probe()
    why = "the CPU was asked for (--cpu)" if cpu else ""
    if getattr(caps, "simulated", False) and not cpu:  # a test's TRTLAB_SIMULATE_GPU: nothing runs on it
        why, cpu = "the GPU is simulated (TRTLAB_SIMULATE_GPU)", True
    if not cpu:
        verdict = engine_file.check(engine)
        if caps.can_run and verdict.can_run:
            label = f"TensorRT {caps.version} ({caps.backend}) on {caps.gpu.name if caps.gpu else 'the GPU'}"
            return Runner(RUNNER_TENSORRT, label, engine, None)
        why = caps.run_reason if not caps.can_run else "; ".join(verdict.reasons)
    model = runtime.source_model(engine, sidecar)
    label = f"CPU: ONNX Runtime on the engine's source model {model.name}, not the engine"
    return Runner(RUNNER_ONNXRUNTIME, label, engine, model, why)


def python_config(name: str, sidecar: Mapping[str, Any], runner: Runner, *, max_batch: int | None = None,
                  instances: int = 1, queue_delay_us: int | None = 100, threads: int = 1) -> Any:
    """The config for Triton's Python backend running :mod:`trtlab.triton_model`.
    ``queue_delay_us`` None turns dynamic batching off (each request runs alone)."""
    batch = batching(sidecar, max_batch)
    kind = "KIND_CPU" if runner.kind == RUNNER_ONNXRUNTIME else "KIND_MODEL"  # the model picks the GPU itself
    cfg = _base_config(name, sidecar, batch, instances, kind, queue_delay_us)
    cfg.backend = "python"
    params = {"trtlab_runner": runner.kind, "trtlab_label": runner.label, "trtlab_engine": str(runner.engine),
              "trtlab_model": str(runner.model or ""), "trtlab_why": runner.why, "trtlab_threads": str(threads),
              "trtlab_engine_backend": f"{sidecar.get('backend')} {sidecar.get('version')}"}
    for key, value in params.items():
        cfg.parameters[key].string_value = value
    return cfg


def python_repository(engine: str | os.PathLike, repository: str | os.PathLike, *, name: str | None = None,
                      cpu: bool = False, **options: Any) -> tuple[Path, Runner]:
    """Write ``REPOSITORY/NAME/{config.pbtxt, 1/model.py}`` for ``engine`` (see :func:`choose_runner`)."""
    engine, sidecar = _engine_and_sidecar(engine)
    name = name or model_name(engine)
    runner = choose_runner(engine, sidecar, cpu)
    cfg = python_config(name, sidecar, runner, **options)
    model_py = (Path(__file__).with_name("triton_model.py")).read_bytes()
    return _write_model(Path(repository), name, cfg, {"1/model.py": model_py},
                        _reads(engine, runner.model)), runner


def _reads(engine: Path, model: Path | None = None) -> tuple[Path, ...]:
    """The files a repository is written from: the engine, its sidecar and (CPU runner) its source model."""
    from .engine_file import sidecar_path

    return (engine, sidecar_path(engine)) + ((model,) if model is not None else ())


def check_model_folder(repository: Path, name: str, inputs: Sequence[Path] = ()) -> Path:
    """Refuse (UserError, one line) a model folder ``REPOSITORY/NAME`` that is unsafe to replace: the
    repository or the folder a symbolic link, the folder not a folder (device, FIFO, socket, file), a
    folder holding or inside one of ``inputs`` or the project's sources. Returns the folder."""
    from .common import _PROJECT_SOURCES, _same_or_inside, repo_root

    final = repository / name
    for path, what in ((repository, "--repository"), (final, "model folder")):
        if path.is_symlink():
            raise UserError(f"{what} {path} is a symbolic link: trtlab does not write through links; "
                            "give the real path or another name")
    if final.exists() and not final.is_dir():
        raise UserError(f"{final} exists and is not a folder (a file, device, pipe or socket): not replaced")
    keep = [Path(p) for p in inputs] + [repo_root() / n for n in _PROJECT_SOURCES]
    for p in keep:  # replacing the folder removes what is in it
        if p.exists() and _same_or_inside(p, final):
            raise UserError(f"model folder {final} holds {p}, which replacing it would remove: "
                            "give another --repository")
    check_output(final / "config.pbtxt", tuple(inputs), "model folder")  # inside an input or the sources
    return final


def _write_model(repository: Path, name: str, cfg: Any, files: Mapping[str, bytes],
                 inputs: Sequence[Path] = ()) -> Path:
    """Write one model folder atomically: built completely in a temporary folder beside it, then
    renamed into place under the repository's lock; the previous folder (if any) is removed only
    after the rename. Files that replace files of the previous folder keep their owner and mode.
    Unsafe targets are refused first (:func:`check_model_folder`)."""
    text = config_text(cfg)
    problems = check_config(parse_config(text))  # round trip through Triton's schema
    if problems:
        raise UserError(f"model {name}: the config Triton would refuse: {'; '.join(problems)}")
    check_model_folder(repository, name, inputs)
    output_folder(repository)
    final = repository / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=repository))
    try:
        (tmp / "config.pbtxt").write_text(text)
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        for p in [tmp, *tmp.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
            before = final / p.relative_to(tmp)
            if not before.is_symlink() and (before.is_dir() if p.is_dir() else before.is_file()):
                keep_owner(p, before)
        with folder_lock(repository):
            _replace_folder(repository, name, tmp, inputs)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{final}: could not write the model ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _replace_folder(repository: Path, name: str, tmp: Path, inputs: Sequence[Path]) -> None:
    """Rename ``tmp`` to ``REPOSITORY/NAME`` (checked again: it may have changed since)."""
    final = check_model_folder(repository, name, inputs)
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=repository))
        os.replace(final, old)  # over the empty folder just made
    try:
        os.replace(tmp, final)
    except BaseException:
        if old is not None:  # put the previous model back
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- the server ---------------------------------------------------------------------------------
def triton_home() -> Path:
    """The ``tritonserver`` distribution inside the nvidia-pytriton wheel."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("pytriton")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UserError("Triton's server is not installed: pip install --no-deps nvidia-pytriton==0.7.0 "
                        "(the README's install does it)")
    home = Path(list(spec.submodule_search_locations)[0]) / "tritonserver"
    if not (home / "bin" / "tritonserver").is_file():
        raise UserError(f"{home}/bin/tritonserver is missing: reinstall nvidia-pytriton")
    return home


def _libpython_dir() -> Path:
    """The folder holding this interpreter's own shared libpython (a venv's base interpreter).
    The Python backend's stub must load that one: another patch release of libpython (Debian's,
    say) against this standard library fails inside threading."""
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    soname = f"libpython{sys.version_info.major}.{sys.version_info.minor}.so.1.0"
    if not (libdir / soname).exists():
        raise UserError(f"this Python ({sys.executable}) has no shared {soname} in {libdir}: Triton's Python "
                        "backend embeds Python and needs one (build Python with --enable-shared)")
    return libdir


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(n: int = 3) -> int:
    """A port P with P .. P+n-1 free on 127.0.0.1 (HTTP, gRPC, metrics)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((HOST, 0))
            base = s.getsockname()[1]
        if base + n < 65536 and all(port_free(base + i) for i in range(n)):
            return base
    raise UserError("no three free consecutive ports found on 127.0.0.1")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a clean stop
    except OSError:
        pass


def _sweep_stale_workdirs() -> None:
    """Remove the private layouts of servers whose Python died without stopping them (SIGKILL)."""
    for folder in Path(tempfile.gettempdir()).glob("trtlab-triton-*-*"):
        try:
            os.kill(int(folder.name.split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError, IndexError):
            pass


@dataclass
class Server:
    """A real ``tritonserver`` on 127.0.0.1: ``with Server(repo) as s: ...`` (HTTP on ``port``,
    gRPC on ``port+1``, metrics on ``port+2``; ``port=0`` picks free ones).

    It runs in its own process group and is killed if this Python process dies (PR_SET_PDEATHSIG);
    :meth:`stop` ends the whole group — the server and its Python-backend stubs."""

    repository: Path
    port: int = 8000
    log_verbose: int = 0
    proc: subprocess.Popen | None = None
    ready_seconds: float | None = None
    workdir: Path | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.repository = Path(self.repository)
        if self.port == 0:
            self.port = free_ports()
        if not 1 <= self.port <= 65533:
            raise UserError(f"--port {self.port}: a port from 1 to 65533 (gRPC and metrics take the next two)")

    @property
    def grpc_port(self) -> int:
        return self.port + 1

    @property
    def metrics_port(self) -> int:
        return self.port + 2

    @property
    def http_url(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def grpc_url(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{HOST}:{self.metrics_port}/metrics"

    @property
    def log_path(self) -> Path | None:
        return self.workdir / "tritonserver.log" if self.workdir else None

    def command(self) -> list[str]:
        assert self.workdir is not None
        return [str(self.workdir / "bin" / "tritonserver"), f"--model-repository={self.repository}",
                f"--backend-directory={self.workdir / 'backends'}",
                f"--cache-directory={triton_home() / 'caches'}",
                f"--http-address={HOST}", f"--http-port={self.port}",
                f"--grpc-address={HOST}", f"--grpc-port={self.grpc_port}",
                f"--metrics-address={HOST}", f"--metrics-port={self.metrics_port}",
                "--allow-gpu-metrics=false", "--allow-sagemaker=false", "--allow-vertex-ai=false",
                "--exit-on-error=true", "--strict-readiness=true", f"--log-verbose={self.log_verbose}",
                "--exit-timeout-secs=3", *self.extra_args]

    def environment(self) -> dict[str, str]:
        import site

        home = triton_home()
        libs = home.parent.parent / "nvidia_pytriton.libs"
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in [str(_libpython_dir()), str(libs), env.get("LD_LIBRARY_PATH", "")] if p)
        package_root = str(Path(__file__).resolve().parent.parent)  # this trtlab, for model.py
        # The stub's embedded Python ignores PYTHONPATH; model.py puts these first on sys.path.
        env["TRTLAB_PYTHONPATH"] = os.pathsep.join(
            p for p in [package_root, *site.getsitepackages(), env.get("PYTHONPATH", "")] if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def _prepare(self) -> None:
        """A private copy of the server's layout: bin/ and backends/python/ linked to the wheel's
        files, plus the Python-backend stub built for this Python version."""
        home = triton_home()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = home / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise UserError(f"Triton's Python backend has no stub for Python {version} "
                            f"(the wheel has {', '.join(sorted(p.name for p in (home / 'python_backend_stubs').iterdir() if p.is_dir()))})")
        _sweep_stale_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"trtlab-triton-{os.getpid()}-"))
        (self.workdir / "bin").mkdir()
        (self.workdir / "backends" / "python").mkdir(parents=True)
        (self.workdir / "bin" / "tritonserver").symlink_to(home / "bin" / "tritonserver")
        for f in (home / "backends" / "python").iterdir():
            if f.is_file():
                (self.workdir / "backends" / "python" / f.name).symlink_to(f)
        (self.workdir / "backends" / "python" / "triton_python_backend_stub").symlink_to(stub)

    def start(self, timeout: float = 60.0) -> "Server":
        if not self.repository.is_dir():
            raise UserError(f"{self.repository}: no such model repository")
        for port, what in ((self.port, "HTTP"), (self.grpc_port, "gRPC"), (self.metrics_port, "metrics")):
            if not port_free(port):
                raise UserError(f"port {port} ({what}) on {HOST} is in use: pick another with --port")
        self._prepare()
        assert self.log_path is not None
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        try:
            self._wait_ready(t0, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, t0: float, timeout: float) -> None:
        assert self.proc is not None
        url = f"http://{self.http_url}/v2/health/ready"
        while True:
            if self.proc.poll() is not None:
                raise UserError(f"tritonserver exited ({self.proc.returncode}) before it was ready: {self.log_error()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        self.ready_seconds = time.perf_counter() - t0
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.perf_counter() - t0 > timeout:
                raise UserError(f"tritonserver was not ready after {timeout:.0f} s: {self.log_error()}")
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def log_error(self) -> str:
        """The most telling line of the server's log (its first error), for a one-line message."""
        lines = [l.strip() for l in self.log_text().splitlines() if l.strip()]
        for needle in ("failed to load", "error: ", "E"):  # a model's failure names the model
            for line in lines:
                if (line.startswith(needle) if needle == "E" else needle in line.lower()):
                    text = re.sub(r"^[EIW]\d{4} [\d:.]+ +\d+ \S+\] ", "", line).strip('"')
                    return " ".join(text.replace("\\n", " ").split())[:400]
        return lines[-1][:400] if lines else "no log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to the server, SIGKILL to its process group after ``timeout`` s, then SIGKILL to
        whatever is left in the group (stubs); removes the private layout. Returns the exit code."""
        proc, code = self.proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the server leads its own group
            if proc.poll() is None:  # the server first: it unloads its models and stops its stubs
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                code = proc.wait()
            try:
                os.killpg(pgid, signal.SIGKILL)  # stubs that outlived the server
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5  # SIGKILL is asynchronous: wait until they are gone
            while group_processes(pgid) and time.monotonic() < deadline:
                time.sleep(0.02)
        if self.workdir is not None:
            self.kept_log = self.log_text()
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return code

    def __enter__(self) -> "Server":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_processes(pgid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process in process group ``pgid`` — zombies (exited, not yet
    reaped by init) are not counted: they run nothing and hold no port."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm_end = text.rindex(")")
        fields = text[comm_end + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append((int(stat.parent.name), text[text.index("(") + 1:comm_end]))
    return found


# --- load: perf_analyzer ---------------------------------------------------------------------------
def perf_analyzer_path() -> Path:
    """``perf_analyzer`` from the tritonclient 2.51.0 wheel, installed beside this Python."""
    path = Path(sys.executable).with_name("perf_analyzer")
    if not path.is_file():
        raise UserError(f"{path} is missing: pip install --no-deps tritonclient==2.51.0 (the README's install)")
    return path


def perf_analyzer_env(folder: Path) -> dict[str, str]:
    """perf_analyzer links ``libb64.so.0d`` and ``libcudart.so.12``; the nvidia-pytriton wheel carries
    both (under mangled names), so ``folder`` gets links with the names the binary asks for."""
    libs = triton_home().parent.parent / "nvidia_pytriton.libs"
    for soname, pattern in (("libb64.so.0d", "libb64-*.so.0d"), ("libcudart.so.12", "libcudart-*.so.12*")):
        found = sorted(libs.glob(pattern))
        if not found:
            raise UserError(f"{libs} has no {pattern}: perf_analyzer cannot start")
        link = folder / soname
        if not link.exists():
            link.symlink_to(found[0])
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in [str(folder), env.get("LD_LIBRARY_PATH", "")] if p)
    return env


def model_counts(server: "Server", model: str) -> tuple[int, int]:
    """(inference_count, execution_count) of ``model`` from Triton's statistics API: their ratio
    over an interval is the average batch the dynamic batcher formed."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.http_url)
    try:
        stats = client.get_inference_statistics(model)["model_stats"][0]
    finally:
        client.close()
    return int(stats["inference_count"]), int(stats["execution_count"])


def perf_run(server: "Server", model: str, concurrency: int, *, protocol: str = "grpc", requests: int = 200,
             trials: int = 3, shapes: Mapping[str, Sequence[int]] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """One bounded perf_analyzer run at ``concurrency``: ``trials`` windows of ``requests`` requests
    each, to 127.0.0.1 only. Windows are counted in requests, not milliseconds, so that a window
    on a busy machine is never empty; stability is not waited for (it may never come on a shared
    machine); ``timeout`` bounds the time. A run perf_analyzer still calls unstable is retried once.
    Returns its CSV row: throughput (inferences/s), p50/p90/p99 latency (us), the server's queue
    and compute times (us), and the average batch from the statistics API."""
    if protocol not in ("grpc", "http"):
        raise UserError(f"protocol must be grpc or http, not {protocol!r}")
    url = server.grpc_url if protocol == "grpc" else server.http_url
    with tempfile.TemporaryDirectory(prefix="trtlab-pa-") as tmp:
        csv_path = Path(tmp) / "pa.csv"
        cmd = [str(perf_analyzer_path()), "-m", model, "-u", url, "-i", protocol, "-b", "1",
               "--concurrency-range", f"{concurrency}:{concurrency}", "--measurement-mode", "count_windows",
               "--measurement-request-count", str(requests), "--max-trials", str(trials),
               "--stability-percentage", "1000", "--percentile", "99", "-f", str(csv_path)]
        for name, shape in (shapes or {}).items():
            cmd += ["--shape", f"{name}:{','.join(map(str, shape))}"]
        env = perf_analyzer_env(Path(tmp))
        for attempt in range(2):
            before = model_counts(server, model)
            try:
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                                      start_new_session=True)
            except subprocess.TimeoutExpired:
                raise UserError(f"perf_analyzer at concurrency {concurrency} ran past {timeout:.0f} s") from None
            after = model_counts(server, model)
            if done.returncode == 0 or "stable" not in done.stdout + done.stderr:
                break
        if done.returncode != 0 or not csv_path.exists():
            last = [l for l in (done.stdout + done.stderr).splitlines() if l.strip()]
            raise UserError(f"perf_analyzer failed at concurrency {concurrency}: {last[-1] if last else done.returncode}")
        import csv

        row = next(csv.DictReader(csv_path.read_text().splitlines()))
    executions = after[1] - before[1]
    return {"concurrency": concurrency, "protocol": protocol,
            "throughput": float(row["Inferences/Second"]),
            "p50_us": int(row["p50 latency"]), "p90_us": int(row["p90 latency"]), "p99_us": int(row["p99 latency"]),
            "queue_us": int(row["Server Queue"]), "compute_us": int(row["Server Compute Infer"]),
            "requests": after[0] - before[0], "avg_batch": (after[0] - before[0]) / executions if executions else None}


def sweep(server: "Server", model: str, concurrencies: Sequence[int] = (1, 2, 4, 8, 16), **options: Any) -> list[dict[str, Any]]:
    """perf_run at each concurrency, in order."""
    return [perf_run(server, model, c, **options) for c in concurrencies]


# --- trtlab serve ---------------------------------------------------------------------------------
class _Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGHUP so that the server is stopped on the way out."""


def serve(engine: str | os.PathLike, *, port: int = 8000, max_batch: int | None = None, instances: int = 1,
          queue_delay_us: int | None = 100, repository: str | os.PathLike | None = None, cpu: bool = False,
          timeout: float = 60.0, out: Any = None) -> int:
    """``trtlab serve``: write the repository, start Triton, say when it is ready, serve until
    Ctrl-C or SIGTERM, then stop every process it started. Returns the exit status."""
    out = out or sys.stdout
    if instances < 1:
        raise UserError(f"--instances {instances}: at least one instance is needed")
    engine_path, sidecar = _engine_and_sidecar(engine)
    server = Server(Path(repository or "."), port=port)  # validates and picks the ports first
    for p, what in ((server.port, "HTTP"), (server.grpc_port, "gRPC"), (server.metrics_port, "metrics")):
        if not port_free(p):
            raise UserError(f"port {p} ({what}) on {HOST} is in use: pick another with --port")
    if repository is None:
        from .common import artifacts_dir

        repository = artifacts_dir() / "serve" / f"repository-{server.port}"
    threads = max(1, (os.cpu_count() or 1) // instances)
    model_dir, runner = python_repository(engine_path, repository, cpu=cpu, max_batch=max_batch,
                                          instances=instances, queue_delay_us=queue_delay_us, threads=threads)
    server.repository = model_dir.parent
    cfg = parse_config((model_dir / "config.pbtxt").read_text())
    batching_text = (f"dynamic batching up to {cfg.max_batch_size}, queue delay "
                     f"{cfg.dynamic_batching.max_queue_delay_microseconds} us"
                     if cfg.HasField("dynamic_batching") else
                     f"no dynamic batching (max_batch_size {cfg.max_batch_size})")
    print(f"model {cfg.name}: {engine_path.name} ({sidecar.get('backend')} {sidecar.get('version')})", file=out)
    print(f"runs on: {runner.label}" + (f" — the engine cannot run here: {runner.why}" if runner.why else ""), file=out)
    print(f"{instances} instance(s), {batching_text}; repository {server.repository}", file=out)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    code = 0
    try:
        server.start(timeout=timeout)
        print(f"ready in {server.ready_seconds:.1f} s: HTTP http://{server.http_url}  gRPC {server.grpc_url}  "
              f"metrics {server.metrics_url}  (Ctrl-C stops it)", file=out, flush=True)
        while server.running:
            time.sleep(0.2)
        raise UserError(f"tritonserver stopped by itself (exit {server.proc.returncode if server.proc else '?'}): "
                        f"{server.log_error()}")
    except (KeyboardInterrupt, _Stop):
        print("stopping Triton", file=out, flush=True)
    finally:
        server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)
