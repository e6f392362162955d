"""The migrate rules added for issue 10: per-layer precision and output types (removed in 11.0),
V2 plugins and their registry lookup (deprecated in 10.0), and the optimization-profile setter.
Each is found in legacy code, silent on its replacement, carries its versions and a link, and
agrees with the installed TensorRT-RTX; modern code (the notebooks, trtlab itself) has no findings."""
from __future__ import annotations

from pathlib import Path

import pytest

from trtlab import migrate
from trtlab.migrate_rules import BY_ID

ROOT = Path(__file__).resolve().parent.parent

PRE = """\
import tensorrt as trt
logger = trt.Logger(trt.Logger.WARNING)
builder = trt.Builder(logger)
network = builder.create_network(0)
runtime = trt.Runtime(logger)
engine = runtime.deserialize_cuda_engine(plan)
context = engine.create_execution_context()
"""

# rule id -> (legacy code, its modern counterpart), each after PRE
CASES: dict[str, tuple[str, str]] = {
    "layer-precision": ("layer = network.get_layer(0)\nlayer.precision = trt.float16\n",
                        "layer = network.get_layer(0)\ny = network.add_cast(layer.get_output(0), trt.float16)\n"),
    "layer-precision-is-set": ("r = network.add_activation(x, trt.ActivationType.RELU)\nok = r.precision_is_set\n",
                               "r = network.add_activation(x, trt.ActivationType.RELU)\nt = r.get_output(0).dtype\n"),
    "layer-reset-precision": ("m = network.add_matrix_multiply(a, trt.MatrixOperation.NONE, b, trt.MatrixOperation.NONE)\n"
                              "m.reset_precision()\n",
                              "m = network.add_matrix_multiply(a, trt.MatrixOperation.NONE, b, trt.MatrixOperation.NONE)\n"),
    "layer-set-output-type": ("e = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM)\n"
                              "e.set_output_type(0, trt.float16)\n",
                              "e = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM)\n"
                              "h = network.add_cast(e.get_output(0), trt.float16)\n"),
    "add-plugin-v2": ("p = network.add_plugin_v2([x], plugin)\n",
                      "p = network.add_plugin_v3([x], [], plugin)\n"),
    "registry-get-plugin-creator": ("registry = trt.get_plugin_registry()\n"
                                    "c = registry.get_plugin_creator('MyPlugin', '1', '')\n",
                                    "registry = trt.get_plugin_registry()\nc = registry.get_creator('MyPlugin', '1', '')\n"),
    "context-active-optimization-profile": ("context.active_optimization_profile = 1\n",
                                            "context.set_optimization_profile_async(1, stream)\n"
                                            "assert context.active_optimization_profile == 1\n"),
}


def _ids(source: str, target: str = "11") -> list[str]:
    return [f.rule for f in migrate.check_source(source, "t.py", target)]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_found_in_legacy_code_and_silent_on_its_replacement(rule):
    legacy, modern = CASES[rule]
    assert _ids(PRE + legacy) == [rule], PRE + legacy
    assert _ids(PRE + modern) == [], PRE + modern


@pytest.mark.parametrize("rule, deprecated, removed, severities", [
    ("layer-precision", "10.12", "11.0", ["warning", "error", "error"]),
    ("layer-set-output-type", "10.12", "11.0", ["warning", "error", "error"]),
    ("add-plugin-v2", "10.0", None, ["warning", "warning", "error"]),
    ("registry-get-plugin-creator", "10.0", None, ["warning", "warning", "error"]),
    ("context-active-optimization-profile", "7.x", "10.0", ["error", "error", "error"]),
])
def test_versions_severity_by_target_and_link(rule, deprecated, removed, severities):
    r = BY_ID[rule]
    assert (r.deprecated, r.removed) == (deprecated, removed)
    assert r.link and r.link.startswith("https://docs.nvidia.com/deeplearning/tensorrt/")
    src = PRE + CASES[rule][0]
    got = [f.severity for t in migrate.TARGETS for f in migrate.check_source(src, target=t)]
    assert got == severities  # targets 10, 11, rtx


def test_reading_the_active_profile_is_not_legacy_but_every_assignment_is():
    assert _ids(PRE + "i = context.active_optimization_profile\nprint(context.active_optimization_profile)\n") == []
    src = PRE + "ctx2 = engine.create_execution_context()\nctx2.active_optimization_profile = 0\n"
    [f] = migrate.check_source(src, "t.py")
    assert (f.rule, f.line) == ("context-active-optimization-profile", 9)
    assert "set_optimization_profile_async" in f.replacement


def test_layers_from_any_network_method_and_registry_by_name():
    src = PRE + ("for i in range(network.num_layers):\n    layer = network.get_layer(i)\n"
                 "    layer.precision = trt.float16\n    layer.set_output_type(0, trt.float16)\n"
                 "plugin_registry.get_plugin_creator('X', '1')\n")
    assert _ids(src) == ["layer-precision", "layer-set-output-type", "registry-get-plugin-creator"]


def test_unrelated_precision_attributes_are_not_flagged():
    src = ("import tensorrt as trt\nimport keras\nlayer = keras.layers.Dense(4)\nlayer.precision = 'x'\n"
           "class Meter:\n    precision = 3\nm = Meter()\nm.precision = 4\n")
    assert _ids(src) == []


def test_rules_agree_with_the_installed_tensorrt_rtx():
    """TensorRT-RTX never had weak typing or V2 plugins: the legacy names are absent there and
    every replacement the rules name exists (checks TensorRT-RTX's Python API, 1.x)."""
    rtx = pytest.importorskip("tensorrt_rtx")
    for name in ("precision", "precision_is_set", "reset_precision", "set_output_type"):
        assert not hasattr(rtx.ILayer, name), name
    assert not hasattr(rtx.INetworkDefinition, "add_plugin_v2")
    assert not hasattr(rtx.IPluginRegistry, "get_plugin_creator")
    assert hasattr(rtx.IPluginRegistry, "get_creator") and hasattr(rtx, "get_plugin_registry")
    assert hasattr(rtx.INetworkDefinition, "add_cast")
    assert hasattr(rtx.IExecutionContext, "set_optimization_profile_async")
    # the property stays readable, so the rule fires on assignments only
    assert isinstance(rtx.IExecutionContext.active_optimization_profile, property) or \
        hasattr(rtx.IExecutionContext, "active_optimization_profile")


def test_modern_code_has_no_findings():
    """The notebooks and trtlab itself are the modern code: zero findings for every target."""
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "trtlab").glob("*.py"))
    for target in migrate.TARGETS:
        report = migrate.check_paths(paths, target=target)
        # chapter 07 shows legacy code on purpose; "convert-to-uff" is a text rule that also
        # matches prose naming the old tool (the help and docstrings say what replaced it)
        found = [f"{f.path}:{f.line} {f.rule}" for f in report.findings
                 if "07_migrating" not in f.path and f.rule != "convert-to-uff"]
        assert found == [], (target, found)
