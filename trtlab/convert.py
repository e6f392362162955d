"""TensorFlow -> ONNX through tf2onnx: today's stand-in for the guide's ``convert-to-uff``.

    to_onnx("lenet.pb", "lenet.onnx", nchw=True)      # frozen GraphDef
    to_onnx("saved_model_dir/", "model.onnx", trust_savedmodel=True)   # SavedModel folder (runs its code)
    to_onnx("lenet.keras", "lenet.onnx")                # Keras 3 file

Like ``convert-to-uff``, a frozen graph's inputs are found by themselves (its ``Placeholder``
nodes) and so are its outputs (the nodes nothing consumes), unless named. Every user mistake
— a missing file, a file that is not a graph, a node name the graph does not have — raises
``UserError`` with a one-line reason, and nothing is written unless the conversion succeeded
(the ONNX file is written atomically).

Trust: loading a SavedModel runs the TensorFlow graph's own initializers (restore ops, and
whatever a crafted model put there), so a SavedModel is refused unless the caller says it
trusts it (``trust_savedmodel=True``, ``trtlab convert --trust-savedmodel``). Frozen graphs are
only parsed and Keras files are loaded in Keras's safe mode (no Lambda code is deserialized).

TensorFlow and tf2onnx are imported on first use (a few seconds), not at ``import trtlab``.
"""
from __future__ import annotations

import difflib
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import UserError, check_output, fds_to, safe_write

KERAS_SUFFIXES = (".keras", ".h5")
# Ops that never make sense as a graph's output when looking for the sinks.
_NOT_OUTPUTS = {"NoOp", "Const", "Placeholder", "Assert", "SaveV2", "RestoreV2"}


@dataclass
class Graph:
    """A frozen graph ready for tf2onnx, with tensor names (``node:0``) for its ends."""
    graph_def: Any
    inputs: list[str]
    outputs: list[str]
    kind: str  # "frozen GraphDef", "SavedModel", "Keras model"


def import_tensorflow():
    """Import TensorFlow quietly.

    TensorFlow 2.21's C++ side writes INFO lines (oneDNN, CPU features, "All log messages
    before absl::InitializeLog() …") straight to file descriptor 2 while it loads, and
    ``TF_CPP_MIN_LOG_LEVEL`` no longer silences all of them. We point fd 2 at a temporary file
    for the import only, and replay what it caught if the import fails.
    """
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    with tempfile.TemporaryFile() as caught:
        try:
            with fds_to(caught, (2,)):
                import tensorflow as tf
        except BaseException:
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
    # TensorFlow's Python-side deprecation notices (tf2onnx still calls TF1-era helpers) are
    # noise for a reader; errors still show.
    tf.get_logger().setLevel("ERROR")
    return tf


def _tf():
    return import_tensorflow()  # one place that imports TensorFlow without its C++ chatter


def _tensor(name: str) -> str:
    """'fc2/Relu' -> 'fc2/Relu:0'; 'x:1' stays; a leading '^' (control input) is dropped."""
    name = name.lstrip("^")
    base, sep, index = name.rpartition(":")
    return name if sep and index.isdigit() else f"{name}:0"


def _node(tensor: str) -> str:
    return tensor.lstrip("^").rpartition(":")[0] if ":" in tensor else tensor.lstrip("^")


# --- loading each kind of model into a frozen GraphDef ---------------------------------------
def read_graph_def(path: Path) -> Any:
    """Parse a frozen GraphDef file; UserError if it is not one."""
    tf = _tf()
    data = path.read_bytes()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
        ok = len(graph_def.node) > 0 and all(n.op and n.name for n in graph_def.node)
    except Exception:
        ok = False
    if not ok:
        hint = " (a SavedModel's saved_model.pb: pass its folder instead)" if path.name == "saved_model.pb" else ""
        raise UserError(f"{path} is not a frozen TensorFlow GraphDef (.pb){hint}")
    return graph_def


def graph_ends(graph_def: Any) -> tuple[list[str], list[str]]:
    """A frozen graph's inputs (Placeholder nodes) and outputs (nodes nothing consumes), as tensors."""
    consumed = {_node(i) for n in graph_def.node for i in n.input}
    inputs = [_tensor(n.name) for n in graph_def.node if n.op == "Placeholder"]
    outputs = [_tensor(n.name) for n in graph_def.node if n.name not in consumed and n.op not in _NOT_OUTPUTS]
    return inputs, outputs


