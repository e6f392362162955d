"""Two models or engines on the same inputs, compared through Polygraphy's comparator.

    report = compare("lenet.onnx", "lenet_fp16.engine", atol=1e-2, rtol=1e-2)
    print(report.text()); sys.exit(report.exit_code)

Each side is an ONNX model or an engine file written by ``trtlab build``:

* an ONNX model runs on ONNX Runtime (Polygraphy's ``OnnxrtRunner``), or on trtlab's CPU
  reference (``runner="reference"``: the parsed ``INetworkDefinition`` evaluated by NumPy);
* an engine runs on TensorRT where this machine can run it, else its source model (named in the
  sidecar) runs on the CPU reference, and the side's label says so.

Both sides are Polygraphy runners (``BaseRunner``); ``Comparator.run`` feeds them the same inputs
(a ``.npz`` file, or Polygraphy's seeded ``DataLoader``) and ``Comparator.compare_accuracy`` with
``SimpleCompareFunc`` (``CompareFunc.simple`` before Polygraphy 0.53) judges each output. An element is *beyond tolerance* when both its
absolute error exceeds ``atol`` and its error relative to side B exceeds ``rtol`` — Polygraphy's
``elemwise`` rule; the report adds the share of such elements.

Exit codes: 0 every output within tolerance, 1 some output beyond it, 2 bad input (missing or
corrupt file, inputs/outputs that do not match by name, shape or dtype, an inputs file that lacks
a tensor) — a ``UserError`` with one line.
"""
from __future__ import annotations

import contextlib
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .common import UserError

ONNX_SUFFIXES = (".onnx",)
DEFAULT_ATOL = 1e-5  # Polygraphy's own defaults
DEFAULT_RTOL = 1e-5
DEFAULT_BATCH = 8  # a dynamic batch dimension, when no inputs file is given


@dataclass(frozen=True)
class Tensor:
    """One input or output as a side declares it: -1 for a dynamic dimension."""
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    min_shape: tuple[int, ...] | None = None
    max_shape: tuple[int, ...] | None = None

    def text(self) -> str:
        dims = ", ".join("?" if d < 0 else str(d) for d in self.shape)
        return f"({dims}) {self.dtype}"


