"""``trtlab migrate``: find legacy TensorRT calls in .py files and notebooks, say what replaces them.

Static analysis with Python's :mod:`ast` — nothing is imported or run. The checker follows
how TensorRT was imported (``import tensorrt as trt``, ``import tensorrt as T``,
``from tensorrt import Builder``, ``tensorrt_rtx``) and which names hold builders, networks,
configs, engines and contexts, so ``cursor.execute()`` on a database cursor is left alone
while ``context.execute()`` on an execution context is reported.

    report = check_paths(["old_sample.py", "notebooks/"], target="11")
    print(format_report(report))
    fixes = fix_paths(["old_sample.py"])        # mechanical rewrites only, FILE.bak kept

The rules themselves (legacy name, replacement, versions, why) are the table in
``trtlab.migrate_rules``.

How a receiver's kind is known, in order:
1. assignments in the same file: ``builder = trt.Builder(logger)``,
   ``with trt.Builder(L) as builder, builder.create_network() as network``,
   ``engine = runtime.deserialize_cuda_engine(plan)``, ``context = engine.create_execution_context()``,
   ``conv = network.add_convolution(...)``; a name assigned from another module's call
   (``cur = sqlite3.connect(db).cursor()``) is known *not* to be TensorRT;
2. otherwise, in a file that imports TensorRT, conventional names: ``builder``, ``network``,
   ``config``, ``engine``, ``context``/``ctx`` (also ``self.engine``, ``trt_engine``, ...).
A file that never imports TensorRT gets only the import and text rules (``import uff``,
``convert-to-uff``, ``from cuda import cudart``, ``pycuda.autoinit``).
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import gc
import keyword
import os
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .common import UserError, folder_lock, keep_owner, write_temp
from .migrate_rules import BY_ID, LAYER_METHODS, RULES, Rule

TARGETS = ("10", "11", "rtx")
TRT_MODULES = {"tensorrt", "tensorrt_rtx"}
SEVERITIES = ("error", "warning", "advice")

# receiver rules: (kind, attribute name) -> rule;   trt rules: "BuilderFlag.FP16" -> rule
_BY_KIND: dict[tuple[str, str], Rule] = {(r.on, r.name): r for r in RULES if r.on not in ("trt", "import", "text", "special")}
_BY_TRT: dict[str, Rule] = {r.name: r for r in RULES if r.on == "trt"}

# what a call returns, by the receiver's kind and the method name
_RETURNS = {
    ("builder", "create_network"): "network",
    ("builder", "create_builder_config"): "config",
    ("builder", "build_engine"): "engine",
    ("builder", "build_cuda_engine"): "engine",
    ("runtime", "deserialize_cuda_engine"): "engine",
    ("engine", "create_execution_context"): "context",
    **{("network", m): "layer" for m in ("add_convolution", "add_convolution_nd", "add_pooling",
                                          "add_pooling_nd", "add_deconvolution", "add_deconvolution_nd")},
    **{("network", m): "layer" for m in LAYER_METHODS},
}
_CONSTRUCTORS = {"Builder": "builder", "Runtime": "runtime", "UffParser": "uffparser",
                 "CaffeParser": "caffeparser", "OnnxParser": "onnxparser",
                 "get_plugin_registry": "registry"}
# names ``from tensorrt import *`` brings in that matter here
_STAR_NAMES = {r.name.split(".")[0] for r in RULES if r.on == "trt"} | set(_CONSTRUCTORS)
# conventional names, used only in files that import TensorRT and only for names never assigned there
_NAME_KINDS = [
    (re.compile(r"^(builder|\w+_builder)$"), "builder"),
    (re.compile(r"^(network|\w+_network)$"), "network"),
    (re.compile(r"^(config|builder_config|\w+_config)$"), "config"),
    (re.compile(r"^(engine|\w+_engine)$"), "engine"),
    (re.compile(r"^(context|ctx|\w+_context|\w+_ctx)$"), "context"),
    (re.compile(r"^(registry|plugin_registry)$"), "registry"),
]
# rules that show the file relies on implicit batch (then a flagless create_network() is legacy)
_IMPLICIT_EVIDENCE = {"builder-max-batch-size", "engine-max-batch-size", "context-execute",
                      "context-execute-async", "build-cuda-engine", "uff-parser", "caffe-parser",
                      "uff-register-input", "uff-register-output"}
# modules whose objects are surely not TensorRT's (a name assigned from their calls is "other"):
# the standard library and libraries with their own engines, contexts and cursors. A project's
# own helper modules are not listed: their functions often return TensorRT engines.
_FOREIGN_MODULES = set(sys.stdlib_module_names) | {
    "sqlalchemy", "psycopg2", "pymysql", "pymongo", "redis", "zmq", "jinja2", "click", "typer", "flask",
    "django", "requests", "aiohttp", "pycuda", "cuda", "numpy", "pandas", "torch", "tensorflow", "onnxruntime",
    "onnx", "polygraphy", "playwright", "selenium", "matplotlib", "PIL", "cv2"}
# what the passes of _Analyzer look at (see _Analyzer._nodes)
_IMPORT_NODES = {ast.Import, ast.ImportFrom, ast.ClassDef}
_ASSIGN_NODES = {ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.With, ast.AsyncWith}
_NEVER_LOOKED_AT = {ast.Load, ast.Store, ast.Del, ast.Constant, ast.keyword, ast.arg, ast.arguments, ast.alias,
                    *(c for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop) for c in base.__subclasses__())}
# what the last pass of _Analyzer.run looks at (every other node it would pass over)
_OTHER_NODES = {ast.Attribute, ast.Name, ast.For, ast.AsyncFor, ast.comprehension, ast.Call}
# fields that never hold a node (names, flags) or only a context: the walk does not look in them
_NOT_NODES = {"ctx", "id", "attr", "arg", "name", "asname", "module", "level", "is_async", "simple",
              "conversion", "kind", "type_comment"}
# nodes with nothing below them that any pass looks at: not even put in the walk's queue
_LEAVES = {ast.Load, ast.Store, ast.Del, ast.Constant,
           *(c for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop) for c in base.__subclasses__())}
_UFF_TEXT = re.compile(r"convert[-_]to[-_]uff")
_MAGIC = re.compile(r"^\s*([%!]|\w+\s*=\s*[%!])")
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "snakeviz"}   # their body is Python


# --- results -------------------------------------------------------------------------------
@dataclass
class Edit:
    """Replace bytes [col, end_col) of 1-based ``line`` (UTF-8 offsets, as ast gives them)."""
    line: int
    col: int
    end_col: int
    text: str


@dataclass
class Finding:
    path: str
    line: int
    col: int                      # 1-based, in characters
    cell: int | None              # 1-based index among the notebook's cells
    rule: str
    severity: str                 # error | warning | advice
    legacy: str
    replacement: str
    deprecated: str | None
    removed: str | None
    package: str
    why: str
    fixable: bool
    edit: Edit | None = field(default=None, repr=False)

    def where(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.path}{cell}:{self.line}:{self.col}"

    def versions(self) -> str:
        pkg = "" if self.package == "TensorRT" else f"{self.package} "
        parts = []
        if self.deprecated:
            parts.append(f"deprecated {pkg}{self.deprecated}")
        parts.append(f"removed {pkg}{self.removed}" if self.removed else "not removed")
        return ", ".join(parts) if (self.deprecated or self.removed) else "not a TensorRT API change"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("edit")
        return d


@dataclass
class Problem:
    """A file that could not be checked (unreadable, not UTF-8, bad notebook JSON, syntax error)."""
    path: str
    line: int | None
    message: str
    cell: int | None = None

    def where(self) -> str:
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.path}{cell}:{self.line}" if self.line else self.path


@dataclass
class Report:
    target: str
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else (1 if self.findings else 0)

    def to_dict(self) -> dict:
        return {"target": self.target, "files": self.files,
                "findings": [f.to_dict() for f in self.findings],
                "problems": [asdict(p) for p in self.problems],
                "counts": self.counts(), "exit_code": self.exit_code}


# --- severity --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _version(v: str) -> tuple[int, int]:
    major, _, minor = v.partition(".")
    return int(major), int(minor) if minor.isdigit() else 0


def severity(rule: Rule, target: str) -> str:
    """error: removed on the target; warning: deprecated there (or a non-TensorRT removal); advice."""
    if rule.advice:
        return "advice"
    if rule.package != "TensorRT":
        return "warning"
    if target == "rtx" and rule.absent_in_rtx:
        return "error"
    major = 10 if target == "10" else 11           # TensorRT-RTX has no weak typing: like 11
    if rule.removed and _version(rule.removed)[0] <= major:
        return "error"
    return "warning"


def replacement(rule: Rule, target: str) -> str:
    return rule.replacement_10 if (target == "10" and rule.replacement_10) else rule.replacement


# --- the analysis of one piece of Python source ---------------------------------------------------
def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of Name/Attribute nodes, else None."""
    t = type(node)                      # the common cases first: called for most nodes of a file
    if t is ast.Name:
        return node.id                  # type: ignore[attr-defined]
    if t is ast.Attribute and type(node.value) is ast.Name:       # type: ignore[attr-defined]
        return node.value.id + "." + node.attr                    # type: ignore[attr-defined]
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Analyzer:
    """One analysis over several syntax trees that share names: a file, or a notebook's cells."""

    def __init__(self, trees: list[ast.Module]):
        self.trees = trees
        self.part = 0                             # which tree the walk is in
        self.trt_names: set[str] = set()          # local names bound to the tensorrt module
        self.trt_from: dict[str, str] = {}        # local name -> tensorrt attribute it is
        self.other_modules: set[str] = set()      # local names of imports from _FOREIGN_MODULES
        self.local_classes: set[str] = set()      # classes defined in the file (never TensorRT objects)
        self.kinds: dict[str, str] = {}           # dotted name -> kind ("other": not TensorRT)
        self.values: dict[str, list[ast.AST]] = {}
        self._read: set[str] = set()              # names looked up in kinds (see _infer)
        self._stale = False
        self.hits: list[tuple[int, Rule, int, int, Edit | None]] = []   # part, rule, line, byte col, edit
        self._seen: set[tuple[int, str, int, int]] = set()
        self._buckets: dict[str, list[tuple[int, ast.AST]]] | None = None

    def _walk(self) -> Iterator[ast.AST]:
        for self.part, tree in enumerate(self.trees):
            yield from ast.walk(tree)

    def _nodes(self, which: str) -> Iterator[ast.AST]:
        """The nodes one pass looks at, in ``ast.walk`` order: the trees are walked once, not once a
        pass (a 200,000-line file has millions of nodes; ``migrate --fix`` must stay linear and quick).
        ``which``: "imports", "assign" or "other" (exactly those types: see _OTHER_NODES)."""
        if self._buckets is None:
            self._buckets = {"imports": [], "assign": [], "other": []}
            imports, assign, other = (self._buckets[k] for k in ("imports", "assign", "other"))
            AST, leaves = ast.AST, _LEAVES
            # per node type, once: (the bucket it goes in or None, whether "other" holds it, its fields)
            plan: dict[type, tuple[list | None, bool, tuple[str, ...]]] = {}
            for part, tree in enumerate(self.trees):
                queue = [tree]
                extend, append = queue.extend, queue.append
                for node in queue:  # breadth first, like ast.walk; the list grows as it is read
                    t = type(node)
                    how = plan.get(t)
                    if how is None:
                        how = plan[t] = (imports if t in _IMPORT_NODES else assign if t in _ASSIGN_NODES else None,
                                         t in _OTHER_NODES, tuple(f for f in t._fields if f not in _NOT_NODES))
                    bucket, in_other, fields = how
                    if bucket is not None:
                        bucket.append((part, node))
                    if in_other:
                        other.append((part, node))
                    for name in fields:
                        v = getattr(node, name, None)
                        if type(v) is list:
                            extend([x for x in v if isinstance(x, AST) and type(x) not in leaves])
                        elif isinstance(v, AST) and type(v) not in leaves:
                            append(v)
        for self.part, node in self._buckets[which]:
            yield node

    # imports ---------------------------------------------------------------------------------
    def _imports(self) -> None:
        for node in self._nodes("imports"):
            if isinstance(node, ast.Import):
                for a in node.names:
                    root = a.name.split(".")[0]
                    if a.name in TRT_MODULES:
                        self.trt_names.add(a.asname or a.name)
                    elif a.name == "pycuda.autoinit":
                        self._hit(BY_ID["pycuda-autoinit"], node)
                    elif a.name in ("cuda.cudart", "cuda.cuda"):
                        self._hit(BY_ID["cuda-" + ("cudart" if a.name.endswith("cudart") else "driver")], node)
                    if root == "uff":
                        self._hit(BY_ID["import-uff"], node)
                    elif root == "graphsurgeon":
                        self._hit(BY_ID["import-graphsurgeon"], node)
                    if root in _FOREIGN_MODULES:
                        self.other_modules.add(a.asname or root)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mod, root = node.module, node.module.split(".")[0]
                if mod in TRT_MODULES:
                    for a in node.names:
                        if a.name == "*":
                            self.trt_from.update({n: n for n in _STAR_NAMES})
                        else:
                            self.trt_from[a.asname or a.name] = a.name
                    continue
                if root == "uff":
                    self._hit(BY_ID["import-uff"], node)
                elif root == "graphsurgeon":
                    self._hit(BY_ID["import-graphsurgeon"], node)
                elif mod == "pycuda" and any(a.name == "autoinit" for a in node.names):
                    self._hit(BY_ID["pycuda-autoinit"], node)
                elif mod == "cuda":
                    olds = [a for a in node.names if a.name in ("cudart", "cuda")]
                    for a in olds:
                        rule = BY_ID["cuda-cudart" if a.name == "cudart" else "cuda-driver"]
                        edit = None
                        if len(node.names) == 1 and node.lineno == node.end_lineno:
                            new = {"cudart": "runtime", "cuda": "driver"}[a.name]
                            edit = Edit(node.lineno, node.col_offset, node.end_col_offset or 0,
                                        f"from cuda.bindings import {new} as {a.asname or a.name}")
                        self._hit(rule, node, edit=edit)
                if root in _FOREIGN_MODULES:
                    for a in node.names:
                        self.other_modules.add(a.asname or a.name)
            elif isinstance(node, ast.ClassDef):
                self.local_classes.add(node.name)

    @property
    def imports_trt(self) -> bool:
        return bool(self.trt_names or self.trt_from)

    # kinds ------------------------------------------------------------------------------------
    def trt_path(self, node: ast.AST) -> str | None:
        """``trt.BuilderFlag.FP16`` -> "BuilderFlag.FP16"; ``BuilderFlag.FP16`` (from-imported) too."""
        dotted = _dotted(node)
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        self._read.add(head)
        if head in self.trt_names and head not in self.kinds:
            return rest or None
        if head in self.trt_from and head not in self.kinds:
            return self.trt_from[head] + ("." + rest if rest else "")
        return None

    def kind(self, node: ast.AST) -> str | None:
        key = _dotted(node)
        if key is None:
            return self.kind_of(node) if isinstance(node, ast.Call) else None
        self._read.add(key)
        if key in self.kinds:
            k = self.kinds[key]
            return None if k == "other" else k
        if key in self.trt_names:
            return "trt"
        if self.imports_trt:
            last = key.rsplit(".", 1)[-1]
            for pattern, k in _NAME_KINDS:
                if pattern.match(last):
                    return k
        return None

    def kind_of(self, value: ast.AST) -> str | None:
        """The kind of object an expression evaluates to; "other" when surely not TensorRT."""
        if isinstance(value, ast.Call):
            func = value.func
            path = self.trt_path(func)
            if path in _CONSTRUCTORS:
                return _CONSTRUCTORS[path]
            if isinstance(func, ast.Attribute):
                rk = self.kind(func.value)
                if rk and (rk, func.attr) in _RETURNS:
                    return _RETURNS[(rk, func.attr)]
            root = func
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            if isinstance(root, ast.Name):
                self._read.add(root.id)
            if isinstance(root, ast.Name) and root.id not in self.kinds and (
                    root.id in self.other_modules or (root is func and root.id in self.local_classes)):
                return "other"
            return None
        if isinstance(value, (ast.Name, ast.Attribute)):
            return self.kind(value)
        return None

    def _bind(self, target: ast.AST, value: ast.AST) -> bool:
        key = _dotted(target)
        if key is None or isinstance(value, ast.Constant):
            return False
        self.values.setdefault(key, []).append(value)
        k = self.kind_of(value)
        if k is None:
            return False
        read_before = key in self._read
        self._read.add(key)
        if self.kinds.get(key) == k:
            return False
        if k == "other" and key in self.kinds:
            return False                                   # a TensorRT kind wins over "other"
        self.kinds[key] = k
        if read_before:        # looked up (or set) earlier in this pass: another pass may differ
            self._stale = True
        return True

    def _infer(self) -> None:
        for _ in range(4):                                 # fixed point over the whole file
            self.values = {}
            self._read, self._stale = set(), False
            changed = False
            for node in self._nodes("assign"):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    changed |= self._bind(node.targets[0], node.value)
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    changed |= self._bind(node.target, node.value)
                elif isinstance(node, (ast.With, ast.AsyncWith)):
                    for item in node.items:
                        if item.optional_vars is not None:
                            changed |= self._bind(item.optional_vars, item.context_expr)
            # No name was set after it had been looked up or set in this pass: the next pass would
            # see the same kinds everywhere and change nothing (a 200,000-line file saves a pass).
            if not changed or not self._stale:
                break

    # findings ---------------------------------------------------------------------------------
    def _hit(self, rule: Rule, node: ast.expr | ast.stmt, line: int | None = None, col: int | None = None,
             edit: Edit | None = None) -> None:
        line = node.lineno if line is None else line
        col = node.col_offset if col is None else col
        if (self.part, rule.id, line, col) not in self._seen:
            self._seen.add((self.part, rule.id, line, col))
            self.hits.append((self.part, rule, line, col, edit))

    def _attribute(self, node: ast.Attribute) -> None:
        path = self.trt_path(node)
        if path is not None:
            if path in _BY_TRT:
                self._hit(_BY_TRT[path], node)
            return
        k = self.kind(node.value)
        rule = _BY_KIND.get((k, node.attr)) if k else None
        if rule and rule.store_only and not isinstance(node.ctx, ast.Store):
            rule = None
        if rule:
            line, end = node.end_lineno or node.lineno, node.end_col_offset or 0
            col = end - len(node.attr.encode())
            edit = Edit(line, col, end, rule.fix_to) if rule.fix_to else None
            self._hit(rule, node, line, col, edit)

    def _explicit_flags(self, call: ast.Call) -> bool:
        args = [*call.args, *(k.value for k in call.keywords)]
        for arg in args:
            if "EXPLICIT_BATCH" in ast.unparse(arg):
                return True
            for name in ast.walk(arg):
                key = _dotted(name) if isinstance(name, (ast.Name, ast.Attribute)) else None
                if key and any("EXPLICIT_BATCH" in ast.unparse(v) for v in self.values.get(key, [])):
                    return True
        return False

    def run(self) -> list[tuple[int, Rule, int, int, Edit | None]]:
        self._imports()
        self._infer()
        create_calls: list[tuple[int, ast.Call]] = []
        for node in self._nodes("other"):
            if isinstance(node, ast.Attribute):
                self._attribute(node)
            elif isinstance(node, ast.Name) and node.id in self.trt_from and node.id not in self.kinds:
                rule = _BY_TRT.get(self.trt_from[node.id])
                if rule:
                    self._hit(rule, node)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                if self.kind(node.iter) == "engine":
                    self._hit(BY_ID["engine-iteration"], node.iter)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "create_network" and self.kind(node.func.value) == "builder"):
                create_calls.append((self.part, node))
        if any(r.id in _IMPLICIT_EVIDENCE for _, r, *_ in self.hits):
            for self.part, call in create_calls:
                if not self._explicit_flags(call):
                    f = call.func
                    self._hit(BY_ID["implicit-batch"], f, f.end_lineno,
                              (f.end_col_offset or 0) - len("create_network"))
        return self.hits


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a big file's syntax tree is millions of objects, and
    the collector would scan them again and again while they are made (half of ``ast.parse``'s time
    on a 17 MB file). Nothing here makes cycles that need collecting meanwhile."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, split the way the tokenizer does (\\n, \\r\\n, \\r only)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def _text_hits(lines: list[str]) -> Iterator[tuple[Rule, int, int]]:
    """``convert-to-uff`` anywhere: comments, strings, shell lines."""
    for i, line in enumerate(lines, 1):
        for m in _UFF_TEXT.finditer(line):
            yield BY_ID["convert-to-uff"], i, len(line[:m.start()].encode())


