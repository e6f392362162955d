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
  trtlab build lenet.onnx -o lenet.engine        ONNX -> engine + JSON sidecar
  trtlab inspect lenet.engine     what the engine holds and whether it runs here
  trtlab bench lenet.engine       throughput, latency, efficiency, accuracy, memory
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


def cmd_book(args: argparse.Namespace) -> int:
    from . import site

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


def cmd_convert(args: argparse.Namespace) -> int:
    from . import convert

    out = convert.to_onnx(args.model, args.output, inputs=args.inputs, outputs=args.outputs,
                          nchw=args.nchw, opset=args.opset)
    print(convert.describe(out))
    print(f"wrote {out}")
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
    p.add_argument("--batch", default="1,8,64", help="comma-separated batch sizes (default 1,8,64)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the table as JSON")
    p.add_argument("--iters", type=int, default=50, help="timed iterations per batch size (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up iterations (default 5)")


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    batches = bench.parse_batches(args.batch)
    if args.iters < 1 or args.warmup < 0:
        raise UserError(f"--iters must be >= 1 and --warmup >= 0 (got {args.iters}, {args.warmup})")
    if not args.engine.exists():  # a folder: the module says what it is
        raise UserError(f"{args.engine}: no such engine file")
    if args.json:  # before the benchmark runs, not after: where the table goes must be writable
        from .common import output_folder
        from .engine_file import sidecar_path

        if args.json.resolve() in (args.engine.resolve(), sidecar_path(args.engine).resolve()):
            raise UserError(f"--json {args.json} would overwrite the engine or its sidecar: give another name")
        if args.json.is_dir():
            raise UserError(f"--json {args.json} is a folder: give the name of the file to write in it")
        output_folder(args.json.resolve().parent)
    report = bench.bench_engine(args.engine, batches, warmup=args.warmup, iters=args.iters)
    print(report.text())
    if args.json:
        report.to_json(args.json)
        print(f"\nwrote {args.json}")
    return 0


# --- migrate ---------------------------------------------------------------------------
def _migrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=".py/.ipynb files or folders")
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--target", choices=["10", "11", "rtx"], default="11", help="TensorRT to migrate to (default 11)")
    p.add_argument("--fix", action="store_true", help="apply the purely mechanical rewrites (writes FILE.bak)")


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import migrate

    return migrate.main(args.paths, target=args.target, as_json=args.json, fix=args.fix)


# --- lab -------------------------------------------------------------------------------
def _lab_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")


def cmd_lab(args: argparse.Namespace) -> int:
    from . import site

    return site.run_lab(port=args.port, open_browser=not args.no_browser)


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

A failing cell stops the run: the chapters after it are marked 'not run', the site is still
written, and the exit status is 1. Kernel output (TensorRT's C++ log) goes to DIR/logs/.""",
    "convert": """\
examples:
  trtlab convert lenet.pb -o lenet.onnx --nchw          frozen graph: inputs and outputs found by themselves
  trtlab convert lenet.pb -o cut.onnx --outputs lenet_1/fc1_1/Relu   stop at an inner node
  trtlab convert saved_model/ -o model.onnx             a SavedModel folder
  trtlab convert lenet.keras -o lenet.onnx              a Keras 3 file

The guide's convert-to-uff did this for UFF; UFF is gone, ONNX is what TensorRT parses now.
The ONNX file is written only when the conversion succeeded.""",
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
  trtlab bench lenet.engine                        batches 1, 8 and 64
  trtlab bench lenet.engine --batch 1,32 --iters 200 --json bench.json

Batch sizes must lie within the engine's optimization profile. On a machine that cannot run
the engine, the same network runs on the CPU reference, labelled as such, never as TensorRT.""",
    "migrate": """\
examples:
  trtlab migrate my_trt7_script.py         each legacy call, its replacement and the version that removed it
  trtlab migrate src/ notebooks/ --json    folders are searched for .py and .ipynb files
  trtlab migrate old.py --fix              apply the mechanical renames; old.py.bak keeps the original

Exit status: 0 nothing found, 1 findings, 2 a file could not be checked or fixed.""",
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
    ("build", "ONNX -> TensorRT engine file with a JSON sidecar", _build_args, cmd_build),
    ("inspect", "what an engine file holds and whether it can run on this machine", _inspect_args, cmd_inspect),
    ("bench", "the five metrics of chapter 1 for one engine", _bench_args, cmd_bench),
    ("migrate", "find legacy TensorRT 5-8 calls in .py/.ipynb files and say what replaces them",
     _migrate_args, cmd_migrate),
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


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args, extra = ap.parse_known_args(argv)
    if extra:  # name the command they were given to: "trtlab env: error: unrecognized arguments: …"
        getattr(args, "parser", ap).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"trtlab {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"trtlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `trtlab env --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
