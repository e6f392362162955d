"""trtlab.migrate: every rule found where it applies and silent on the modern call, aliasing,
notebooks, --fix, the command line's exit codes, and a corpus of legacy/modern files."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trtlab import migrate
from trtlab.migrate_rules import BY_ID, RULES

CORPUS = Path(__file__).parent / "legacy_corpus"

PRE = """\
import tensorrt as trt
logger = trt.Logger(trt.Logger.WARNING)
builder = trt.Builder(logger)
network = builder.create_network()
config = builder.create_builder_config()
runtime = trt.Runtime(logger)
engine = runtime.deserialize_cuda_engine(plan)
context = engine.create_execution_context()
"""

_CONV = "c = network.add_convolution_nd(x, 4, (3, 3), w, b)\n"
_POOL = "p = network.add_pooling_nd(x, trt.PoolingType.MAX, (2, 2))\n"
_PROFILE = "profile = builder.create_optimization_profile()\nconfig.add_optimization_profile(profile)\n"
_STRONG = "y = network.add_cast(t, trt.float16)\n"
_QDQ = "q = network.add_quantize(t, s)\nd = network.add_dequantize(q.get_output(0), s)\n"
_BUILD = "plan = builder.build_serialized_network(network, config)\n"
_V3 = "context.set_tensor_address('x', 0)\ncontext.execute_async_v3(0)\n"

# rule id -> (legacy code, its modern counterpart); both follow PRE unless they start with "!"
CASES: dict[str, tuple[str, str]] = {
    "implicit-batch": ("builder.max_batch_size = 8\n", "x = network.add_input('x', trt.float32, (-1, 3))\n"),
    "explicit-batch-flag": ("f = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)\n",
                            "f = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)\n"),
    "add-convolution": ("c = network.add_convolution(x, 4, (3, 3), w, b)\n", _CONV),
    "add-deconvolution": ("c = network.add_deconvolution(x, 4, (3, 3), w, b)\n",
                          "c = network.add_deconvolution_nd(x, 4, (3, 3), w, b)\n"),
    "add-pooling": ("p = network.add_pooling(x, trt.PoolingType.MAX, (2, 2))\n", _POOL),
    "add-padding": ("p = network.add_padding(x, (1, 1), (1, 1))\n", "p = network.add_padding_nd(x, (1, 1), (1, 1))\n"),
    "layer-stride": (_CONV + "c.stride = (2, 2)\n", _CONV + "c.stride_nd = (2, 2)\n"),
    "layer-padding": (_CONV + "c.padding = (1, 1)\n", _CONV + "c.padding_nd = (1, 1)\n"),
    "layer-kernel-size": (_CONV + "k = c.kernel_size\n", _CONV + "k = c.kernel_size_nd\n"),
    "layer-dilation": (_CONV + "c.dilation = (2, 2)\n", _CONV + "c.dilation_nd = (2, 2)\n"),
    "layer-window-size": (_POOL + "p.window_size = (3, 3)\n", _POOL + "p.window_size_nd = (3, 3)\n"),
    "add-fully-connected": ("f = network.add_fully_connected(x, 10, w, b)\n",
                            "f = network.add_matrix_multiply(x, trt.MatrixOperation.NONE, w, trt.MatrixOperation.TRANSPOSE)\n"),
    "uff-parser": ("p = trt.UffParser()\n", "p = trt.OnnxParser(network, logger)\n"),
    "caffe-parser": ("p = trt.CaffeParser()\n", "p = trt.OnnxParser(network, logger)\n"),
    "uff-register-input": ("p = trt.UffParser()\np.register_input('x', (1, 28, 28))\n",
                           "p = trt.OnnxParser(network, logger)\np.parse_from_file('m.onnx')\n"),
    "uff-register-output": ("p = trt.UffParser()\np.register_output('y')\n",
                            "p = trt.OnnxParser(network, logger)\np.parse_from_file('m.onnx')\n"),
    "import-uff": ("!import uff\n", "!import tf2onnx\n"),
    "import-graphsurgeon": ("!import graphsurgeon as gs\n", "!import onnx_graphsurgeon as gs\n"),
    "convert-to-uff": ("!# convert-to-uff model.pb -o model.uff\n",
                       "!# python -m tf2onnx.convert --graphdef model.pb --output model.onnx\n"),
    "builder-max-batch-size": ("builder.max_batch_size = 8\n", _PROFILE),
    "builder-max-workspace-size": ("builder.max_workspace_size = 1 << 20\n",
                                   "config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 20)\n"),
    "config-max-workspace-size": ("config.max_workspace_size = 1 << 20\n",
                                  "config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 20)\n"),
    "builder-fp16-mode": ("builder.fp16_mode = True\n", _STRONG),
    "builder-int8-mode": ("builder.int8_mode = True\n", _QDQ),
    "builder-int8-calibrator": ("builder.int8_calibrator = calib\n", _QDQ),
    "builder-strict-types": ("builder.strict_type_constraints = True\n", _STRONG),
    "config-int8-calibrator": ("config.int8_calibrator = calib\n", _QDQ),
    "builder-fast-fp16": ("ok = builder.platform_has_fast_fp16\n", _STRONG),
    "builder-fast-int8": ("ok = builder.platform_has_fast_int8\n", _QDQ),
    "calibration-algo": ("a = trt.CalibrationAlgoType.ENTROPY_CALIBRATION_2\n", _QDQ),
    "build-cuda-engine": ("e = builder.build_cuda_engine(network)\n", _BUILD),
    "build-engine": ("e = builder.build_engine(network, config)\n", _BUILD),
    "engine-iteration": ("for name in engine:\n    print(name)\n",
                         "for i in range(engine.num_io_tensors):\n    print(engine.get_tensor_name(i))\n"),
    "engine-max-batch-size": ("n = engine.max_batch_size\n", "n = engine.get_tensor_profile_shape('x', 0)[2][0]\n"),
    "engine-device-memory-size": ("n = engine.device_memory_size\n", "n = engine.device_memory_size_v2\n"),
    "context-get-binding-shape": ("s = context.get_binding_shape(0)\n", "s = context.get_tensor_shape('x')\n"),
    "context-set-binding-shape": ("context.set_binding_shape(0, (1, 3))\n", "context.set_input_shape('x', (1, 3))\n"),
    "context-get-strides": ("s = context.get_strides(0)\n", "s = context.get_tensor_strides('x')\n"),
    "context-execute": ("context.execute(1, [0, 0])\n", "context.execute_v2([0, 0])\n"),
    "context-execute-async": ("context.execute_async(1, [0, 0], 0)\n", _V3),
    "context-execute-async-v2": ("context.execute_async_v2([0, 0], 0)\n", _V3),
    "pycuda-autoinit": ("!import pycuda.autoinit\n", "!import pycuda.driver as cuda\n"),
    "cuda-cudart": ("!from cuda import cudart\n", "!from cuda.bindings import runtime as cudart\n"),
    "cuda-driver": ("!from cuda import cuda\n", "!from cuda.bindings import driver as cuda\n"),
}
for _flag in ("FP16", "BF16", "FP8", "INT8", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS",
              "PREFER_PRECISION_CONSTRAINTS", "STRICT_TYPES"):
    CASES[f"flag-{_flag.lower().replace('_', '-')}"] = (f"config.set_flag(trt.BuilderFlag.{_flag})\n",
                                      "config.set_flag(trt.BuilderFlag.TF32)\n")
for _cal in ("IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2",
             "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator"):
    CASES[f"calibrator-{_cal.lower()}"] = (f"class Calib(trt.{_cal}):\n    pass\n", _QDQ)
_ENGINE_NEW = {"get_binding_shape": "get_tensor_shape('x')", "get_binding_dtype": "get_tensor_dtype('x')",
               "binding_is_input": "get_tensor_mode('x')", "num_bindings": "num_io_tensors",
               "get_binding_index": "get_tensor_name(0)", "get_binding_name": "get_tensor_name(0)",
               "get_binding_format": "get_tensor_format('x')",
               "get_binding_vectorized_dim": "get_tensor_vectorized_dim('x')",
               "get_binding_bytes_per_component": "get_tensor_bytes_per_component('x')",
               "get_binding_components_per_element": "get_tensor_components_per_element('x')",
               "get_location": "get_tensor_location('x')",
               "get_profile_shape": "get_tensor_profile_shape('x', 0)"}
for _old, _new in _ENGINE_NEW.items():
    _call = "" if _old == "num_bindings" else "(0)"
    CASES[f"engine-{_old.replace('_', '-')}"] = (f"v = engine.{_old}{_call}\n", f"v = engine.{_new}\n")
from test_migrate_rules import CASES as _ISSUE10_CASES  # noqa: E402  rules added for issue 10, tested there too
CASES.update(_ISSUE10_CASES)


def _src(snippet: str) -> str:
    return snippet[1:] if snippet.startswith("!") else PRE + snippet


def _ids(source: str, target: str = "11") -> list[str]:
    return [f.rule for f in migrate.check_source(source, "t.py", target)]


def test_every_rule_has_a_case():
    assert set(CASES) == set(BY_ID), set(BY_ID) ^ set(CASES)
    assert len(RULES) >= 60


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_positive_and_negative(rule):
    legacy, modern = CASES[rule]
    assert rule in _ids(_src(legacy)), f"{rule} not found in:\n{_src(legacy)}"
    assert _ids(_src(modern)) == [], f"modern code flagged:\n{_src(modern)}"


def test_finding_fields_and_severity_by_target():
    src = PRE + "config.set_flag(trt.BuilderFlag.FP16)\n"
    [f] = migrate.check_source(src, "x.py")
    assert (f.path, f.line, f.col, f.cell) == ("x.py", 9, 17, None)      # 1-based column of `trt.`
    assert (f.rule, f.severity, f.deprecated, f.removed) == ("flag-fp16", "error", "10.12", "11.0")
    assert f.legacy == "BuilderFlag.FP16" and "strong typing" in f.replacement and f.why
    assert [x.severity for x in migrate.check_source(src, target="10")] == ["warning"]
    assert [x.severity for x in migrate.check_source(src, target="rtx")] == ["error"]
    # removed in 10.0: an error on every target
    assert {x.severity for t in migrate.TARGETS
            for x in migrate.check_source(PRE + "engine.num_bindings\n", target=t)} == {"error"}
    # deprecated but not removed; cuda-python's move; pycuda
    assert migrate.check_source(_src(CASES["explicit-batch-flag"][0]))[0].severity == "warning"
    assert migrate.check_source("from cuda import cudart\n")[0].severity == "warning"
    assert migrate.check_source("import pycuda.autoinit\n")[0].severity == "advice"
    # on 10 the weak-typing replacement is the config flag, itself deprecated
    [b] = migrate.check_source(PRE + "builder.fp16_mode = True\n", target="10")
    assert "BuilderFlag.FP16" in b.replacement and b.removed == "8.0"


def test_implicit_batch_needs_evidence_and_respects_explicit_flags():
    # create_network() with no flags is TensorRT 10's normal call: not flagged on its own
    assert _ids(PRE) == []
    legacy = PRE + "builder.max_batch_size = 8\n"
    assert _ids(legacy).count("implicit-batch") == 1
    explicit = legacy.replace("builder.create_network()",
                              "builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))")
    assert "implicit-batch" not in _ids(explicit)
    via_name = ("import tensorrt as trt\nEB = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)\n"
                "builder = trt.Builder(None)\nnetwork = builder.create_network(EB)\ncontext.execute(1, [])\n")
    assert sorted(_ids(via_name)) == ["context-execute", "explicit-batch-flag"]


def test_unrelated_objects_with_the_same_names_are_not_flagged():
    src = """\
