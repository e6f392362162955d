"""The ``trtlab`` command: a thin layer over the package's functions.

Every command exits non-zero with a one-line reason on bad input (``trtlab CMD: error: …``),
never with a traceback for a user mistake.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, NoReturn

from .common import UserError

EPILOG = """\
The workbook, in order:
  trtlab env                      what this machine has (chapter 0)
  trtlab book                     run every chapter and render the site into build/html
  trtlab convert lenet.pb -o lenet.onnx          TensorFlow -> ONNX (was: convert-to-uff)
  trtlab quantize lenet.onnx --precision int8 -o lenet_int8.onnx   Q/DQ for INT8/FP8/INT4
  trtlab build lenet.onnx -o lenet.engine        ONNX -> engine + JSON sidecar
  trtlab inspect lenet.engine     what the engine holds and whether it runs here
  trtlab bench lenet.engine       throughput, latency, efficiency, accuracy, memory
  trtlab compare lenet.onnx lenet.engine         the same inputs through both; errors per output
  trtlab serve lenet.engine       the engine on a real Triton server (chapter 11)
  trtlab migrate my_trt7_script.py               legacy TensorRT calls and their replacements
  trtlab lab                      open the notebooks in JupyterLab
"""


# --- env -------------------------------------------------------------------------------
def _env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def cmd_env(args: argparse.Namespace) -> int:
    from . import env

    report = env.report()
    print(json.dumps(report.as_dict(), indent=2) if args.json else env.format_report(report))
    return 0


# --- book ------------------------------------------------------------------------------
def _book_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", metavar="NAME", help="run only notebooks whose name contains NAME; several with commas (e.g. 00,01 or inference)")
    p.add_argument("--out", metavar="DIR", type=Path, default=Path("build"),
                   help="output folder: DIR/notebooks (executed) and DIR/html (site); default build")
    p.add_argument("--artifacts", metavar="DIR", type=Path, default=None,
                   help="folder notebooks share models/engines through (default: artifacts/)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell before giving up (default 600)")
    p.add_argument("--check-translations", action="store_true",
                   help="run nothing: list each page's untranslated and fuzzy messages (locales/zh_TW); exit 1 if any")
    p.add_argument("--update-translations", action="store_true",
                   help="run nothing: merge the notebooks' current English text into the locales/ catalogs")


def cmd_book(args: argparse.Namespace) -> int:
    from . import book, site
    from .common import check_output

    if args.timeout < 1:
        raise UserError(f"--timeout is seconds per cell and must be at least 1, not {args.timeout}")
    if args.timeout > 10**7:  # beyond what the kernel client's timers take
        raise UserError(f"--timeout is seconds per cell and must be at most 10000000, not {args.timeout}")
    # before anything runs: the executed copies must not land on the sources (--out .) or anything odd
    for src in book.notebooks(None):
        check_output(args.out / "notebooks" / src.name, (src,), "--out")
    check_output(args.out / "book.json", (), "--out")

    if args.check_translations or args.update_translations:
        import tempfile

        from . import render

        with tempfile.TemporaryDirectory(prefix="trtlab-gettext-") as work:
            if args.update_translations:
                for po in render.update_catalogs(Path(work)):
                    print(f"updated {po.relative_to(render.LOCALES.parent)}")
                return 0
            return render.print_check(render.check_catalogs(pot_dir=render.extract_messages(Path(work))),
                                      only=args.only)
    return site.build_book(only=args.only, out=args.out, artifacts=args.artifacts, timeout=args.timeout)


# --- convert ---------------------------------------------------------------------------
def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="a frozen GraphDef .pb, a SavedModel folder or a .keras file")
    p.add_argument("-o", "--output", type=Path, required=True, help="the ONNX file to write")
    p.add_argument("--inputs", nargs="+", metavar="NAME",
                   help="input node names (default: the graph's Placeholder nodes)")
    p.add_argument("--outputs", nargs="+", metavar="NAME",
                   help="output node names (default: the nodes nothing consumes)")
    p.add_argument("--nchw", action="store_true",
                   help="make NHWC image inputs NCHW in the ONNX graph (TensorRT's layout)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--trust-savedmodel", action="store_true",
                   help="allow a SavedModel folder: loading one runs its own TensorFlow initializers, so use "
                        "this only for a SavedModel you trust (frozen .pb files are only parsed; .keras files "
                        "load in Keras's safe mode, which runs no Lambda code)")


def cmd_convert(args: argparse.Namespace) -> int:
    from . import convert

    out = convert.to_onnx(args.model, args.output, inputs=args.inputs, outputs=args.outputs,
                          nchw=args.nchw, opset=args.opset, trust_savedmodel=args.trust_savedmodel)
    print(convert.describe(out))
    print(f"wrote {out}")
    return 0


# --- quantize --------------------------------------------------------------------------
def _quantize_args(p: argparse.ArgumentParser) -> None:
    from .quantize import DEFAULT_SAMPLES, INT4_BLOCK, METHODS, PRECISIONS, TOOLS

    p.add_argument("model", type=Path, help="the FP32 ONNX model")
    p.add_argument("--precision", required=True, choices=PRECISIONS, help="int8, fp8 (E4M3) or int4 (weight-only blocks)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the Q/DQ ONNX model to write")
    p.add_argument("--calibration-data", type=Path, metavar="FILE.npy",
                   help="float32 array shaped like the model's input (default: MNIST training digits)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help=f"calibration samples to use (default {DEFAULT_SAMPLES})")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="calibration method (default: minmax for ort; ModelOpt's own default for modelopt)")
    p.add_argument("--tool", choices=TOOLS, default="ort",
                   help="ort: ONNX Runtime's quantizer (default); modelopt: NVIDIA ModelOpt (trtlab[modelopt])")
    p.add_argument("--block-size", type=int, default=INT4_BLOCK, help=f"INT4 block size along K (default {INT4_BLOCK})")


def cmd_quantize(args: argparse.Namespace) -> int:
    from . import quantize

    report = quantize.quantize(args.model, args.output, args.precision, calibration=args.calibration_data,
                               samples=args.samples, tool=args.tool, method=args.method, block_size=args.block_size)
    print(report.text())
    return 0


# --- build -----------------------------------------------------------------------------
def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the ONNX model")
    p.add_argument("-o", "--output", type=Path, required=True, help="the engine file to write (sidecar: OUT.json)")
    p.add_argument("--max-batch", type=int, default=64, help="largest batch of the optimization profile (default 64)")
    p.add_argument("--opt-batch", type=int, default=None, help="batch the profile is tuned for (default: max)")
    p.add_argument("--workspace", type=int, default=256, metavar="MIB", help="workspace pool limit in MiB (default 256)")
    p.add_argument("--fp16", action="store_true", help="strongly typed FP16: cast weights and I/O to half")
    p.add_argument("--opt-level", type=int, default=3, choices=range(0, 6), metavar="K",
                   help="builder optimization level 0-5 (default 3)")
    p.add_argument("--target", action="append", metavar="CC", dest="targets",
                   help="TensorRT-RTX: target compute capability (7.5, 8.0, 8.6, 8.9, 12.0, 12.1, current); "
                        "repeat for several (default: 'current' when TensorRT-RTX runs on this machine's GPU, "
                        "else the backend's portable set, which leaves out 7.5)")
    p.add_argument("--progress", action="store_true", help="show the builder's progress (IProgressMonitor)")


def cmd_build(args: argparse.Namespace) -> int:
    from . import build, engine_file
    from .common import check_output

    _int_range("--max-batch", args.max_batch, 1, 2**31 - 1)  # TensorRT dims and profile shapes
    if args.opt_batch is not None:
        _int_range("--opt-batch", args.opt_batch, 1, 2**31 - 1)
    _int_range("--workspace", args.workspace, 1, (2**63 - 1) >> 20)  # MiB, as bytes in a size_t
    import os

    model = () if os.path.isdir(args.model) else (args.model,)  # a folder is refused as a model later
    side = engine_file.sidecar_path(args.output)
    if model and _same_file(args.output, args.model):  # the words engine_file.save uses, before the build
        raise UserError(f"{args.output} is the model the engine was built from: saving there would overwrite it; "
                        f"give the engine another name (e.g. {args.output.with_suffix('.engine').name})")
    if os.path.isdir(side) and not os.path.islink(side):
        raise UserError(f"{side} is a folder, and the sidecar of {args.output.name} must be written there: "
                        "remove it or pick another name")
    for out in (args.output, side):  # before the build, not after it
        check_output(out, model, "-o")
    options = build.BuildOptions(max_batch=args.max_batch, opt_batch=args.opt_batch, workspace_mib=args.workspace,
                                 opt_level=args.opt_level, fp16=args.fp16, progress=args.progress,
                                 compute_capabilities=tuple(args.targets) if args.targets else None)
    try:
        built = build.build_onnx(args.model, options)
    except UserError as exc:  # the parser lists one error per line: keep the reason on one line
        raise UserError("; ".join(line.strip() for line in str(exc).splitlines() if line.strip())) from None
    path = engine_file.save(args.output, built)
    targets = ", ".join(built.targets.get("compute_capabilities") or []) or "?"
    shapes = f"batch {options.min_batch}..{options.max_batch}" if built.profiles else "static shapes, no profile"
    print(f"{path}: {built.size} bytes, built in {built.seconds:.2f} s with {built.backend} {built.version} "
          f"({'fp16' if args.fp16 else 'fp32'}, {shapes}, "
          f"targets {targets}); sidecar {engine_file.sidecar_path(path).name}")
    for note in built.notes:
        print(f"note: {note}")
    return 0


# --- inspect ---------------------------------------------------------------------------
def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("engine", type=Path, help="an engine file written by trtlab build")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--cc", metavar="X.Y", help="judge it for a GPU of this compute capability instead of this machine's")


def cmd_inspect(args: argparse.Namespace) -> int:
    from . import engine_file

    if not args.engine.exists():  # a folder: the module says what it is
        raise UserError(f"{args.engine}: no such engine file")
    gpu = engine_file.gpu_of_cc(args.cc) if args.cc else None
    report = engine_file.inspect(args.engine, gpu=gpu)
    print(json.dumps(report, indent=2) if args.json else engine_file.format_inspect(report))
    verdict = report["verdict"]
    # A bad file, or one that does not fit the GPU asked about, fails; a machine without a GPU does not.
    if not (verdict["intact"] and verdict["compatible"]) or (gpu is not None and verdict["reasons"]):
        raise UserError(verdict["reasons"][0])
    return 0


# --- bench -----------------------------------------------------------------------------
def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("engine", type=Path, help="an engine file written by trtlab build")
    p.add_argument("--batch", default=None, help="comma-separated batch sizes (default: the batches the engine "
                   "accepts: its fixed batch, or 1, opt and max of its profile)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the table as JSON")
    p.add_argument("--iters", type=int, default=50, help="timed iterations per batch size (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up iterations (default 5)")


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    batches = bench.parse_batches(args.batch) if args.batch is not None else None
    if args.iters < 1 or args.warmup < 0:
        raise UserError(f"--iters must be >= 1 and --warmup >= 0 (got {args.iters}, {args.warmup})")
    if not args.engine.exists():  # a folder: the module says what it is
        raise UserError(f"{args.engine}: no such engine file")
    inputs = _bench_inputs(args.engine)
    if args.json:  # before the benchmark runs, not after: where the table goes must be writable
        from .common import check_output, output_folder

        if any(_same_file(args.json, p) for p in inputs[:2]):
            raise UserError(f"--json {args.json} would overwrite the engine or its sidecar: give another name")
        check_output(args.json, inputs, "--json")
        _writable_folder(output_folder(args.json.parent), "--json")
    report = bench.bench_engine(args.engine, batches, warmup=args.warmup, iters=args.iters)
    print(report.text())
    if args.json:
        from .common import safe_write

        safe_write(args.json, (json.dumps(report.as_dict(), indent=2) + "\n").encode(), inputs, "--json")
        print(f"\nwrote {args.json}")
    return 0


# --- compare ---------------------------------------------------------------------------
def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", type=Path, metavar="A", help="an ONNX model or an engine file written by trtlab build")
    p.add_argument("b", type=Path, metavar="B", help="the same; relative errors are measured against B")
    p.add_argument("--inputs", type=Path, metavar="FILE.npz", help="the inputs, one named array per model input "
                   "(default: Polygraphy's seeded DataLoader, batch 8)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    p.add_argument("--runner", choices=["onnxrt", "reference"], default="onnxrt",
                   help="what runs an ONNX model: ONNX Runtime or trtlab's CPU reference (default onnxrt)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def cmd_compare(args: argparse.Namespace) -> int:
    from . import compare

    report = compare.compare(args.a, args.b, inputs=args.inputs, atol=args.atol, rtol=args.rtol, runner=args.runner)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return report.exit_code


def _bench_inputs(engine: Path) -> tuple[Path, ...]:
    """The files ``bench`` reads: the engine, its sidecar and the source model the sidecar names."""
    from .engine_file import sidecar_path

    found: list[Path] = [engine, sidecar_path(engine)]
    try:
        side = json.loads(sidecar_path(engine).read_text(encoding="utf-8"))
        model = side.get("source_model") if isinstance(side, dict) else None
        if isinstance(model, dict):
            model = model.get("path")
        if isinstance(model, str) and model and "\0" not in model and len(model) < 4096:
            found.append((engine.parent / model) if not Path(model).is_absolute() else Path(model))
    except (OSError, ValueError, RecursionError):
        pass  # the benchmark's own checks say what is wrong with the sidecar
    return tuple(found)


def _same_file(a: Path, b: Path) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _writable_folder(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder`` now, so an unwritable place fails before long work."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".trtlab-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{what}: cannot write in {folder} ({exc.strerror or exc})") from None


def _int_range(flag: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise UserError(f"{flag} must be between {lo} and {hi}, not {value}")


# --- migrate ---------------------------------------------------------------------------
def _migrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=".py/.ipynb files or folders")
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--target", choices=["10", "11", "rtx"], default="11", help="TensorRT to migrate to (default 11)")
    p.add_argument("--fix", action="store_true",
                   help="apply the purely mechanical rewrites; the original is kept as FILE.bak "
                        "(FILE.bak.1, .2 … when that exists: no backup is ever replaced)")
    p.add_argument("--fix-read-only", action="store_true",
                   help="with --fix, also change files that are read-only (refused otherwise)")


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import migrate

    if args.fix_read_only and not args.fix:
        raise UserError("--fix-read-only only goes with --fix")
    return migrate.main(args.paths, target=args.target, as_json=args.json, fix=args.fix,
                        read_only=args.fix_read_only)


# --- lab -------------------------------------------------------------------------------
def _lab_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")


def cmd_lab(args: argparse.Namespace) -> int:
    from . import site

    return site.run_lab(port=args.port, open_browser=not args.no_browser)


# --- serve -----------------------------------------------------------------------------
def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("engine", type=Path, help="an engine file saved with its sidecar (trtlab build)")
    p.add_argument("--port", type=int, default=8000,
                   help="HTTP port on 127.0.0.1; gRPC is PORT+1, metrics PORT+2 (default 8000; 0 picks free ports)")
    p.add_argument("--max-batch", type=int, default=None, metavar="B",
                   help="the largest batch Triton forms (default: the engine profile's max)")
    p.add_argument("--instances", type=int, default=1, metavar="K", help="model instances (default 1)")
    p.add_argument("--queue-delay-us", type=int, default=100, metavar="D",
                   help="dynamic batching: how long a request may wait for others, in microseconds (default 100)")
    p.add_argument("--no-batching", action="store_true", help="turn dynamic batching off")
    p.add_argument("--repository", type=Path, default=None, metavar="DIR",
                   help="where to write the model repository (default artifacts/serve/repository-PORT)")
    p.add_argument("--cpu", action="store_true", help="serve the source model on the CPU even where the engine runs")


def cmd_serve(args: argparse.Namespace) -> int:
    from . import serve

    return serve.serve(args.engine, port=args.port, max_batch=args.max_batch, instances=args.instances,
                       queue_delay_us=None if args.no_batching else args.queue_delay_us,
                       repository=args.repository, cpu=args.cpu)


EXAMPLES = {
    "env": """\
