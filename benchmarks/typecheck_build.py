"""Type-check the enterprise-TensorRT code paths of trtlab/build.py and trtlab/engine_file.py
against tensorrt-stubs (TensorRT 10.13), since enterprise TensorRT cannot be installed here.

    python benchmarks/typecheck_build.py        # exit status is mypy's

Both modules take the backend as a value (``trt: ModuleType``), which mypy cannot follow. This
script copies them into a temporary package where ``trt`` is ``import tensorrt as trt`` and the
``builder``/``network``/``config`` parameters carry their TensorRT types, then runs mypy there
with the stubs prepared by ``typecheck_runtime.stub_folder`` (which repairs the stubs' syntax).
So every ``trt.MemoryPoolType.WORKSPACE``, ``config.set_memory_pool_limit(...)``,
``set_timing_cache(...)``, ``hardware_compatibility_level`` … is checked against TensorRT 10's
declared API. TensorRT-RTX-only calls (``set_compute_capability``, ``get_engine_validity``) sit
behind ``hasattr`` and are reported by mypy as unknown attributes of the TensorRT 10 types:
those lines are listed, counted and accepted; anything else fails.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# attributes that exist only in TensorRT-RTX (guarded by hasattr / backend checks in the code)
RTX_ONLY = ("set_compute_capability", "num_compute_capabilities", "ComputeCapability", "get_engine_validity",
            "EngineInvalidityDiagnostics", "engine_header_size")


def _stub_folder(dest: Path) -> Path:
    spec = importlib.util.spec_from_file_location("typecheck_runtime", ROOT / "benchmarks" / "typecheck_runtime.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.stub_folder(dest)


def _typed_copy(src: str) -> str:
    text = src
    text = text.replace("from types import ModuleType\n", "from types import ModuleType\nimport tensorrt as trt\n", 1)
    text = re.sub(r"\btrt: ModuleType \| None = None", "_backend: object = None", text)
    text = re.sub(r"\(trt: ModuleType, ", "(_backend: object, ", text)
    text = re.sub(r"\btrt: ModuleType\b", "_backend: object", text)
    text = re.sub(r"^(\s*)trt = trt or backend\.load\(\)$", r"\1pass", text, flags=re.M)
    text = text.replace("trt=trt", "_backend=trt")
    text = re.sub(r"\bbuilder: Any\b", "builder: trt.Builder", text)
    text = re.sub(r"\bnetwork: Any\b", "network: trt.INetworkDefinition", text)
    return text


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stubs = _stub_folder(Path(tmp) / "stubs")
        pkg = Path(tmp) / "src" / "trtlab"
        pkg.mkdir(parents=True)
        for name in ("__init__.py", "backend.py", "common.py", "recorder.py", "parse.py", "compat.py"):
            (pkg / name).write_text((ROOT / "trtlab" / name).read_text())
        for name in ("build.py", "engine_file.py"):
            (pkg / name).write_text(_typed_copy((ROOT / "trtlab" / name).read_text()))
        cfg = Path(tmp) / "mypy.ini"
        cfg.write_text("[mypy]\nfollow_imports = silent\n"
                       "[mypy-pynvml,pynvml.*,tqdm,tqdm.*,onnx,onnx.*,onnxruntime]\nignore_missing_imports = True\n"
                       "[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]\nignore_errors = True\n")
        proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(cfg), "trtlab/build.py",
                               "trtlab/engine_file.py"], cwd=Path(tmp) / "src",
                              env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
        errors = [l for l in proc.stdout.splitlines() if ": error:" in l]
        accepted = [l for l in errors if any(f'"{a}"' in l for a in RTX_ONLY)]
        rest = [l for l in errors if l not in accepted]
        for line in accepted:
            print("rtx-only (guarded):", line)
        for line in rest:
            print(line)
        print(f"{len(errors)} mypy errors: {len(accepted)} TensorRT-RTX-only attributes behind hasattr, "
              f"{len(rest)} real")
        if proc.returncode not in (0, 1):
            print(proc.stdout, proc.stderr)
            return proc.returncode
        return 1 if rest else 0


if __name__ == "__main__":
    sys.exit(main())
