"""Type-check trtlab/runtime.py, cuda_memory.py and compat.py with mypy against the tensorrt-stubs package.

    python benchmarks/typecheck_runtime.py            # exit status is mypy's

tensorrt-stubs (10.13.0.35.1) installs `tensorrt/__init__.pyi` and `tensorrt_bindings/*.pyi`
without a py.typed marker, so mypy skips them as "installed but untyped"; and a few of its
signatures name a parameter `in`, which is not valid Python, so mypy stops at a syntax error.
This script copies the stubs into a temporary stub folder, renames those parameters
(`in:` -> `in_:`), drops the import of the runtime-only `tensorrt_libs`, and runs mypy on
runtime.py with that folder on MYPYPATH. cuda-python, pycuda, torch and CuPy ship no stubs
(or are not installed here): their imports are told to mypy as untyped, nothing else is.
"""
from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNTYPED = ["cuda", "cuda.*", "pycuda", "pycuda.*", "torch", "torch.*", "cupy", "cupy.*", "pynvml"]


def _defaults_last(line: str) -> str:
    """``def f(a, b: X = None, c: int)`` is a syntax error: give ``c`` a ``= ...`` default."""
    m = re.match(r"(\s*def \w+\()(.*)(\) -> .*)$", line)
    if not m or "=" not in m.group(2):
        return line
    params, seen, out = m.group(2).split(", "), False, []
    for p in params:
        if "=" in p:
            seen = True
        elif seen and not p.startswith("*"):
            p += " = ..."
        out.append(p)
    return m.group(1) + ", ".join(out) + m.group(3)


def stub_folder(dest: Path) -> Path:
    site = Path(sysconfig.get_paths()["purelib"])
    for pkg in ("tensorrt", "tensorrt_bindings"):
        for src in (site / pkg).glob("*.pyi"):
            text = src.read_text()
            text = re.sub(r"\bin: ", "in_: ", text)
            text = text.replace("import tensorrt_libs as tensorrt_libs\n", "")
            text = "\n".join(_defaults_last(line) for line in text.split("\n"))
            out = dest / pkg / src.name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
    if not (dest / "tensorrt" / "__init__.pyi").exists():
        sys.exit("tensorrt-stubs is not installed: pip install --no-deps 'tensorrt-stubs>=10.8,<11'")
    return dest


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stubs = stub_folder(Path(tmp) / "stubs")
        cfg = Path(tmp) / "mypy.ini"
        cfg.write_text("[mypy]\nfollow_imports = silent\nwarn_unused_ignores = True\n"
                       f"[mypy-{','.join(UNTYPED)}]\nignore_missing_imports = True\n"
                       # the stubs' own flaws (`bool` shadowed, `capsule` undefined…) are not ours
                       "[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]\nignore_errors = True\n")
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(cfg), "trtlab/runtime.py", "trtlab/cuda_memory.py",
               "trtlab/compat.py"]
        return subprocess.call(cmd, cwd=ROOT, env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"})


if __name__ == "__main__":
    sys.exit(main())
