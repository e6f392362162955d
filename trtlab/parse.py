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
from .compat import create_network


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


def _load_header(path: Path) -> Any:
    try:
        import onnx

        return onnx.load(str(path), load_external_data=False)
    except Exception:  # not readable as ONNX: the parser's own errors say more
        return None


def _external_locations(model: Any) -> list[str]:
    from onnx.external_data_helper import uses_external_data

    found: list[str] = []
    tensors = list(model.graph.initializer)
    for node in model.graph.node:  # Constant nodes may keep their value outside too
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    for tensor in tensors:
        if uses_external_data(tensor):
            where = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if where not in found:
                found.append(where)
    return found


def external_data_problem(path: Path, location: str) -> str | None:
    """Why the external-data file ``location`` of the model at ``path`` may not be read, or None.

    ONNX requires external data to sit inside the model's folder; trtlab also refuses symbolic
    links (a model shipping ``w.bin -> /etc/shadow`` must not make TensorRT read it) and anything
    that is not a regular file (``/dev/zero`` would never end)."""
    folder = path.resolve().parent
    rel = Path(location)
    if not location or "\0" in location or rel.is_absolute() or ".." in rel.parts:
        return f"external data {location[:80]!r} is not a relative path inside the model's folder"
    target = folder / rel
    part = folder
    for name in rel.parts:
        part = part / name
        if part.is_symlink():
            return f"external data {location[:80]!r} goes through a symbolic link ({part.name}); copy the file instead"
    if not target.exists():
        return None  # missing: reported as missing below
    if not target.is_file():
        return f"external data {location[:80]!r} is not a regular file (a device, pipe or folder)"
    return None


def check_onnx(path: Path) -> None:
    """What TensorRT's parser would get wrong or read from outside, refused before it runs.

    External data only inside the model's folder and never through a symbolic link (on every
    build path); input dimensions above TensorRT's 32-bit ``Dims`` are refused (the parser would
    truncate ``2**32 + 4`` to ``4``)."""
    model = _load_header(path)
    if model is None:
        return
    for where in _external_locations(model):
        why = external_data_problem(path, where)
        if why:
            raise UserError(f"{path.name}: {why}")
    for value in list(model.graph.input) + list(model.graph.output):
        shape = value.type.tensor_type.shape
        for i, d in enumerate(shape.dim):
            if d.HasField("dim_value") and not -(2 ** 31) <= d.dim_value < 2 ** 31:
                raise UserError(f"{path.name}: tensor {value.name[:60]!r} dimension {i} is {d.dim_value}, beyond "
                                "the 32-bit dimensions TensorRT takes")


def missing_external_data(path: Path) -> list[str]:
    """The external-data files an ONNX model names that are not beside it (none if it cannot tell)."""
    model = _load_header(path)
    if model is None:
        return []
    return [w for w in _external_locations(model) if w and not (path.parent / w).is_file()]


def parse_onnx(path: str | os.PathLike, trt: ModuleType | None = None, *, quiet: bool = False,
               strongly_typed: bool = False) -> tuple[Any, Any, Any]:
    """Parse an ONNX file into a fresh explicit-batch network; returns (builder, network, parser).

    Keep all three alive while you use the network (the network belongs to the builder, and
    the parser owns weights the network points to). ``quiet=True`` keeps the TensorRT logger
    silent while parsing (a refusal's messages are all in the ``ParseError`` anyway); the
    default leaves the shared logger as it is, warnings included. The network is strongly typed
    on every backend (``compat.create_network``: the ``STRONGLY_TYPED`` flag on TensorRT 10.x;
    TensorRT 11.x and TensorRT-RTX networks are always strongly typed); ``strongly_typed`` is
    kept for old callers.
    """
    trt = trt or backend.load()
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an ONNX file")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file (a device, pipe or socket)")
    data = path.read_bytes()
    if not data:
        raise UserError(f"{path} is empty, not an ONNX model")
    check_onnx(path)
    log = backend.logger(trt)
    builder = trt.Builder(log)
    network = create_network(builder, trt)  # strongly typed, explicit batch, on every backend
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