def _runner_classes() -> tuple[type, type]:
    """Polygraphy runners for trtlab's CPU reference and for a trtlab engine session (made on first use,
    so importing trtlab does not import Polygraphy)."""
    global _REFERENCE_RUNNER, _SESSION_RUNNER
    if _REFERENCE_RUNNER is not None:
        return _REFERENCE_RUNNER, _SESSION_RUNNER
    from polygraphy.backend.base import BaseRunner
    from polygraphy.common import TensorMetadata

    def metadata(tensors: list[Tensor]) -> Any:
        meta = TensorMetadata()
        for t in tensors:
            meta.add(t.name, t.dtype, list(t.shape))
        return meta

    class ReferenceRunner(BaseRunner):
        """An ONNX model parsed by TensorRT's ``OnnxParser`` and evaluated by ``trtlab.reference`` (NumPy)."""

        def __init__(self, path: str | os.PathLike, inputs: list[Tensor], name: str | None = None):
            super().__init__(name=name, prefix="trtlab-reference")
            self.path, self._inputs, self._parsed = Path(path), inputs, None

        def activate_impl(self) -> None:
            from . import parse

            self._parsed = parse.parse_onnx(self.path, quiet=True)  # builder, network, parser: kept together

        def get_input_metadata_impl(self) -> Any:
            return metadata(self._inputs)

        def infer_impl(self, feed_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            import time

            from . import reference

            start = time.perf_counter()
            out = reference.evaluate(self._parsed[1], {k: np.asarray(v) for k, v in feed_dict.items()})
            self.inference_time = time.perf_counter() - start
            return {k: np.asarray(v) for k, v in out.items()}

        def deactivate_impl(self) -> None:
            self._parsed = None

    class SessionRunner(BaseRunner):
        """An engine file through ``trtlab.runtime.open_runner``: TensorRT where it can run, else its
        source model on the CPU reference (the runner's ``label``/``why`` say which)."""

        def __init__(self, session: Any, inputs: list[Tensor], name: str | None = None):
            super().__init__(name=name, prefix="trtlab-engine")
            self.session, self._inputs = session, inputs  # session: a runtime.Runner

        def activate_impl(self) -> None:
            pass  # the runner is open already: opening it is how its I/O was read

        def get_input_metadata_impl(self) -> Any:
            return metadata(self._inputs)

        def infer_impl(self, feed_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            import time

            start = time.perf_counter()
            out = self.session.infer_all(dict(feed_dict))
            self.inference_time = time.perf_counter() - start
            return out

        def deactivate_impl(self) -> None:
            self.session.close()

    _REFERENCE_RUNNER, _SESSION_RUNNER = ReferenceRunner, SessionRunner
    return ReferenceRunner, SessionRunner


_REFERENCE_RUNNER: Any = None
_SESSION_RUNNER: Any = None


@dataclass
class Side:
    """One thing being compared: what it is, what it runs on, what it takes and returns."""
    path: Path
    kind: str  # "onnx" | "engine"
    runs_on: str  # "ONNX Runtime", "CPU reference", "TensorRT"
    inputs: list[Tensor]
    outputs: list[Tensor]
    note: str = ""
    session: Any = None  # an engine's runtime.Runner (from runtime.open_runner)

    def label(self, letter: str) -> str:
        return f"{letter}: {self.path.name} on {self.runs_on}"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a model or engine file")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file (a device, pipe or socket)")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty")


def _onnx_dtype(elem_type: int, where: str) -> np.dtype:
    from onnx import helper

    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        raise UserError(f"{where}: ONNX element type {elem_type} has no NumPy equivalent") from None


def _onnx_tensors(values: Any, skip: set[str], where: str) -> list[Tensor]:
    found = []
    for v in values:
        if v.name in skip:
            continue
        tt = v.type.tensor_type
        if not tt.HasField("shape"):
            raise UserError(f"{where}: tensor {v.name!r} has no declared shape (rank unknown)")
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
        found.append(Tensor(v.name, shape, _onnx_dtype(tt.elem_type, where)))
    return found


def _looks_like_onnx(path: Path) -> bool:
    if path.suffix.lower() in ONNX_SUFFIXES:
        return True
    if path.suffix.lower() in (".engine", ".plan", ".trt"):
        return False
    return not (path.parent / (path.name + ".json")).exists() and not path.with_suffix(".json").exists()


def open_side(path: str | os.PathLike, runner: str = "onnxrt") -> Side:
    """Read what ``path`` is (ONNX model or engine) and what it takes and returns; one-line UserError otherwise."""
    path = Path(path)
    _check_file(path)
    if _looks_like_onnx(path):
        import onnx

        try:
            model = onnx.load(str(path))
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{path}: not a readable ONNX model ({reason[:160]})") from None
        graph = model.graph
        if not graph.output:
            raise UserError(f"{path}: not an ONNX model (no graph outputs: is it really ONNX?)")
        initializers = {i.name for i in graph.initializer}
        inputs = _onnx_tensors(graph.input, initializers, str(path))
        outputs = _onnx_tensors(graph.output, set(), str(path))
        runs_on = {"onnxrt": "ONNX Runtime", "reference": "CPU reference"}.get(runner)
        if runs_on is None:
            raise UserError(f"runner must be 'onnxrt' or 'reference', not {runner!r}")
        return Side(path, "onnx", runs_on, inputs, outputs)
    from . import runtime

    session = runtime.open_runner(path)  # checks the file: truncated, corrupt, wrong backend -> UserError
    specs = session.specs
    tensors = [Tensor(s.name, tuple(int(d) for d in s.shape), np.dtype(s.dtype),
                      tuple(s.min_shape) if s.min_shape is not None else None,
                      tuple(s.max_shape) if s.max_shape is not None else None) for s in specs]
    inputs = [t for t, s in zip(tensors, specs) if s.is_input]
    outputs = [t for t, s in zip(tensors, specs) if not s.is_input]
    if session.on_gpu:
        return Side(path, "engine", session.label, inputs, outputs, session=session)
    note = (f"{path.name} cannot run here ({session.why}): its source model "
            f"{Path(session.source).name} runs on the {session.label} instead")
    return Side(path, "engine", session.label, inputs, outputs, note=note, session=session)


def _shapes_agree(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return len(a) == len(b) and all(x < 0 or y < 0 or x == y for x, y in zip(a, b))


def check_match(a: Side, b: Side) -> None:
    """Inputs and outputs must agree by name, dtype and (where both are fixed) shape."""
    for what in ("inputs", "outputs"):
        ta, tb = {t.name: t for t in getattr(a, what)}, {t.name: t for t in getattr(b, what)}
        if set(ta) != set(tb):
            only_a, only_b = sorted(set(ta) - set(tb)), sorted(set(tb) - set(ta))
            raise UserError(f"the {what} differ by name: A {a.path.name} has {sorted(ta)}, B {b.path.name} has "
                            f"{sorted(tb)} (only in A: {only_a}, only in B: {only_b})")
        for name in ta:
            x, y = ta[name], tb[name]
            if x.dtype != y.dtype:
                raise UserError(f"{what[:-1]} {name!r} differs by dtype: A {x.text()}, B {y.text()}")
            if not _shapes_agree(x.shape, y.shape):
                raise UserError(f"{what[:-1]} {name!r} differs by shape: A {x.text()}, B {y.text()}")


def _merged_inputs(a: Side, b: Side) -> list[Tensor]:
    """Each input with the tighter of the two declarations (a fixed dimension wins over a dynamic one)."""
    by_b = {t.name: t for t in b.inputs}
    merged = []
    for t in a.inputs:
        u = by_b[t.name]
        shape = tuple(x if x >= 0 else y for x, y in zip(t.shape, u.shape))
        lo = t.min_shape or u.min_shape
        hi = t.max_shape or u.max_shape
        merged.append(Tensor(t.name, shape, t.dtype, lo, hi))
    return merged


INPUTS_LIMIT = 4 << 30  # bytes of unpacked --inputs arrays (a small .npz can unpack to far more)


def load_inputs(path: str | os.PathLike, inputs: list[Tensor]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, one per input, checked against the declarations (UserError, one line)."""
    path = Path(path)
    _check_file(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise UserError(f"{path}: a single .npy array, not an .npz file of named arrays "
                                "(write one with numpy.savez(path, name=array, ...))")
            unpacked = sum(info.file_size for info in data.zip.infolist())  # a read stops at the declared size
            if unpacked > INPUTS_LIMIT:
                raise UserError(f"{path}: its arrays unpack to {unpacked / 2**30:,.1f} GiB; compare reads at most "
                                f"{INPUTS_LIMIT >> 30} GiB of inputs")
            arrays = {k: data[k] for k in data.files}
    except UserError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({str(exc).strip().splitlines()[0][:120] or type(exc).__name__})") from None
    feeds = {}
    for t in inputs:
        if t.name not in arrays:
            raise UserError(f"{path} has no array named {t.name!r} (it holds {sorted(arrays)}); "
                            f"the models take {[i.name for i in inputs]}")
        x = arrays[t.name]
        if x.dtype != t.dtype:
            raise UserError(f"{path}: array {t.name!r} is {x.dtype}, the models take {t.text()}")
        if not _shapes_agree(tuple(x.shape), t.shape):
            raise UserError(f"{path}: array {t.name!r} has shape {tuple(x.shape)}, the models take {t.text()}")
        if t.min_shape is not None and t.max_shape is not None and not all(
                lo <= n <= hi for n, lo, hi in zip(x.shape, t.min_shape, t.max_shape)):
            raise UserError(f"{path}: array {t.name!r} has shape {tuple(x.shape)}, outside the engine's "
                            f"optimization profile {tuple(t.min_shape)}..{tuple(t.max_shape)}")
        feeds[t.name] = x
    extra = sorted(set(arrays) - {t.name for t in inputs})
    if extra:
        raise UserError(f"{path} holds arrays the models do not take: {extra} (their inputs: "
                        f"{[t.name for t in inputs]})")
    return feeds


def _concrete(t: Tensor, batch: int) -> list[int]:
    shape = []
    for i, d in enumerate(t.shape):
        if d >= 0:
            shape.append(d)
            continue
        want = batch if i == 0 else 1
        if t.min_shape is not None and t.max_shape is not None:
            want = min(max(want, t.min_shape[i]), t.max_shape[i])
        shape.append(want)
    return shape


@dataclass
class OutputResult:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    beyond: int
    count: int
    passed: bool

    @property
    def share_beyond(self) -> float:
        return self.beyond / self.count if self.count else 0.0


@dataclass
class Report:
    a: str
    b: str
    atol: float
    rtol: float
    inputs_from: str
    outputs: list[OutputResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "atol": self.atol, "rtol": self.rtol, "inputs": self.inputs_from,
                "passed": self.passed, "notes": self.notes,
                "outputs": [{"name": o.name, "shape": list(o.shape), "max_abs_error": o.max_abs,
                             "max_rel_error": o.max_rel, "beyond_tolerance": o.beyond, "elements": o.count,
                             "share_beyond": o.share_beyond, "passed": o.passed} for o in self.outputs]}

    def text(self) -> str:
        lines = [f"A  {self.a}", f"B  {self.b}", f"inputs: {self.inputs_from}",
                 f"tolerance: an element fails when |A-B| > atol={self.atol:g} and |A-B|/|B| > rtol={self.rtol:g}"]
        lines += [f"note: {n}" for n in self.notes]
        width = max([len("output")] + [len(o.name) for o in self.outputs])
        lines.append(f"{'output':<{width}}  {'shape':<14} {'max abs err':>12} {'max rel err':>12} {'beyond tol':>12}  verdict")
        for o in self.outputs:
            share = f"{100 * o.share_beyond:.2f} %"
            lines.append(f"{o.name:<{width}}  {str(o.shape):<14} {o.max_abs:>12.4g} {o.max_rel:>12.4g} {share:>12}  "
                         f"{'PASS' if o.passed else 'FAIL'}")
        lines.append("within tolerance" if self.passed else "BEYOND tolerance")
        return "\n".join(lines)


@contextlib.contextmanager
def _quiet_polygraphy() -> Iterator[None]:
    from polygraphy.logger import G_LOGGER

    with G_LOGGER.verbosity(G_LOGGER.CRITICAL):  # the report says it all, in trtlab's words
        yield


def _runner(side: Side, letter: str, inputs: list[Tensor]) -> Any:
    ReferenceRunner, SessionRunner = _runner_classes()
    name = side.label(letter)
    if side.kind == "engine":
        return SessionRunner(side.session, inputs, name=name)
    if side.runs_on == "CPU reference":
        return ReferenceRunner(side.path, inputs, name=name)
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx

    return OnnxrtRunner(SessionFromOnnx(str(side.path), providers=["CPUExecutionProvider"]), name=name)


def _tolerance(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise UserError(f"--{what} must be a finite number >= 0, not {value}")
    return value


def compare(a: str | os.PathLike, b: str | os.PathLike, *, inputs: str | os.PathLike | None = None,
            atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, runner: str = "onnxrt",
            batch: int = DEFAULT_BATCH, seed: int = 1) -> Report:
    """Run A and B on the same inputs and compare every output (see the module's docstring)."""
    atol, rtol = _tolerance(atol, "atol"), _tolerance(rtol, "rtol")
    if batch < 1:
        raise UserError(f"batch must be >= 1, not {batch}")
    with _quiet_polygraphy():
        return _compare(a, b, inputs, atol, rtol, runner, batch, seed)


def _compare(a: Any, b: Any, inputs: Any, atol: float, rtol: float, runner: str, batch: int, seed: int) -> Report:
    side_a = open_side(a, runner)
    side_b = None
    try:
        side_b = open_side(b, runner)
        check_match(side_a, side_b)
        wanted = _merged_inputs(side_a, side_b)
        from polygraphy.comparator import Comparator, DataLoader
        from polygraphy import comparator as pg_comparator

        if inputs is not None:
            feeds = [load_inputs(inputs, wanted)]
            source = f"{Path(inputs).name} ({', '.join(f'{k} {tuple(v.shape)} {v.dtype}' for k, v in feeds[0].items())})"
            wanted = [Tensor(t.name, tuple(feeds[0][t.name].shape), t.dtype) for t in wanted]
        else:
            meta = {t.name: (t.dtype, _concrete(t, batch)) for t in wanted}
            from polygraphy.common import TensorMetadata

            tm = TensorMetadata()
            for name, (dtype, shape) in meta.items():
                tm.add(name, dtype, shape)
            feeds = DataLoader(seed=seed, iterations=1, input_metadata=tm)
            source = ("Polygraphy DataLoader, seed %d, uniform in [0, 1): " % seed
                      + ", ".join(f"{k} {tuple(s)} {np.dtype(d)}" for k, (d, s) in meta.items()))
        runners = [_runner(side_a, "A", wanted), _runner(side_b, "B", wanted)]
        try:
            results = Comparator.run(runners, data_loader=feeds)
        except UserError:
            raise
        except Exception as exc:  # ORT refusing a model, a reference layer failing ...
            text = str(exc).strip().splitlines()
            raise UserError(f"running the models failed: {(text[0] if text else type(exc).__name__)[:200]}") from None
        # SimpleCompareFunc is CompareFunc.simple's name from Polygraphy 0.53 on (the old one warns)
        simple = getattr(pg_comparator, "SimpleCompareFunc", None) or pg_comparator.CompareFunc.simple
        accuracy = Comparator.compare_accuracy(
            results, compare_func=simple(atol=atol, rtol=rtol, check_error_stat="elemwise"))
        report = Report(side_a.label("A"), side_b.label("B"), atol, rtol, source,
                        notes=[n for n in (side_a.note, side_b.note) if n])
        [(_, iters_a), (_, iters_b)] = list(results.items())
        [by_pair] = list(accuracy)  # one AccuracyResult per compare function: one here
        verdicts = by_pair[(runners[0].name, runners[1].name)]
        for out in side_a.outputs:
            shapes_a = [np.shape(it[out.name]) for it in iters_a]
            shapes_b = [np.shape(it[out.name]) for it in iters_b]
            if shapes_a != shapes_b:  # Polygraphy fails it too; there is no element-wise error to report
                report.notes.append(f"output {out.name!r} has shape {shapes_a[0]} in A but {shapes_b[0]} in B")
                report.outputs.append(OutputResult(out.name, tuple(shapes_a[0]), math.nan, math.nan, 0, 0, False))
                continue
            xs = np.concatenate([np.asarray(it[out.name], dtype=np.float64).ravel() for it in iters_a])
            ys = np.concatenate([np.asarray(it[out.name], dtype=np.float64).ravel() for it in iters_b])
            absdiff = np.abs(xs - ys)
            denom = np.where(ys == 0, np.finfo(np.float64).eps, np.abs(ys))  # Polygraphy's epsilon for 0
            reldiff = absdiff / denom
            beyond = int(np.count_nonzero(((absdiff > atol) | np.isnan(absdiff)) & ((reldiff > rtol) | np.isnan(reldiff))))
            verdict = all(bool(v[out.name]) for v in verdicts)
            stats = [v[out.name] for v in verdicts]
            max_abs = max(float(s.max_absdiff) for s in stats) if stats else float(absdiff.max(initial=0))
            max_rel = max(float(s.max_reldiff) for s in stats) if stats else float(reldiff.max(initial=0))
            report.outputs.append(OutputResult(out.name, tuple(np.asarray(iters_a[0][out.name]).shape),
                                               max_abs, max_rel, beyond, int(xs.size), verdict))
        return report
    finally:
        for side in (side_a, side_b):
            if side is not None and side.session is not None:
                side.session.close()