import sqlite3, sqlalchemy
import tensorrt as trt
cur = sqlite3.connect(':memory:').cursor()
cur.execute('select 1')
engine = sqlalchemy.create_engine('sqlite://')
engine.execute('select 1')
print(engine.num_bindings)
for row in engine:
    pass
def run(conn, stride):
    conn.execute('x'); conn.execute_async('y'); stride.padding = 1
class Layer:
    stride = 1
"""
    assert _ids(src) == []
    # without a TensorRT import, conventional names mean nothing
    assert _ids("def f(context, engine):\n    context.execute(1, [])\n    engine.get_binding_shape(0)\n") == []


def test_local_classes_are_not_tensorrt_but_helper_modules_may_return_engines():
    src = """\
import tensorrt as trt
from utils import engine as engine_utils
class EngineBuilder:
    def __init__(self):
        self.builder = trt.Builder(trt.Logger())
        self.builder.max_batch_size = 8
    def create_network(self, path):
        return path
builder = EngineBuilder()
builder.create_network('model.onnx')
trt_engine = engine_utils.build_engine('model.uff')
n = trt_engine.max_batch_size
"""
    assert _ids(src) == ["builder-max-batch-size", "engine-max-batch-size"]


def test_receivers_by_convention_attributes_and_with():
    src = """\