@_gc_paused()
def _findings(parts: list[tuple[str, str]], path: str, target: str,
              cells: list[int | None] | None = None) -> list[Finding]:
    """Findings in one file: ``parts`` is [(source, source to parse)], one per notebook cell
    (or a single one for a .py file); names and imports are shared across parts.
    Raises SyntaxError (with ``.part``: the index of the part that failed)."""
    trees = []
    for i, (_, parse_source) in enumerate(parts):
        try:
            trees.append(ast.parse(parse_source, filename=path))
        except SyntaxError as exc:
            exc.part = i                                        # type: ignore[attr-defined]
            raise
    texts = [_split_lines(src) for src, _ in parts]
    hits = _Analyzer(trees).run()
    for i, lines in enumerate(texts):
        hits += [(i, r, ln, c, None) for r, ln, c in _text_hits(lines)]
    out = []
    for part, rule, line, col, edit in hits:
        blines = texts[part]
        text = blines[line - 1].encode() if 0 < line <= len(blines) else b""
        char_col = len(text[:col].decode(errors="replace")) + 1
        cell = cells[part] if cells else None
        out.append(Finding(path, line, char_col, cell, rule.id, severity(rule, target), rule.legacy,
                           replacement(rule, target), rule.deprecated, rule.removed, rule.package,
                           rule.why, edit is not None, edit))
    out.sort(key=lambda f: (f.cell or 0, f.line, f.col, f.rule))
    return out