def _load_pb(path: Path) -> Graph:
    graph_def = read_graph_def(path)
    inputs, outputs = graph_ends(graph_def)
    return Graph(graph_def, inputs, outputs, "frozen GraphDef")


def _tf2onnx():
    """tf2onnx, with its INFO chatter ('--tag not specified …') turned down to errors."""
    _tf()
    import tf2onnx
    from tf2onnx import logging as tf2onnx_logging

    tf2onnx_logging.set_level(logging.ERROR)
    return tf2onnx


def _load_saved_model(path: Path, trusted: bool = False) -> Graph:
    if not (path / "saved_model.pb").exists() and not (path / "saved_model.pbtxt").exists():
        raise UserError(f"{path} is a folder but not a SavedModel (no saved_model.pb in it)")
    if not trusted:  # loading runs the graph's own initializer ops: code from whoever made it
        raise UserError(f"{path} is a SavedModel: loading one runs its own TensorFlow initializers, so convert "
                        "only a SavedModel you trust, with --trust-savedmodel (trust_savedmodel=True)")
    _tf2onnx()
    from tf2onnx import tf_loader

    try:
        graph_def, inputs, outputs = tf_loader.from_saved_model(str(path), None, None)
    except Exception as exc:
        raise UserError(f"{path}: cannot load the SavedModel: {_first_line(exc)}") from None
    return Graph(graph_def, list(inputs), list(outputs), "SavedModel")


def _load_keras(path: Path) -> Graph:
    _tf()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise UserError(f"{path} is not a Keras model file: a .keras file is a zip archive and this one is not "
                        "(empty, cut short or another format)")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)  # no Lambda code is loaded
    except Exception as exc:
        raise UserError(f"{path} is not a Keras model file: {_first_line(exc)}") from None
    return keras_graph(model)


def keras_graph(model: Any) -> Graph:
    """A Keras model frozen through a ``tf.function`` whose inputs are named after the model's."""
    tf = _tf()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = [tf.TensorSpec(t.shape, t.dtype, name=_node(t.name) or f"input_{i}") for i, t in enumerate(model.inputs)]

    @tf.function(input_signature=specs)
    def forward(*xs):
        return model(list(xs) if len(xs) > 1 else xs[0], training=False)

    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    return Graph(frozen.graph.as_graph_def(), [t.name for t in frozen.inputs if t.dtype != tf.resource],
                 [t.name for t in frozen.outputs], "Keras model")


