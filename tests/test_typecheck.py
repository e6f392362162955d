"""The TensorRT 10/11 code paths that cannot run here are type-checked against tensorrt-stubs."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.parametrize("script, last_line", [
    ("typecheck_runtime.py", "Success: no issues found in 3 source files"),
    ("typecheck_build.py", "0 real"),
])
def test_mypy_against_tensorrt_stubs(script, last_line):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1].endswith(last_line), out.stdout