import tensorrt as trt
class Runner:
    def __init__(self, engine):
        self.engine = engine
        self.context = engine.create_execution_context()
    def run(self, trt_context):
        self.context.execute_async_v2([0], 0)
        trt_context.execute_v2([0])
        return self.engine.get_binding_shape(0)
with trt.Builder(L) as b, b.create_network() as n, b.create_builder_config() as c:
    c.max_workspace_size = 1
    n.add_fully_connected(x, 1, w, b)
"""
    assert _ids(src) == ["context-execute-async-v2", "engine-get-binding-shape",
                         "config-max-workspace-size", "add-fully-connected"]


def test_aliases_from_imports_and_rtx():
    src = """\
import tensorrt as T
from tensorrt import Builder, BuilderFlag as BF, UffParser
bld = Builder(T.Logger())
cfg = bld.create_builder_config()
cfg.set_flag(BF.INT8)
cfg.set_flag(T.BuilderFlag.FP16)
u = UffParser()
u.register_output('y')
"""
    assert _ids(src) == ["flag-int8", "flag-fp16", "uff-parser", "uff-register-output"]
    star = "from tensorrt import *\nb = Builder(Logger())\nb.build_cuda_engine(n)\nf = BuilderFlag.INT8\nUffParser()\n"
    assert _ids(star) == ["build-cuda-engine", "flag-int8", "uff-parser"]
    rtx = "import tensorrt_rtx as rx\nb = rx.Builder(rx.Logger())\nb.max_workspace_size = 1\nc = rx.IInt8MinMaxCalibrator\n"
    assert _ids(rtx, "rtx") == ["builder-max-workspace-size", "calibrator-iint8minmaxcalibrator"]


def test_corpus_matches_tensorrt_rtx_api():
    """Every removed call is really absent from the installed TensorRT-RTX, and every
    mechanical rename's target really exists there."""
    rtx = pytest.importorskip("tensorrt_rtx")
    classes = {"network": rtx.INetworkDefinition, "builder": rtx.Builder, "config": rtx.IBuilderConfig,
               "engine": rtx.ICudaEngine, "context": rtx.IExecutionContext, "layer": rtx.IConvolutionLayer}
    checked = 0
    for rule in RULES:
        if rule.on == "layer" and rule.fix_to:
            layers = (rtx.IConvolutionLayer, rtx.IDeconvolutionLayer, rtx.IPoolingLayer)
            assert not any(hasattr(cls, rule.name) for cls in layers), rule.id
            assert any(hasattr(cls, rule.fix_to) for cls in layers), rule.id
            checked += 1
        elif rule.on in classes and rule.removed and not rule.store_only:
            cls = classes[rule.on]
            assert not hasattr(cls, rule.name), rule.id
            if rule.fix_to:
                assert hasattr(cls, rule.fix_to), rule.id
            checked += 1
        elif rule.on == "trt" and rule.removed:
            obj = rtx
            for part in rule.name.split("."):
                obj = getattr(obj, part, None)
            assert obj is None, rule.id
            checked += 1
    assert checked >= 50
    # deprecated (not removed) in TensorRT 10/11, but gone from TensorRT-RTX: an error only there
    assert not hasattr(rtx.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
    src = _src(CASES["explicit-batch-flag"][0])
    assert [f.severity for t in migrate.TARGETS for f in migrate.check_source(src, target=t)] == \
        ["warning", "warning", "error"]


# --- notebooks -------------------------------------------------------------------------------
def _notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    nb = {"cells": [{"cell_type": t, "metadata": {}, "source": s.splitlines(keepends=True),
                     **({"outputs": [], "execution_count": None} if t == "code" else {})} for t, s in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(nb, indent=1))
    return path


def test_notebook_cells_magics_and_shared_names(tmp_path):
    nb = _notebook(tmp_path / "old.ipynb", [
        ("markdown", "# convert-to-uff is mentioned in markdown: not code, not flagged"),
        ("code", "%matplotlib inline\nimport tensorrt as trt\n!convert-to-uff m.pb\nfiles = !ls"),
        ("code", "%%bash\nbuilder.max_workspace_size = 1"),       # a shell cell: not Python
        ("code", "builder = trt.Builder(trt.Logger())\n\n    \nbuilder.max_workspace_size = 1 << 20"),
        ("code", "%%time\nengine.get_binding_shape(0)"),         # %%time's body is Python
    ])
    found, problem = migrate.check_file(nb)
    assert problem is None
    assert [(f.cell, f.line, f.col, f.rule) for f in found] == [
        (2, 3, 2, "convert-to-uff"), (4, 4, 9, "builder-max-workspace-size"), (5, 2, 8, "engine-get-binding-shape")]
    assert migrate.format_finding(found[1]).startswith(f"{nb}[cell 4]:4:9: error: builder.max_workspace_size → ")


def test_notebook_errors_are_reported_with_cell_and_line(tmp_path):
    bad = _notebook(tmp_path / "bad.ipynb", [("code", "import tensorrt as trt"), ("code", "x = (\n1 +")])
    found, problem = migrate.check_file(bad)
    assert found == [] and problem.cell == 2 and problem.line is not None and "syntax error" in problem.message
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    _, problem = migrate.check_file(tmp_path / "broken.ipynb")
    assert "invalid notebook JSON" in problem.message and problem.line == 1


# --- --fix ---------------------------------------------------------------------------------------
LEGACY_FIXABLE = """\
import tensorrt as trt  # ünïcode comment keeps its bytes
from cuda import cudart
def add(network, x, w, b):
    conv = network.add_convolution(input=x, num_output_maps=8, kernel_shape=(3, 3), kernel=w, bias=b)
    conv.stride = (1, 1); conv.padding = (1, 1)
    pool = network.add_pooling(conv.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool.stride = (2, 2)
    pool.window_size = (2, 2)
    up = network.add_deconvolution(pool.get_output(0), 8, (2, 2), w, b)
    up.kernel_size
    return network.add_fully_connected(up.get_output(0), 10, w, b)
"""


def test_fix_rewrites_mechanical_calls_only(tmp_path):
    path = tmp_path / "old.py"
    path.write_text(LEGACY_FIXABLE, encoding="utf-8")
    before = migrate.check_source(LEGACY_FIXABLE)
    result = migrate.fix_file(path)
    assert result.edits == sum(f.fixable for f in before) == 9
    assert Path(result.backup).read_text(encoding="utf-8") == LEGACY_FIXABLE
    new = path.read_text(encoding="utf-8")
    ast.parse(new)
    assert "-from cuda import cudart\n+from cuda.bindings import runtime as cudart\n" in result.diff
    assert "+    conv.stride_nd = (1, 1); conv.padding_nd = (1, 1)\n" in result.diff
    assert "add_convolution_nd(input=x," in new and "add_pooling_nd(" in new and "add_deconvolution_nd(" in new
    assert "pool.window_size_nd" in new and "up.kernel_size_nd" in new
    # the rest of the file is byte-identical: only the renamed tokens differ
    assert new.replace("_nd", "").replace("from cuda.bindings import runtime as cudart", "from cuda import cudart") \
        == LEGACY_FIXABLE
    after = migrate.check_source(new)
    assert [f.rule for f in after] == ["add-fully-connected"]      # reported, never guessed
    assert migrate.fix_file(path) is None                           # nothing left to do


def test_fix_that_cannot_write_is_reported(tmp_path, monkeypatch, capsys):
    """A backup name that is taken (here by a folder) moves to FILE.bak.1; a write that fails is a
    problem line and exit 2, the file untouched and no backup or temporary file left."""
    import errno

    src = "import tensorrt as trt\nc = network.add_pooling(x, trt.PoolingType.MAX, (2, 2))\n"
    (tmp_path / "a.py").write_text(src)
    (tmp_path / "a.py.bak").mkdir()
    assert migrate.main([tmp_path / "a.py"], fix=True) == 0
    assert (tmp_path / "a.py.bak.1").read_text() == src and not list((tmp_path / "a.py.bak").iterdir())
    assert "add_pooling_nd" in (tmp_path / "a.py").read_text()
    capsys.readouterr()

    (tmp_path / "b.py").write_text(src)

    def cannot_write(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(migrate, "write_temp", cannot_write)
    assert migrate.main([tmp_path / "b.py"], fix=True) == 2
    out = capsys.readouterr().out
    assert f"{tmp_path / 'b.py'}: fatal: --fix could not write: No space left on device" in out
    assert (tmp_path / "b.py").read_text() == src
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "a.py.bak", "a.py.bak.1", "b.py"]


@pytest.mark.parametrize("cells, want", [
    ([5], "invalid notebook: cell 1 is not a cell object"),
    ([{"cell_type": "markdown", "source": "x"}, {"cell_type": "code", "source": 5}],
     "invalid notebook: cell 2 has a 'source' that is not text"),
])
def test_notebook_with_malformed_cells_is_a_problem(cells, want, tmp_path, capsys):
    """It was 0 findings and exit 0, as if the notebook had been checked."""
    nb = tmp_path / "odd.ipynb"
    nb.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    assert migrate.main([nb]) == 2
    assert f"odd.ipynb: fatal: {want}" in capsys.readouterr().out


def test_device_or_pipe_is_not_read(tmp_path, capsys):
    """`trtlab migrate /dev/zero` (or a .py symlink to it, or a FIFO) read forever."""
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    assert migrate.main([tmp_path / "zero.py", Path("/dev/null")]) == 2
    out = capsys.readouterr().out
    assert out.count("fatal: not a regular file (a device, pipe or socket): not read") == 2


def test_fix_notebook_in_place(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", [
        ("code", "import tensorrt as trt\n!nvidia-smi"),
        ("markdown", "text"),
        ("code", "c = network.add_convolution(x, 4, (3, 3), w, b)\nc.stride = (1, 1)\nn = engine.num_bindings"),
    ])
    result = migrate.fix_file(nb)
    assert result.edits == 2 and Path(result.backup).exists() and "(cell 3)" in result.diff
    cells = json.loads(nb.read_text())["cells"]
    assert "".join(cells[2]["source"]) == ("c = network.add_convolution_nd(x, 4, (3, 3), w, b)\n"
                                           "c.stride_nd = (1, 1)\nn = engine.num_bindings")
    assert "".join(cells[0]["source"]) == "import tensorrt as trt\n!nvidia-smi"
    assert [f.rule for f in migrate.check_file(nb)[0]] == ["engine-num-bindings"]


# --- command line ------------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trtlab.cli", "migrate", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_cli_exit_codes_and_messages(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text("import tensorrt as trt\nplan = trt.Builder(None).build_serialized_network(n, c)\n")
    legacy = tmp_path / "legacy.py"
    legacy.write_text("import tensorrt as trt\nb = trt.Builder(None)\ne = b.build_cuda_engine(n)\n")
    broken = tmp_path / "broken.py"
    broken.write_text("import tensorrt as trt\ndef f(:\n")

    r = _cli(str(clean))
    assert r.returncode == 0 and "0 findings" in r.stdout and not r.stderr
    r = _cli(str(legacy))
    assert r.returncode == 1
    assert f"{legacy}:3:7: error: builder.build_cuda_engine → " in r.stdout
    assert "(deprecated 7.x, removed 8.0)" in r.stdout
    r = _cli(str(broken), str(legacy), str(tmp_path / "missing.py"))
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr
    assert f"{broken}:2: fatal: syntax error" in r.stdout
    assert f"{tmp_path / 'missing.py'}: fatal: no such file or directory" in r.stdout
    assert "build_cuda_engine" in r.stdout                          # the other file was still checked
    r = _cli(str(legacy), "--target", "12")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_cli_json_folder_walk_and_fix(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import tensorrt as trt\nn = trt.Builder(None).create_network()\n"
                                           "c = n.add_pooling(x, trt.PoolingType.MAX, (2, 2))\n")
    (tmp_path / "pkg" / "b.txt").write_text("convert-to-uff is not looked for in .txt files")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.py").write_text("import uff\n")
    (tmp_path / "bad.py").write_bytes(b"x = '\xff'\n")
    r = _cli("--json", str(tmp_path))
    out = json.loads(r.stdout)
    assert r.returncode == 2 and out["target"] == "11"
    assert [f["rule"] for f in out["findings"]] == ["add-pooling"]
    assert out["problems"][0]["message"].startswith("not UTF-8")
    assert out["counts"] == {"error": 1, "warning": 0, "advice": 0}
    r = _cli("--fix", "--target", "10", str(tmp_path / "pkg"))
    assert r.returncode == 0 and "+c = n.add_pooling_nd(" in r.stdout and "original kept as" in r.stdout
    assert (tmp_path / "pkg" / "a.py.bak").exists()


# --- the corpus ----------------------------------------------------------------------------------------
EXPECTED = {
    "trt7_common_buffers.py": [(7, "pycuda-autoinit"), (11, "explicit-batch-flag"), (27, "engine-iteration"),
                               (28, "engine-get-binding-shape"), (28, "engine-max-batch-size"),
                               (29, "engine-get-binding-dtype"), (32, "engine-binding-is-input"),
                               (39, "context-execute-async"), (49, "context-execute-async-v2")],
    "trt7_network_api_mnist.py": [(14, "add-convolution"), (16, "layer-stride"), (17, "add-pooling"),
                                  (18, "layer-stride"), (19, "add-convolution"), (20, "layer-stride"),
                                  (21, "layer-padding"), (22, "add-pooling"), (23, "layer-stride"),
                                  (24, "add-fully-connected"), (27, "add-fully-connected"),
                                  (33, "implicit-batch"), (34, "builder-max-workspace-size"),
                                  (35, "builder-max-batch-size"), (37, "build-cuda-engine")],
    "trt7_uff_mnist.py": [(5, "convert-to-uff"), (8, "import-uff"), (18, "implicit-batch"), (18, "uff-parser"),
                          (19, "builder-max-workspace-size"), (20, "uff-register-input"),
                          (21, "uff-register-output"), (23, "build-cuda-engine")],
    "trt7_caffe_resnet50.py": [(13, "implicit-batch"), (13, "caffe-parser"), (14, "builder-max-workspace-size"),
                               (15, "builder-fp16-mode"), (18, "build-cuda-engine"),
                               (22, "engine-get-binding-shape"), (22, "engine-num-bindings"),
                               (27, "context-execute")],
    "trt8_int8_calibrator.py": [(14, "calibrator-iint8entropycalibrator2"), (16, "calibrator-iint8entropycalibrator2"),
                                (36, "implicit-batch"), (37, "caffe-parser"), (38, "config-max-workspace-size"),
                                (39, "flag-int8"), (40, "config-int8-calibrator"), (41, "builder-max-batch-size"),
                                (44, "build-engine")],
    "trt8_onnx_dynamic.py": [(8, "cuda-cudart"), (11, "explicit-batch-flag"), (22, "config-max-workspace-size"),
                             (26, "build-engine"), (31, "context-set-binding-shape"),
                             (32, "engine-device-memory-size")],
    "trt8_aliases.py": [(10, "implicit-batch"), (12, "flag-fp16"), (14, "builder-max-batch-size"), (15, "uff-parser"),
                        (16, "uff-register-input"), (17, "build-engine"), (19, "context-execute-async-v2"),
                        (20, "engine-num-bindings")],
    "guide_style_trt6.ipynb": [(2, 2, "convert-to-uff"), (2, 4, "pycuda-autoinit"), (3, 1, "implicit-batch"),
                               (3, 1, "uff-parser"), (3, 2, "uff-register-input"), (3, 3, "uff-register-output"),
                               (3, 5, "builder-max-batch-size"), (3, 6, "builder-max-workspace-size"),
                               (3, 7, "build-cuda-engine"), (5, 1, "engine-get-binding-shape"),
                               (5, 4, "context-execute-async")],
    "trt10_common_runtime.py": [],
    "trt10_network_api.py": [],
    "trt10_onnx_rtx.py": [],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_exact_findings(name):
    found, problem = migrate.check_file(CORPUS / name)
    assert problem is None
    got = sorted((f.cell, f.line, f.rule) if f.cell else (f.line, f.rule) for f in found)
    assert got == sorted(EXPECTED[name])


def test_corpus_is_complete():
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".py", ".ipynb")}
    assert files == set(EXPECTED)
    rules_seen = {r for v in EXPECTED.values() for *_, r in v}
    assert len(rules_seen) >= 30