def load(model: str | os.PathLike | Any, trust_savedmodel: bool = False) -> Graph:
    """Any supported model (path to a .pb / SavedModel folder / .keras, or a keras.Model) as a Graph.

    A SavedModel folder is loaded only with ``trust_savedmodel=True`` (its initializers run)."""
    if not isinstance(model, (str, os.PathLike)):
        if hasattr(model, "inputs") and hasattr(model, "get_layer"):
            return keras_graph(model)
        if hasattr(model, "node"):  # a GraphDef object
            inputs, outputs = graph_ends(model)
            return Graph(model, inputs, outputs, "frozen GraphDef")
        raise UserError(f"cannot convert a {type(model).__name__}: give a path, a keras.Model or a GraphDef")
    path = Path(model)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_saved_model(path, trust_savedmodel)
    if not path.is_file():  # reading /dev/zero or a pipe would never end
        raise UserError(f"{path} is not a regular file (a device, pipe or socket)")
    if path.suffix.lower() in KERAS_SUFFIXES:
        return _load_keras(path)
    return _load_pb(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _resolve(names: list[str] | None, default: list[str], graph_def: Any, what: str) -> list[str]:
    """Names given by the user, checked against the graph's nodes; else the default ends."""
    if not names:
        if not default:
            raise UserError(f"the graph has no {what} nodes to find by themselves: name them with --{what}")
        return default
    nodes = {n.name for n in graph_def.node}
    unknown = [n for n in names if _node(_tensor(n)) not in nodes]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(_node(_tensor(name)), nodes, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UserError(f"--{what}: no node named {', '.join(hints)} in the graph")
    return [_tensor(n) for n in names]


def _input_ranks(graph_def: Any) -> dict[str, int | None]:
    ranks: dict[str, int | None] = {}
    for n in graph_def.node:
        if n.op == "Placeholder":
            shape = n.attr["shape"].shape
            ranks[_tensor(n.name)] = None if shape.unknown_rank else len(shape.dim)
    return ranks


# --- the conversion -------------------------------------------------------------------------
MIN_OPSET = 9  # below it tf2onnx turns weights into graph inputs, and TensorRT's ONNX parser starts at 9


def max_opset() -> int:
    """The newest ONNX opset the installed tf2onnx can write."""
    _tf2onnx()
    from tf2onnx import constants

    return max(constants.OPSET_TO_IR_VERSION)


def to_onnx(model: str | os.PathLike | Any, out: str | os.PathLike, inputs: list[str] | None = None,
            outputs: list[str] | None = None, nchw: bool = False, opset: int = 17,
            trust_savedmodel: bool = False) -> Path:
    """Convert a TensorFlow model to ONNX at ``out`` (written atomically) and return its path.

    ``inputs``/``outputs``: node or tensor names (``Placeholder`` or ``Placeholder:0``); by
    default a frozen graph's Placeholders and its unconsumed nodes, or a SavedModel's/Keras
    model's signature. ``trust_savedmodel``: allow a SavedModel folder (loading it runs its
    initializers). ``nchw``: the 4-D inputs become NCHW in the ONNX graph (tf2onnx inserts
    the transpose and folds it away where it can), which is the layout TensorRT works in.
    """
    if isinstance(model, (str, os.PathLike)) and Path(out).resolve() == Path(model).resolve():
        raise UserError(f"{out} is the model being converted: writing the ONNX file there would overwrite it; "
                        f"give it another name (e.g. {Path(out).with_suffix('.onnx').name})")
    source = (model,) if isinstance(model, (str, os.PathLike)) else ()
    check_output(out, source, "output")  # not a device, link, the model (or a file in its folder), a source
    if not MIN_OPSET <= opset <= max_opset():
        raise UserError(f"--opset must be between {MIN_OPSET} and {max_opset()} (the ONNX opsets tf2onnx writes and "
                        f"TensorRT's parser reads), not {opset}")
    graph = load(model, trust_savedmodel)
    in_names = _resolve(inputs, graph.inputs, graph.graph_def, "inputs")
    out_names = _resolve(outputs, graph.outputs, graph.graph_def, "outputs")
    nchw_inputs = None
    if nchw:
        ranks = _input_ranks(graph.graph_def)
        bad = [f"{n} (rank {ranks.get(n)})" for n in in_names if ranks.get(n) not in (4, None)]
        if bad:
            raise UserError(f"--nchw applies to 4-D image inputs only, not {', '.join(bad)}")
        nchw_inputs = in_names

    tf2onnx = _tf2onnx()
    logged = _Held()
    logging.root.addHandler(logged)  # tf2onnx logs its reasons before raising: keep them for the one line
    try:
        model_proto, _ = tf2onnx.convert.from_graph_def(
            graph.graph_def, input_names=in_names, output_names=out_names, opset=opset,
            inputs_as_nchw=nchw_inputs)
    except UserError:
        raise
    except Exception as exc:  # an op tf2onnx cannot map, a graph cut that leaves a hole …
        why = logged.last_error()
        raise UserError(f"tf2onnx could not convert the {graph.kind}: {_first_line(exc)}"
                        + (f" ({why})" if why else "")) from None
    finally:
        logging.root.removeHandler(logged)
    logged.replay()  # it converted: what tf2onnx warned about is shown as before
    return safe_write(out, model_proto.SerializeToString(), source, "output")


class _Held(logging.Handler):
    """Holds log records while tf2onnx runs; the last error becomes part of the one-line reason."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def last_error(self) -> str:
        errors = [r for r in self.records if r.levelno >= logging.ERROR]
        if not errors:
            return ""
        text = " ".join(errors[-1].getMessage().split())
        return text if len(text) <= 240 else text[:239] + "…"

    def replay(self) -> None:
        for record in self.records:
            logging.getLogger(record.name).handle(record)


def describe(path: str | os.PathLike) -> str:
    """One line per graph input/output of an ONNX file: name, element type, shape."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    lines = [f"{Path(path).name}: opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, producer "
             f"{m.producer_name} {m.producer_version.replace(' None', '')}".rstrip()]
    for kind, items in (("input", m.graph.input), ("output", m.graph.output)):
        for v in items:
            dims = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in v.type.tensor_type.shape.dim]
            dtype = onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type).lower()
            lines.append(f"  {kind:6s} {v.name}  {dtype}  {dims}")
    return "\n".join(lines)