def check_source(source: str, path: str = "<string>", target: str = "11") -> list[Finding]:
    """Findings in Python source text. Raises SyntaxError if it does not parse."""
    _check_target(target)
    return _findings([(source, source)], path, target)


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise UserError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")


# --- files and notebooks -------------------------------------------------------------------------
def strip_magics(source: str) -> str:
    """IPython magics and shell lines (``%time``, ``!pip``, ``x = !ls``) blanked, line numbers kept."""
    lines = _split_lines(source)
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:     # %%bash, %%writefile ...: not Python
            return "".join("\n" if ln.endswith(("\n", "\r")) else "" for ln in lines)
    out = []
    for ln in lines:
        if _MAGIC.match(ln):
            body = ln.rstrip("\r\n")
            ln = " " * (len(body) - len(body.lstrip())) + "pass" + ln[len(body):]
        out.append(ln)
    return "".join(out)


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _read_text(path: Path, data: bytes | None = None) -> str:
    try:
        data = path.read_bytes() if data is None else data
    except OSError as exc:
        raise _Unreadable(None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Unreadable(None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


class _Unreadable(Exception):
    def __init__(self, line: int | None, message: str, cell: int | None = None):
        super().__init__(message)
        self.line, self.message, self.cell = line, message, cell


def _load_notebook(path: Path, data: bytes | None = None) -> dict:
    text = _read_text(path, data)
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Unreadable(exc.lineno, f"invalid notebook JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise _Unreadable(None, "invalid notebook JSON: no 'cells' list")
    for i, cell in enumerate(nb["cells"], 1):  # a malformed cell is not silently "no findings"
        src = cell.get("source", "") if isinstance(cell, dict) else None
        if not isinstance(cell, dict) or not (isinstance(src, str) or
                                              isinstance(src, list) and all(isinstance(x, str) for x in src)):
            what = "is not a cell object" if not isinstance(cell, dict) else "has a 'source' that is not text"
            raise _Unreadable(None, f"invalid notebook: cell {i} {what}")
    return nb


def _syntax(exc: SyntaxError, cell: int | None = None) -> _Unreadable:
    return _Unreadable(exc.lineno, f"syntax error: {exc.msg} (the file was not checked)", cell)


def check_file(path: str | Path, target: str = "11",
               data: bytes | None = None) -> tuple[list[Finding], Problem | None]:
    """Findings in one .py or .ipynb file, or the Problem that stopped the check.
    ``data``: the file's bytes, already read (then the file is not read again)."""
    _check_target(target)
    p = Path(path)
    try:
        if p.suffix == ".ipynb":
            nb = _load_notebook(p, data)
            cells = [(i, _cell_source(c)) for i, c in enumerate(nb["cells"], 1)
                     if isinstance(c, dict) and c.get("cell_type") == "code"]
            try:
                return _findings([(src, strip_magics(src)) for _, src in cells], str(path), target,
                                 [i for i, _ in cells]), None
            except SyntaxError as exc:
                raise _syntax(exc, cells[getattr(exc, "part", 0)][0]) from None
        try:
            src = _read_text(p, data)
            return _findings([(src, src)], str(path), target), None
        except SyntaxError as exc:
            raise _syntax(exc) from None
    except _Unreadable as exc:
        return [], Problem(str(path), exc.line, exc.message, exc.cell)
    except (RecursionError, ValueError, MemoryError) as exc:   # e.g. source with NUL bytes
        return [], Problem(str(path), None, f"cannot parse: {exc}")
    except Exception as exc:                                    # a bug here must not hide the other files
        return [], Problem(str(path), None, f"internal error in trtlab migrate ({type(exc).__name__}: {exc}); "
                                            "please report it with this file")


_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages"}


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """(file, None) for every .py/.ipynb under the given paths; (path, reason) for bad ones."""
    for raw in paths:
        p = Path(raw)
        try:
            if os.path.isdir(p):
                os.listdir(p)  # rglob would skip a folder it may not read, silently
            else:
                os.stat(p)
        except FileNotFoundError:
            pass
        except OSError as exc:  # a folder on the way that may not be entered, a name too long …
            yield p, f"cannot read: {exc.strerror or exc}"
            continue
        if p.is_dir():
            found = False
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if any(part.startswith(".") or part in _SKIP_DIRS for part in rel[:-1]):
                    continue
                if f.suffix in (".py", ".ipynb") and f.is_file() and not f.name.startswith("."):
                    found = True
                    yield f, None
            if not found:
                yield p, "no .py or .ipynb files in this folder"
        elif p.is_file():
            yield p, None
        elif p.exists():  # reading /dev/zero or a pipe would never end
            yield p, "not a regular file (a device, pipe or socket): not read"
        else:
            yield p, "no such file or directory"


def check_paths(paths: Iterable[str | Path], target: str = "11") -> Report:
    """Check every file; a file that cannot be checked becomes a Problem, the others go on."""
    _check_target(target)
    report = Report(target)
    for f, reason in iter_files(paths):
        if reason:
            report.problems.append(Problem(str(f), None, reason))
            continue
        report.files.append(str(f))
        findings, problem = check_file(f, target)
        report.findings += findings
        if problem:
            report.problems.append(problem)
    return report


# --- output ----------------------------------------------------------------------------------
def format_finding(f: Finding) -> str:
    return f"{f.where()}: {f.severity}: {f.legacy} → {f.replacement} ({f.versions()}): {f.why}"


def format_report(report: Report) -> str:
    """Compiler-style lines grouped per file, then one summary line."""
    out: list[str] = []
    by_file: dict[str, list[str]] = {}
    for p in report.problems:
        by_file.setdefault(p.path, []).append(f"{p.where()}: fatal: {p.message}")
    for f in report.findings:
        by_file.setdefault(f.path, []).append(format_finding(f))
    for path in sorted(by_file, key=lambda s: (report.files.index(s) if s in report.files else -1, s)):
        out.extend(by_file[path])
        out.append("")
    out.append(summary(report))
    return "\n".join(out)


def summary(report: Report) -> str:
    c = report.counts()
    n = len(report.findings)
    label = {"10": "TensorRT 10", "11": "TensorRT 11", "rtx": "TensorRT-RTX"}[report.target]
    text = (f"{n} finding{'s' * (n != 1)} ({c['error']} error{'s' * (c['error'] != 1)}, "
            f"{c['warning']} warning{'s' * (c['warning'] != 1)}, {c['advice']} advice) "
            f"in {len(report.files)} file{'s' * (len(report.files) != 1)}, target {label}")
    fixable = sum(f.fixable for f in report.findings)
    if fixable:
        text += f"; {fixable} fixable with --fix"
    if report.problems:
        text += f"; {len(report.problems)} could not be checked"
    return text


# --- --fix --------------------------------------------------------------------------------------
@dataclass
class FixResult:
    path: str
    backup: str
    diff: str
    edits: int


def apply_edits(source: str, edits: list[Edit]) -> str:
    """Apply byte-offset edits to source text; everything else stays byte-identical."""
    lines = [ln.encode() for ln in _split_lines(source)]
    for e in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        b = lines[e.line - 1]
        lines[e.line - 1] = b[:e.col] + e.text.encode() + b[e.end_col:]
    return b"".join(lines).decode()


def _fixed_source(source: str, findings: list[Finding], parse_source: str | None = None) -> str:
    edits = [f.edit for f in findings if f.edit]
    new = apply_edits(source, edits)
    # Never write broken code: parse the result again, unless every edit put one identifier in the
    # place of another (an attribute rename), which cannot change how the file parses.
    if not all(e.text.isidentifier() and not keyword.iskeyword(e.text) for e in edits):
        ast.parse(strip_magics(new) if parse_source is not None else new)
    return new


def _diff(old: str, new: str, label: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{label.lstrip('/')}", f"b/{label.lstrip('/')}"))


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _notebook_bytes(nb: dict) -> bytes:
    """The notebook as JSON text, the way nbformat writes it; a lone surrogate (``"\\ud800"`` in the
    file) is written back as the same escape, since UTF-8 cannot hold it."""
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def backup_name(path: Path) -> Path:
    """``FILE.bak``, or ``FILE.bak.1``, ``FILE.bak.2`` … when that name is taken by anything (a
    backup of an earlier run, the user's own file, a link): an existing backup is never replaced."""
    name = path.with_name(path.name + ".bak")
    n = 0
    while os.path.lexists(name):
        n += 1
        name = path.with_name(f"{path.name}.bak.{n}")
    return name


def _write_backup(path: Path, data: bytes, like: os.stat_result) -> Path:
    """A new backup file holding ``data``, with the owner and mode of the original. Created with
    O_EXCL|O_NOFOLLOW: never through a link, never over anything that appeared meanwhile."""
    for _ in range(100):
        backup = backup_name(path)
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.chown(backup, like.st_uid, like.st_gid)
            except OSError:
                pass
            os.chmod(backup, like.st_mode & 0o7777)
        except BaseException:
            backup.unlink(missing_ok=True)
            raise
        return backup
    raise OSError(f"no free backup name beside {path}")


@_gc_paused()
def fix_file(path: str | Path, target: str = "11", read_only: bool = False) -> FixResult | None:
    """Apply the mechanical rewrites to one file; the original is kept as FILE.bak (FILE.bak.N when
    that exists). None if nothing to do.

    Safe to run twice at once on one file: the folder's advisory lock is held from reading the file
    to replacing it, and the file is read once and checked unchanged before it is replaced, so no
    edit is applied twice and the original is never lost. A link is not followed, a read-only file
    is refused unless ``read_only``, and the new file keeps the owner and mode of the old one.
    """
    import stat

    p = Path(path)
    with folder_lock(p.parent):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(f"{p} is a symbolic link: not changed (fix the file it points to)")
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{p} is not a regular file: not changed")
        if not read_only and not st.st_mode & 0o222:
            raise OSError(f"{p} is read-only: not changed (--fix-read-only changes it anyway)")
        original = p.read_bytes()
        findings, problem = check_file(p, target, data=original)
        if problem:
            raise UserError(f"{problem.where()}: {problem.message}")
        fixable = [f for f in findings if f.edit]
        if not fixable:
            return None
        if p.suffix == ".ipynb":
            nb = json.loads(original.decode("utf-8-sig"))
            diffs = []
            by_cell: dict[int | None, list[Finding]] = {}
            for f in fixable:
                by_cell.setdefault(f.cell, []).append(f)
            for i, cell in enumerate(nb["cells"], 1):
                mine = by_cell.get(i)
                if not mine:
                    continue
                old = _cell_source(cell)
                new = _fixed_source(old, mine, parse_source=old)
                cell["source"] = _split_lines(new) if isinstance(cell.get("source"), list) else new
                diffs.append(_diff(old, new, f"{p} (cell {i})"))
            data = _notebook_bytes(nb)
            diff = "".join(diffs)
        else:
            old = original.decode("utf-8-sig")
            new = _fixed_source(old, fixable)
            data = new.encode("utf-8", "surrogatepass")
            if original.startswith(b"\xef\xbb\xbf"):
                data = b"\xef\xbb\xbf" + data
            diff = _diff(old, new, str(p))
        tmp = write_temp(p, data)
        try:
            keep_owner(tmp, p)
            now = os.lstat(p)  # another program may have written it meanwhile: then leave it alone
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns) \
                    or p.read_bytes() != original:
                raise OSError(f"{p} changed while it was being fixed: left as it is now; run --fix again")
            backup = _write_backup(p, original, st)
            os.replace(tmp, p)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return FixResult(str(p), str(backup), diff, len(fixable))


def fix_paths(paths: Iterable[str | Path], target: str = "11",
              read_only: bool = False) -> tuple[list[FixResult], list[Problem]]:
    results, problems = [], []
    for f, reason in iter_files(paths):
        if reason:
            problems.append(Problem(str(f), None, reason))
            continue
        try:
            r = fix_file(f, target, read_only)
        except UserError:
            continue                       # reported by the check that follows
        except SyntaxError as exc:
            problems.append(Problem(str(f), exc.lineno, f"--fix would break the file ({exc.msg}); left as is"))
            continue
        except OSError as exc:
            problems.append(Problem(str(f), None, f"--fix could not write: {exc.strerror or exc}"))
            continue
        if r:
            results.append(r)
    return results, problems


# --- command line ---------------------------------------------------------------------------------
def main(paths: list[str | Path], target: str = "11", as_json: bool = False, fix: bool = False,
         read_only: bool = False) -> int:
    """What ``trtlab migrate`` does; returns the exit code (0 clean, 1 findings, 2 problems)."""
    _check_target(target)
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure:                       # an ASCII-only terminal: "->" for "→", "?" for the rest
        reconfigure(errors="replace")
    try:
        "→".encode(sys.stdout.encoding or "utf-8")
        arrow = "→"
    except (UnicodeEncodeError, LookupError):
        arrow = "->"
    fixed: list[FixResult] = []
    fix_problems: list[Problem] = []
    if fix:
        fixed, fix_problems = fix_paths(paths, target, read_only)
    report = check_paths(paths, target)
    report.problems += [p for p in fix_problems if p.path not in {q.path for q in report.problems}]
    if as_json:
        d = report.to_dict()
        if fix:
            d["fixed"] = [asdict(r) for r in fixed]
        print(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        for r in fixed:
            print(r.diff, end="" if r.diff.endswith("\n") else "\n")
            print(f"fixed {r.edits} in {r.path} (original kept as {r.backup})\n")
        if fix and not fixed:
            print("nothing to fix mechanically\n")
        print(format_report(report).replace(" → ", f" {arrow} "))
    return report.exit_code
