"""Every runtime-side name that trtlab and the notebooks call on a TensorRT Runtime, ICudaEngine or
IExecutionContext exists in TensorRT 11.4, read from the real classes of ``tensorrt_lean``
(PyPI ``tensorrt-lean-cu13`` 11.4: TensorRT's runtime without a builder; it imports without a GPU).

The names are found at test time by scanning trtlab/*.py and notebooks/*.ipynb with ``ast``: an
attribute read on a receiver that holds a runtime, engine or context (assigned from
``trt.Runtime(...)``, ``.deserialize_cuda_engine(...)``, ``.create_execution_context(...)``, or named
``runtime``/``engine``/``context``/``ctx`` by convention). Names that no TensorRT class has (a
conventional name on something else, such as a path called ``engine``) are left out; a name only
TensorRT-RTX has must be guarded where it is used (``hasattr``/``getattr`` with that name).

Which version each check covers: runtime side, TensorRT 11.4 (this file, ``tensorrt_lean``) and the
installed TensorRT-RTX; builder side, TensorRT 10.13 (tests/test_typecheck.py runs mypy against
``tensorrt-stubs`` 10.13), and TensorRT-RTX by the builds the other tests really run.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"runtime": "Runtime", "engine": "ICudaEngine", "context": "IExecutionContext"}
RETURNS = {"Runtime": "runtime", "deserialize_cuda_engine": "engine", "create_execution_context": "context"}
CONVENTION = {"runtime": re.compile(r"^(runtime|trt_runtime)$"),
              "engine": re.compile(r"^_?(\w+_)?engine$"),
              "context": re.compile(r"^_?(\w+_)?(context|ctx)$")}


def _sources():
    for path in sorted((ROOT / "trtlab").glob("*.py")):
        yield path.name, path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells, 1):
            if cell["cell_type"] == "code":
                src = "".join(cell["source"])
                # IPython magics and shell lines are not Python
                src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())
                yield f"{path.name} cell {i}", src


def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _guarded(tree: ast.AST) -> set[str]:
    """Names passed as strings to hasattr/getattr: used only where the backend has them."""
    return {a.value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr")
            for a in node.args[1:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)}


def used_names() -> dict[tuple[str, str], list[str]]:
    """(kind, attribute) -> where, for every attribute read on a runtime/engine/context receiver."""
    found: dict[tuple[str, str], list[str]] = {}
    for where, src in _sources():
        tree = ast.parse(src)
        modules = _imported_names(tree)
        kinds: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call):
                func = node.value.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called in RETURNS:
                    kinds[ast.unparse(node.targets[0])] = RETURNS[called]
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            receiver = ast.unparse(node.value)
            kind = kinds.get(receiver)
            if kind is None and isinstance(node.value, (ast.Name, ast.Attribute)) and receiver not in modules:
                last = receiver.rsplit(".", 1)[-1]
                kind = next((k for k, rx in CONVENTION.items() if rx.match(last)), None)
            if kind and node.attr not in guarded:
                found.setdefault((kind, node.attr), []).append(f"{where}:{node.lineno}")
    return found


def _names(cls) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


@pytest.fixture(scope="module")
def lean():
    # importing is safe without a GPU; creating a Runtime here would print CUDA error 35 (and it
    # is not needed: the classes carry the API)
    return pytest.importorskip("tensorrt_lean", reason="pip install tensorrt-lean-cu13 (the [test] extra)")


def test_lean_is_the_tensorrt_11_4_runtime(lean):
    assert lean.__version__.startswith("11.4")
    assert not hasattr(lean, "Builder")  # the lean runtime has no builder: runtime-side checks only
    for cls in CLASSES.values():
        assert hasattr(lean, cls)


def test_every_runtime_name_trtlab_and_the_notebooks_call_exists_in_tensorrt_11_4(lean):
    try:  # where TensorRT-RTX is installed, its names widen what counts as a TensorRT name
        import tensorrt_rtx as rtx
    except ImportError:
        rtx = None
    checked, missing = [], []
    for (kind, attr), where in sorted(used_names().items()):
        lean_cls = getattr(lean, CLASSES[kind])
        known = _names(lean_cls) | (_names(getattr(rtx, CLASSES[kind])) if rtx else set())
        if attr not in known:
            continue  # not a TensorRT name: the receiver was something else by the same name
        checked.append((kind, attr))
        if attr not in _names(lean_cls):
            missing.append(f"{CLASSES[kind]}.{attr} (TensorRT-RTX only, unguarded) at {', '.join(where[:3])}")
    assert missing == [], "\n".join(missing)
    # the scan really found the calls that matter (a scan that finds nothing would pass vacuously)
    for must in [("runtime", "deserialize_cuda_engine"), ("engine", "create_execution_context"),
                 ("engine", "num_io_tensors"), ("engine", "get_tensor_name"), ("engine", "get_tensor_mode"),
                 ("context", "set_input_shape"), ("context", "set_tensor_address"),
                 ("context", "execute_async_v3")]:
        assert must in checked, must
    assert len(checked) >= 15, checked


def test_the_scan_sees_a_removed_name_and_a_guard(lean, tmp_path, monkeypatch):
    """The scanner itself: an unguarded legacy call is reported, a guarded RTX-only one is not."""
    src = ("engine = runtime.deserialize_cuda_engine(plan)\nn = engine.num_bindings\n"
           "if hasattr(runtime, 'get_engine_validity'):\n    runtime.get_engine_validity(b'')\n"
           "engine.load_weights()\n")
    monkeypatch.setattr(sys.modules[__name__], "_sources", lambda: iter([("t.py", src)]))
    names = used_names()
    assert ("engine", "num_bindings") in names and ("engine", "load_weights") in names
    assert ("runtime", "get_engine_validity") not in names
    assert "num_bindings" not in _names(lean.ICudaEngine)  # removed in 10.0: would be reported


def _rtx_plan(tmp_path: Path) -> bytes:
    """A TensorRT-RTX plan: built here when tensorrt_rtx is installed, else read from
    $TRTLAB_RTX_PLAN (the lent GPU machines have no TensorRT-RTX wheel: one is built elsewhere)."""
    import os

    if os.environ.get("TRTLAB_RTX_PLAN"):
        return Path(os.environ["TRTLAB_RTX_PLAN"]).read_bytes()
    pytest.importorskip("tensorrt_rtx", reason="needs tensorrt_rtx (or $TRTLAB_RTX_PLAN) for a TensorRT-RTX plan")
    from trtlab.testing import make_engine

    return make_engine(tmp_path).read_bytes()


@pytest.mark.gpu
def test_lean_runtime_initialises_cuda_and_refuses_a_tensorrt_rtx_plan(lean, tmp_path):
    """On a GPU: TensorRT 11.4's lean runtime starts CUDA, and a TensorRT-RTX plan is refused
    (deserialize_cuda_engine returns None and TensorRT logs why) instead of crashing."""
    plan = _rtx_plan(tmp_path)
    assert plan[:4] == b"vtrt"  # TensorRT-RTX's plan header (see trtlab.build.read_header)
    logged: list[tuple[object, str]] = []

    class Log(lean.ILogger):
        def __init__(self):
            lean.ILogger.__init__(self)

        def log(self, severity, msg):
            logged.append((severity, msg))

    runtime = lean.Runtime(Log())
    assert not any("CUDA initialization failure" in m or "cudaError" in m for _, m in logged), logged
    assert runtime.deserialize_cuda_engine(plan) is None
    errors = [m for s, m in logged if s in (lean.ILogger.ERROR, lean.ILogger.INTERNAL_ERROR)]
    assert errors, logged
    print("tensorrt_lean", lean.__version__, "refused the TensorRT-RTX plan:", errors[0])
