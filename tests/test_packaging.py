"""environment.yml and binder/ install exactly what pyproject.toml declares."""
from __future__ import annotations

import tomllib

from packaging.requirements import Requirement

from conftest import ROOT


def _norm(lines):
    return {(r.name.lower(), str(r.specifier), str(r.marker or "")) for r in map(Requirement, lines)}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _yaml_pip_section():
    lines, inside = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.strip() == "- pip:":
            inside = True
        elif inside and line.strip().startswith("- "):
            lines.append(line.strip()[2:].strip().strip('"'))
        elif inside and line.strip() and not line.startswith("      "):
            inside = False
    return lines


def test_environment_yml_matches_pyproject():
    assert _norm(_yaml_pip_section()) == _norm(_pyproject()["dependencies"])


def test_binder_requirements_match_pyproject():
    lines = [l for l in (ROOT / "binder/requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert _norm(lines) == _norm(_pyproject()["dependencies"])
    assert "pip install --no-deps -e ." in (ROOT / "binder/postBuild").read_text()


def test_tensorflow_keras_tf2onnx_pinned_together():
    deps = {r.name.lower(): r.specifier for r in map(Requirement, _pyproject()["dependencies"])}
    assert "2.21.0" in deps["tensorflow-cpu"] and "2.22.0" not in deps["tensorflow-cpu"]
    assert "1.17.0" in deps["tf2onnx"] and "1.18.0" not in deps["tf2onnx"]
    assert "3.15.1" in deps["keras"]
    assert "1.7.1" in deps["tensorrt-rtx"] and "1.8.0" not in deps["tensorrt-rtx"]


def test_installed_versions_satisfy_pyproject():
    import importlib.metadata as md

    for line in _pyproject()["dependencies"]:
        req = Requirement(line)
        assert req.specifier.contains(md.version(req.name), prereleases=True), (req.name, md.version(req.name))
