"""The shortcuts that make ``migrate --fix`` quick on big files (issue 16) change no result:
the kind inference stops early only when another pass could change nothing, and the garbage
collector paused while a file is analysed is always switched back on."""
from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

from trtlab import migrate

CORPUS = Path(__file__).parent / "legacy_corpus"

# receivers whose kind is known only from assignments further down the file (several passes)
LATE = '''import tensorrt as trt
def build():
    c = b.create_builder_config()
    c.max_workspace_size = 1
    return q.get_binding_index("x")
q = e2
e2 = r.deserialize_cuda_engine(plan)
r = trt.Runtime(trt.Logger())
b = trt.Builder(trt.Logger())
'''
# one name bound to two kinds, and a TensorRT kind against "other"
REBOUND = '''import sqlite3
import tensorrt as trt
x = trt.Builder(L)
n = x.create_network()
x = trt.Runtime(L)
e = x.deserialize_cuda_engine(p)
x.max_batch_size = 4
cur = sqlite3.connect(db).cursor()
cur = e.create_execution_context()
cur.execute(1, [])
'''


class _EveryPass(migrate._Analyzer):
    """The inference without the early stop: as many passes as the fixed point needs (up to 4)."""

    def _bind(self, target, value):
        changed = super()._bind(target, value)
        self._stale = True
        return changed


def _hits(analyzer_class, source: str):
    hits = analyzer_class([ast.parse(source)]).run()
    return sorted((part, rule.id, line, col, edit and (edit.line, edit.col, edit.end_col, edit.text))
                  for part, rule, line, col, edit in hits)


def _sources():
    yield "late", LATE
    yield "rebound", REBOUND
    for p in sorted(CORPUS.glob("*.py")):
        yield p.name, p.read_text()


@pytest.mark.parametrize("name,source", list(_sources()))
def test_early_stop_finds_what_every_pass_finds(name, source):
    assert _hits(migrate._Analyzer, source) == _hits(_EveryPass, source)


def test_late_assignments_still_give_kinds():
    ids = [(f.line, f.rule) for f in migrate.check_source(LATE)]
    assert ids == [(4, "config-max-workspace-size"), (5, "engine-get-binding-index")]


def test_garbage_collector_back_on_after_check_and_fix(tmp_path):
    assert gc.isenabled()
    migrate.check_source(LATE)
    assert gc.isenabled()
    bad = tmp_path / "bad.py"
    bad.write_text("import tensorrt as trt\ndef f(:\n")
    with pytest.raises(migrate.UserError):
        migrate.fix_file(bad)
    assert gc.isenabled()
    good = tmp_path / "good.py"
    good.write_text(LATE)
    migrate.fix_file(good)
    assert gc.isenabled()
    gc.disable()                       # a caller that paused it itself keeps it paused
    try:
        migrate.check_source(LATE)
        assert not gc.isenabled()
    finally:
        gc.enable()
