"""trtlab.bench on the CPU: statistics on synthetic timings, CPU timing against sleeps of known
length, accuracy helpers, and `trtlab bench` on a tiny engine (CPU reference, labelled)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest


from trtlab import testing as tiny_engine  # noqa: E402
from trtlab import bench, cli  # noqa: E402
from trtlab.common import UserError  # noqa: E402
from trtlab.runtime import Session  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_engine.make_engine(tmp_path_factory.mktemp("tiny"))


def test_summary_of_known_samples():
    samples = np.arange(1, 101, dtype=float)  # 1..100 ms
    s = bench.summarize(samples)
    assert s["p50"] == pytest.approx(50.5)
    assert s["p90"] == pytest.approx(90.1)
    assert s["p99"] == pytest.approx(99.01)
    assert (s["min"], s["max"], s["n"], s["mean"]) == (1.0, 100.0, 100, 50.5)
    with pytest.raises(ValueError):
        bench.summarize([])


def test_timing_throughput_is_items_over_total_time():
    t = bench.Timing(np.full(10, 2.0), "perf_counter", 0, items=8)  # 10 x 2 ms for 8 images
    assert t.total_s == pytest.approx(0.02)
    assert t.per_second == pytest.approx(4000.0)
    assert t.summary()["per_second"] == pytest.approx(4000.0)
    assert "p50 2.0000 ms" in repr(t)


def test_time_cpu_measures_a_known_sleep_and_discards_warmup():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.005)

    t = bench.time_cpu(work, warmup=3, iters=10)
    assert len(calls) == 13 and len(t.samples_ms) == 10
    assert 4.9 <= t.p50 <= 12.0  # sleep never returns early; a loaded machine can be late
    assert t.method == "perf_counter"


def test_time_cpu_stops_slow_workloads_after_max_time():
    t = bench.time_cpu(lambda: time.sleep(0.02), warmup=0, iters=1000, max_time_s=0.1, min_iters=3)
    assert 3 <= len(t.samples_ms) < 20
    with pytest.raises(UserError):
        bench.time_cpu(lambda: None, iters=0)


def test_accuracy_helpers():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert bench.top1(logits, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    other = logits + np.array([[0, 0], [0, 0], [0.5, 0]])
    a = bench.agreement(logits, other)
    assert a["argmax_agreement"] == pytest.approx(2 / 3) and a["disagreements"] == 1
    assert a["max_abs_diff"] == pytest.approx(0.5)
    with pytest.raises(UserError):
        bench.top1(logits, np.array([1, 0]))


def test_parse_batches():
    assert bench.parse_batches("1,8,64") == [1, 8, 64]
    for bad in ("", "0", "a,b", "-1", "1.5", "1,,8", "8,"):
        with pytest.raises(UserError, match="--batch takes"):
            bench.parse_batches(bad)


def test_efficiency_without_power_readings_is_per_cpu_core():
    e = bench.efficiency(lambda: sum(range(20000)), items=4, seconds=0.2)
    assert e.unit == "images/s per CPU core" and "busy cores" in e.source
    assert e.images_per_s > 0 and e.value is not None and e.value > 0


def test_bench_session_on_the_reference_path_is_labelled(tiny):
    with Session(tiny) as s:
        rows = bench.bench_session(s, batches=(1, 8), warmup=1, iters=5)
    assert [r.batch for r in rows] == [1, 8]
    assert all(r.mode == "CPU reference" and r.what == "end to end" and r.method == "perf_counter" for r in rows)
    assert "CPU reference" in bench.rows_table(rows)


def test_report_text_and_json(tiny, tmp_path):
    rep = bench.bench_engine(tiny, batches=(1, 4), warmup=1, iters=5, efficiency_s=0.1)
    text = rep.text()
    assert text.startswith("*** CPU reference: these figures are NOT TensorRT")
    assert "images/s per CPU core" in text and "device_memory_size_v2 needs a deserialized engine" in text
    out = rep.to_json(tmp_path / "r.json")
    data = json.loads(out.read_text())
    assert data["mode"] == "CPU reference" and len(data["rows"]) == 2
    assert data["memory"]["weights_bytes"] == (12 + 3) * 4
    assert "not an MNIST digit batch" in data["accuracy"]["why"] and "accuracy: n/a" in text


def test_cli_bench_prints_a_labelled_table_and_writes_json(tiny, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = cli.main(["bench", str(tiny), "--batch", "1,8", "--iters", "5", "--warmup", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "CPU reference" in printed and "NOT TensorRT" in printed
    assert "p50 ms" in printed and "images/s" in printed
    assert json.loads(out.read_text())["rows"][1]["batch"] == 8


@pytest.mark.parametrize("argv, message", [
    (["--batch", "16"], "batch 16 is above the engine's profile maximum 8 for input 'x'"),
    (["--batch", "0"], "--batch takes comma-separated positive integers"),
    (["--iters", "0"], "--iters must be >= 1"),
    (["--batch", "1", "--iters", "1", "--json", "/etc/passwd/bench.json"], "/etc/passwd is a file, not a folder"),
])
def test_cli_bench_bad_inputs_one_line_nonzero(tiny, capsys, argv, message):
    rc = cli.main(["bench", str(tiny), *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_bench_json_target_checked_before_the_benchmark(tiny, tmp_path, capsys):
    before = tiny.read_bytes()
    assert cli.main(["bench", str(tiny), "--json", str(tiny)]) == 2
    assert "would overwrite the engine or its sidecar" in capsys.readouterr().err
    assert tiny.read_bytes() == before
    assert cli.main(["bench", str(tiny), "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_engine_with_a_static_batch(tmp_path, capsys):
    """An ONNX model with a fixed batch of 4: --batch 1 is refused in one line; inference in chunks pads the
    last one (was: 'dimension 0 is 1 in (1, 1, 28, 28), allowed (4, …)' from the accuracy pass of --batch 4)."""
    from trtlab.runtime import Session

    static = tiny_engine.make_engine(tmp_path, batch=4)
    assert cli.main(["bench", str(static), "--batch", "1,4", "--iters", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "trtlab bench: error: the engine's batch is fixed at 4 (its model has a static batch dimension, so no "
        "optimization profile): use --batch 4, or rebuild from a model with a dynamic batch")
    assert cli.main(["bench", str(static), "--batch", "4", "--iters", "2", "--warmup", "0"]) == 0
    capsys.readouterr()
    assert cli.main(["bench", str(static), "--iters", "2", "--warmup", "0"]) == 0  # no --batch: its fixed batch
    table = capsys.readouterr().out
    assert "     4 end to end" in table and "     1 end to end" not in table
    x = np.random.default_rng(1).random((10, 4), dtype=np.float32)
    with Session(static) as s:
        np.testing.assert_allclose(s.infer_batches(x), tiny_engine.expected(x), rtol=1e-5, atol=1e-6)


def test_cli_bench_missing_or_junk_engine(tmp_path, capsys):
    assert cli.main(["bench", str(tmp_path / "nope.engine")]) == 2
    assert "no such engine file" in capsys.readouterr().err
    junk = tmp_path / "junk.engine"
    junk.write_bytes(b"\0" * 100)
    assert cli.main(["bench", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "junk.engine: not a TensorRT-RTX engine" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["bench", str(tmp_path)]) == 2  # a folder: said so (was: 'no such engine file')
    assert capsys.readouterr().err.strip() == f"trtlab bench: error: {tmp_path} is a folder, not an engine file"
