"""ONNX -> TensorRT network with ``OnnxParser``, every parser error surfaced.

    builder, network, parser = parse_onnx("lenet.onnx")

This is what replaced the guide's ``UffParser``: there is no ``register_input`` /
``register_output`` any more — the ONNX graph's own inputs become the network's inputs
(``network.get_input(i)``) and its outputs are marked as the network's outputs.

When the parser refuses a file (truncated, not ONNX at all, an operator it does not know),
``ParseError`` — a ``UserError`` — lists *every* error the parser recorded, with its code,
the node (index, name, operator) and the description; the command line prints the summary
and the list and exits non-zero.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import backend
from .common import UserError


@dataclass(frozen=True)
class ParserIssue:
    """One error from ``parser.get_error(i)``."""
    code: str          # ErrorCode name, e.g. "UNSUPPORTED_NODE"
    node: int          # index of the ONNX node, -1 when the error is about the whole model
    node_name: str
    node_operator: str
    description: str

    def __str__(self) -> str:
        where = "model" if self.node < 0 else f"node {self.node}"
        if self.node_name or self.node_operator:
            where += f" {self.node_name or '?'} ({self.node_operator or '?'})"
        return f"{self.code} at {where}: {self.description}"


class ParseError(UserError):
    """The ONNX parser refused a model; ``issues`` holds every error it reported."""

    def __init__(self, path: str | os.PathLike, issues: list[ParserIssue]):
        self.path = Path(path)
        self.issues = list(issues)
        n = len(self.issues)
        self.summary = (f"{self.path}: the ONNX parser rejected the model "
                        f"({n} error{'s' if n != 1 else ''})")
        super().__init__("\n".join([self.summary] + [f"  [{i}] {issue}" for i, issue in enumerate(self.issues)]))


def parser_issues(parser: Any) -> list[ParserIssue]:
    """Every error an ``OnnxParser`` holds, as plain data."""
    found = []
    for i in range(parser.num_errors):
        e = parser.get_error(i)
        code = e.code()
        found.append(ParserIssue(getattr(code, "name", str(code)), int(e.node()), e.node_name() or "",
                                 e.node_operator() or "", (e.desc() or "").strip()))
    return found


def missing_external_data(path: Path) -> list[str]:
    """The external-data files an ONNX model names that are not beside it (none if it cannot tell)."""
    try:
        import onnx
        from onnx.external_data_helper import uses_external_data

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not readable as ONNX: the parser's own errors say more
        return []
    missing: list[str] = []
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            where = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if where and not (path.parent / where).is_file() and where not in missing:
                missing.append(where)
    return missing


def parse_onnx(path: str | os.PathLike, trt: ModuleType | None = None, *, quiet: bool = False,
               strongly_typed: bool = False) -> tuple[Any, Any, Any]:
    """Parse an ONNX file into a fresh explicit-batch network; returns (builder, network, parser).

    Keep all three alive while you use the network (the network belongs to the builder, and
    the parser owns weights the network points to). ``quiet=True`` keeps the TensorRT logger
    silent while parsing (a refusal's messages are all in the ``ParseError`` anyway); the
    default leaves the shared logger as it is, warnings included. ``strongly_typed=True`` asks
    enterprise TensorRT 10 for a ``STRONGLY_TYPED`` network (precision from the model's dtypes, as
    an FP16 ONNX file needs); TensorRT-RTX networks are always strongly typed and have no flag.
    """
    trt = trt or backend.load()
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an ONNX file")
    data = path.read_bytes()
    if not data:
        raise UserError(f"{path} is empty, not an ONNX model")
    log = backend.logger(trt)
    builder = trt.Builder(log)
    flags = 0  # explicit batch: the only kind since TensorRT 10
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") and \
            backend.name_of(trt) == "tensorrt":
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, log)
    # `path` lets the parser find external weight files beside the model.
    severity = log.min_severity
    if quiet:
        log.min_severity = trt.Logger.Severity.INTERNAL_ERROR
    try:
        ok = parser.parse(data, str(path.resolve()))
    finally:
        log.min_severity = severity
    if not ok or parser.num_errors:
        issues = parser_issues(parser) or [ParserIssue("UNKNOWN", -1, "", "", "parse() returned False")]
        missing = missing_external_data(path)
        if missing:  # the parser only says "Failed to import initializer: <name>"
            issues = [ParserIssue("MISSING_EXTERNAL_DATA", -1, "", "", f"the model keeps its weights in "
                                  f"{', '.join(missing)} beside it, and that file is missing: copy it next to "
                                  f"{path.name}")]
        raise ParseError(path, issues)
    if network.num_outputs == 0:
        # Protobuf reads many byte strings as an empty ModelProto, so "parsed" can mean "found
        # nothing": a network with no outputs is of no use, and the file was not really ONNX.
        raise ParseError(path, [ParserIssue("EMPTY_MODEL", -1, "", "", "the parser accepted the file but found "
                                            "no graph outputs in it (trtlab's check: is it an ONNX model?)")])
    return builder, network, parser


def layer_table(network: Any) -> list[dict[str, Any]]:
    """One row per layer: index, name, type, output names/shapes/dtypes (for listing a network)."""
    rows = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        outs = [layer.get_output(j) for j in range(layer.num_outputs)]
        rows.append({
            "index": i,
            "name": layer.name,
            "type": layer.type.name,
            "outputs": [(t.name, tuple(t.shape), t.dtype.name) for t in outs],
        })
    return rows


def io_table(network: Any) -> list[tuple[str, str, tuple, str]]:
    """(kind, name, shape, dtype) for the network's inputs, then its outputs."""
    rows = [("input", t.name, tuple(t.shape), t.dtype.name)
            for t in (network.get_input(i) for i in range(network.num_inputs))]
    rows += [("output", t.name, tuple(t.shape), t.dtype.name)
             for t in (network.get_output(i) for i in range(network.num_outputs))]
    return rows