examples:
  trtlab env                 one line per component with a verdict (ok, missing, unsupported, info)
  trtlab env --json | jq .   the same as JSON, for scripts

The last line says whether this machine builds engines, runs them, or neither, and why.""",
    "book": """\
examples:
  trtlab book                          every chapter, in order -> build/html/index.html
  trtlab book --only 04                one chapter (name contains 04); the index keeps the other rows
  trtlab book --only 00,01 --out /tmp/book
  trtlab book --check-translations     which zh-TW pages still have untranslated or fuzzy messages
  trtlab book --check-translations --only 08   and the messages of chapter 08 still to translate
  trtlab book --update-translations    after editing a notebook: new English messages into locales/

A failing cell stops the run: the chapters after it are marked 'not run', the site is still
written, and the exit status is 1. Kernel output (TensorRT's C++ log) goes to DIR/logs/.""",
    "convert": """\
examples:
  trtlab convert lenet.pb -o lenet.onnx --nchw          frozen graph: inputs and outputs found by themselves
  trtlab convert lenet.pb -o cut.onnx --outputs lenet_1/fc1_1/Relu   stop at an inner node
  trtlab convert saved_model/ -o model.onnx --trust-savedmodel   a SavedModel folder you trust (it runs code)
  trtlab convert lenet.keras -o lenet.onnx              a Keras 3 file

Loading a SavedModel runs its own TensorFlow initializers, so it is refused without
--trust-savedmodel; frozen .pb files are only parsed and .keras files load in safe mode.
The guide's convert-to-uff did this for UFF; UFF is gone, ONNX is what TensorRT parses now.
The ONNX file is written only when the conversion succeeded.""",
    "quantize": """\
examples:
  trtlab quantize lenet.onnx --precision int8 -o lenet_int8.onnx       512 training digits, min-max
  trtlab quantize lenet.onnx --precision fp8 --samples 64 -o lenet_fp8.onnx
  trtlab quantize lenet.onnx --precision int8 --calibration-data calib.npy --method entropy -o q.onnx
  trtlab quantize lenet.onnx --precision int4 -o lenet_int4.onnx       weight-only, no calibration
  trtlab quantize lenet.onnx --precision fp8 --tool modelopt -o q.onnx  needs pip install 'trtlab[modelopt]'

Replaces the guide's builder.int8_mode and IInt8EntropyCalibrator2: the scales go into the model as
QuantizeLinear/DequantizeLinear pairs, and 'trtlab build OUT.onnx' builds what they say.
Calibration never uses the test digits. OUT is written only when quantization succeeded.""",
    "build": """\
examples:
  trtlab build lenet.onnx -o lenet.engine                   batch 1..64, tuned for 64
  trtlab build lenet.onnx -o lenet.engine --max-batch 8 --opt-batch 1 --workspace 64
  trtlab build lenet.onnx -o lenet_fp16.engine --fp16       FP16 by types (strong typing)
  trtlab build lenet.onnx -o sm86.engine --target 8.6       TensorRT-RTX: for one GPU family, no GPU needed

Writes OUT and its sidecar OUT.json (backend, version, targets, shapes, sha256), both
atomically; 'trtlab inspect OUT' reads them back.""",
    "inspect": """\
examples:
  trtlab inspect lenet.engine              can this machine load it, and if not why
  trtlab inspect lenet.engine --cc 8.6     would it load on a GPU of compute capability 8.6
  trtlab inspect lenet.engine --json

Exits 2 when the file is damaged, does not match this TensorRT, or does not fit the GPU
asked about with --cc; a machine without a GPU alone is not a failure.""",
    "bench": """\
examples:
  trtlab bench lenet.engine                        batches 1, opt and max of its profile
  trtlab bench lenet.engine --batch 1,32 --iters 200 --json bench.json

Batch sizes must lie within the engine's optimization profile. On a machine that cannot run
the engine, the same network runs on the CPU reference, labelled as such, never as TensorRT.""",
    "compare": """\
examples:
  trtlab compare lenet.onnx lenet.onnx                       identical: every error 0, exit 0
  trtlab compare lenet.onnx lenet_fp16.engine --atol 1e-2 --rtol 1e-2
  trtlab compare a.onnx b.onnx --inputs golden_inputs.npz --runner reference

An element fails when |A-B| > atol and |A-B|/|B| > rtol (Polygraphy's elementwise check).
Exit status: 0 within tolerance, 1 beyond it, 2 bad input (missing or corrupt file, inputs or
outputs that differ by name, shape or dtype, an inputs file lacking a tensor). An engine that
cannot run here is replaced by its source model on the CPU reference, and the report says so.""",
    "migrate": """\
examples:
  trtlab migrate my_trt7_script.py         each legacy call, its replacement and the version that removed it
  trtlab migrate src/ notebooks/ --json    folders are searched for .py and .ipynb files
  trtlab migrate old.py --fix              apply the mechanical renames; old.py.bak keeps the original

Exit status: 0 nothing found, 1 findings, 2 a file could not be checked or fixed.""",
    "serve": """\
examples:
  trtlab serve lenet.engine                         HTTP :8000, gRPC :8001, metrics :8002 on 127.0.0.1
  trtlab serve lenet.engine --port 9000 --instances 2 --queue-delay-us 500
  trtlab serve lenet.engine --no-batching

Writes a Triton model repository from the engine's sidecar and starts the tritonserver bundled in
the nvidia-pytriton wheel (Python backend). The model runs the engine with TensorRT where this
machine can, else the engine's source ONNX model on ONNX Runtime (CPU) — the output says which.
Ctrl-C or SIGTERM stops the server and every process it started.""",
    "lab": """\
examples:
  trtlab lab                               http://127.0.0.1:8888, opens a browser
  trtlab lab --port 8890 --no-browser      then open the printed URL (it carries the token)

Listens on 127.0.0.1 only; on a remote machine forward the port first (ssh -L 8888:127.0.0.1:8888 host).
Stop it with Ctrl-C twice.""",
}


COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    ("env", "the chapter-0 environment report: what this machine has and can do", _env_args, cmd_env),
    ("book", "execute every notebook in order and render the HTML site", _book_args, cmd_book),
    ("convert", "TensorFlow (frozen .pb, SavedModel, .keras) -> ONNX; the stand-in for convert-to-uff",
     _convert_args, cmd_convert),
    ("quantize", "ONNX -> INT8/FP8/INT4 Q/DQ ONNX, calibrated on the CPU (was: builder.int8_mode + calibrator)",
     _quantize_args, cmd_quantize),
    ("build", "ONNX -> TensorRT engine file with a JSON sidecar", _build_args, cmd_build),
    ("inspect", "what an engine file holds and whether it can run on this machine", _inspect_args, cmd_inspect),
    ("bench", "the five metrics of chapter 1 for one engine", _bench_args, cmd_bench),
    ("compare", "run two ONNX models/engines on the same inputs and compare their outputs (Polygraphy)",
     _compare_args, cmd_compare),
    ("migrate", "find legacy TensorRT 5-8 calls in .py/.ipynb files and say what replaces them",
     _migrate_args, cmd_migrate),
    ("serve", "serve an engine on a real Triton Inference Server on 127.0.0.1", _serve_args, cmd_serve),
    ("lab", "open the notebooks in JupyterLab", _lab_args, cmd_lab),
]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error, like every other error of the command."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="trtlab", description="The 'Tensor to TensorRT' workbook and toolkit.",
                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    ap.add_argument("--version", action="version", version=f"trtlab {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_args, func in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES.get(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(p)
        p.set_defaults(func=func, parser=p)
    return ap


def _robust_streams() -> None:
    """Whatever the terminal or locale (ASCII, C), a character it cannot show becomes an escape, not a
    UnicodeEncodeError; file names that are not UTF-8 print as escapes too."""
    import os

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the descriptor closed (`trtlab env >&-`)
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
        try:
            getattr(sys, name).reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _mute_stdout() -> None:
    """After stdout failed (``>/dev/full``, a closed pipe): drop what is still buffered, so the
    interpreter's exit does not print a traceback of its own."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    _robust_streams()
    ap = parser()
    args, extra = ap.parse_known_args(argv)
    if extra:  # name the command they were given to: "trtlab env: error: unrecognized arguments: …"
        getattr(args, "parser", ap).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, where a full disk or closed pipe can still be one line
        return code
    except UserError as exc:
        print(f"trtlab {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"trtlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `trtlab env --json | head`
        _mute_stdout()
        sys.stderr.close()
        return 0
    except OSError as exc:  # the system refused something no check foresaw: still one line
        _mute_stdout()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else " (writing the output)"
        print(f"trtlab {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"trtlab {args.command}: error: the input is nested too deeply to process", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
