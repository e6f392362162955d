"""trtlab.serve and `trtlab serve`: model configs from the sidecar (checked against Triton's own
ModelConfig protobuf), atomic repositories, and a real tritonserver on 127.0.0.1 queried over
HTTP and gRPC, stopped with nothing left running. Which runner serves (TensorRT or ONNX Runtime
on the source model) comes from trtlab's probe."""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import tiny_engine
from trtlab import UserError, backend, cli, engine_file, k8s, serve

TRTLAB = [sys.executable, "-m", "trtlab.cli"]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                   os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Path:
    return tiny_engine.make_engine(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def sidecar(engine) -> dict:
    return engine_file.read_sidecar(engine)


def processes_using(path: Path) -> list[str]:
    """Live processes whose command line names ``path`` (the server and its stubs do)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in text and int(cmdline.parent.name) != os.getpid():
            found.append(f"{cmdline.parent.name}: {text[:120]}")
    return found


def wait_gone(path: Path, seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := processes_using(path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def counted(client, n: int, seconds: float = 10) -> dict:
    """The model's statistics once Triton has counted ``n`` inferences (it counts a request just
    after sending its response, so a read right after the answer can be one batch short)."""
    deadline = time.monotonic() + seconds
    while True:
        stats = client.get_inference_statistics("tiny")["model_stats"][0]
        if int(stats["inference_count"]) >= n or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def expected_runner(engine: Path) -> str:
    caps = backend.probe()
    real_gpu = caps.can_run and not getattr(caps, "simulated", False)  # TRTLAB_SIMULATE_GPU runs nothing
    return "tensorrt" if real_gpu and engine_file.check(engine).can_run else "onnxruntime"


# --- configs -----------------------------------------------------------------------------------
def test_batching_comes_from_the_profile(sidecar):
    b = serve.batching(sidecar)
    assert (b.max_batch_size, b.profile_max, b.dims) == (8, 8, {"x": [4], "y": [3]})
    assert serve.batching(sidecar, max_batch=3).max_batch_size == 3
    with pytest.raises(UserError, match="accepts batches 1 to 8"):
        serve.batching(sidecar, max_batch=9)


def test_odd_sidecars_are_one_line_errors(sidecar):
    odd = json.loads(sidecar.to_json())  # a plain, mutable copy of the validated sidecar
    odd["io"][0]["mode"] = "sideways"
    with pytest.raises(UserError, match="neither input nor output"):
        serve.batching(odd)
    odd = json.loads(sidecar.to_json())  # a plain, mutable copy of the validated sidecar
    odd["io"][0]["dtype"] = "complex64"
    with pytest.raises(UserError, match="no Triton type"):
        serve.batching(odd)
    odd = json.loads(sidecar.to_json())  # a plain, mutable copy of the validated sidecar
    odd["profiles"][0]["x"]["min"] = []
    assert serve.batching(odd).max_batch_size == 0  # not batchable, said why
    with pytest.raises(UserError, match="lists no inputs"):
        serve.batching({"io": []})


def test_a_fixed_batch_turns_triton_batching_off(tmp_path):
    fixed = engine_file.read_sidecar(tiny_engine.make_engine(tmp_path, batch=2))
    b = serve.batching(fixed)
    assert (b.max_batch_size, b.dims["x"]) == (0, [2, 4]) and "fixed batch" in b.why_not
    cfg = serve.plan_config("m", fixed)
    assert not cfg.HasField("dynamic_batching")  # dynamic batching needs max_batch_size > 0
    with pytest.raises(UserError, match="fixed batch"):
        serve.batching(fixed, max_batch=2)


def test_plan_config_is_a_valid_triton_config(sidecar):
    cfg = serve.plan_config("tiny", sidecar, instances=2, queue_delay_us=300)
    back = serve.parse_config(serve.config_text(cfg))  # text -> Triton's ModelConfig again
    assert serve.check_config(back) == []
    assert back.platform == "tensorrt_plan" and back.max_batch_size == 8
    assert [list(t.dims) for t in back.input] == [[4]] and [list(t.dims) for t in back.output] == [[3]]
    assert back.dynamic_batching.max_queue_delay_microseconds == 300
    group = back.instance_group[0]
    assert (group.count, group.KIND_GPU == group.kind, list(group.gpus)) == (2, True, [0])
    assert back.model_warmup[0].batch_size == 1 and back.model_warmup[0].inputs["x"].zero_data


def test_config_schema_errors_are_one_line(sidecar):
    with pytest.raises(UserError, match="not a valid Triton ModelConfig.*max_batchsize"):
        serve.parse_config('name: "m"\nmax_batchsize: 4\n')
    bad = serve.parse_config('name: "m"\nbackend: "python"\nmax_batch_size: 0\ndynamic_batching {}\n'
                             'input { name: "x" data_type: TYPE_FP32 dims: [4] }')
    assert serve.check_config(bad) == ["dynamic_batching needs max_batch_size > 0"]


def test_plan_repository_refuses_a_tensorrt_rtx_plan(engine, sidecar, tmp_path):
    if sidecar["backend"] == "tensorrt_rtx":
        with pytest.raises(UserError, match="TensorRT-RTX .* Triton's TensorRT backend"):
            serve.plan_repository(engine, tmp_path / "repo")
        assert not (tmp_path / "repo" / "tiny").exists()
    else:  # enterprise TensorRT: the plan is written for Triton's TensorRT backend
        model = serve.plan_repository(engine, tmp_path / "repo")
        assert (model / "1" / "model.plan").read_bytes() == engine.read_bytes()


def test_repository_is_replaced_atomically(engine, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    model, runner = serve.python_repository(engine, repo, queue_delay_us=100)
    assert runner.kind == expected_runner(engine)
    first = (model / "config.pbtxt").read_text()
    real_replace = os.replace

    def failing(src, dst):
        if Path(dst) == model and Path(src).name.endswith(".tmp"):  # the new folder's rename
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(serve.os, "replace", failing)
    with pytest.raises(UserError, match="could not write the model"):
        serve.python_repository(engine, repo, queue_delay_us=None)
    monkeypatch.undo()
    assert (model / "config.pbtxt").read_text() == first  # the previous model, complete
    assert sorted(p.name for p in repo.iterdir()) == ["tiny"]  # no temporary or old folder left
    serve.python_repository(engine, repo, queue_delay_us=None)  # and a working write replaces it
    assert "dynamic_batching" not in (model / "config.pbtxt").read_text()
    assert sorted(p.name for p in repo.iterdir()) == ["tiny"]


def test_k8s_manifests_parse_back_with_every_needed_field():
    files = k8s.manifests("lenet", "nvcr.io/nvidia/tritonserver:24.10-py3", "s3://bucket/repo")
    for docs in files.values():
        assert k8s.check(k8s.dump(docs)) == []
    text = k8s.dump(files["triton-deployment.yaml"])
    assert "&id" not in text
    assert k8s.check(text.replace("/v2/health/live", "/healthz")) == [
        "Deployment: liveness probe is not /v2/health/live"]
    with pytest.raises(UserError):
        k8s.manifests("lenet", "img", "s3://b", replicas=9, max_replicas=8)


# --- a real server -----------------------------------------------------------------------------
def test_server_answers_over_http_and_grpc_then_stops_everything(engine, tmp_path):
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    repo = tmp_path / "repo"
    serve.python_repository(engine, repo, queue_delay_us=100)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    server = serve.Server(repo, port=0).start()
    pgid = server.proc.pid
    try:
        assert server.ready_seconds is not None and server.ready_seconds < 60
        http = httpclient.InferenceServerClient(server.http_url)
        request = httpclient.InferInput("x", list(x.shape), "FP32")
        request.set_data_from_numpy(x)
        via_http = http.infer("tiny", [request]).as_numpy("y")
        grpc = grpcclient.InferenceServerClient(server.grpc_url)
        request = grpcclient.InferInput("x", list(x.shape), "FP32")
        request.set_data_from_numpy(x)
        via_grpc = grpc.infer("tiny", [request]).as_numpy("y")
        label = http.get_model_config("tiny")["parameters"]["trtlab_label"]["string_value"]
        stats = counted(http, 6)  # 3 rows over HTTP, 3 over gRPC
        # requests in flight together are batched by Triton and split again by model.py: each
        # client must get its own rows back
        many = httpclient.InferenceServerClient(server.http_url, concurrency=8)
        rng = np.random.default_rng(1)
        inputs = [rng.standard_normal((1 + i % 3, 4)).astype(np.float32) for i in range(24)]
        pending = []
        for a in inputs:
            request = httpclient.InferInput("x", list(a.shape), "FP32")
            request.set_data_from_numpy(a)
            pending.append(many.async_infer("tiny", [request]))
        answers = [p.get_result().as_numpy("y") for p in pending]
        after = counted(http, 6 + sum(map(len, inputs)))
    finally:
        server.stop()
    for a, y in zip(inputs, answers):
        np.testing.assert_allclose(y, tiny_engine.expected(a), atol=1e-5)
    assert int(after["inference_count"]) - int(stats["inference_count"]) == sum(len(a) for a in inputs)
    np.testing.assert_allclose(via_http, tiny_engine.expected(x), atol=1e-5)
    np.testing.assert_allclose(via_grpc, tiny_engine.expected(x), atol=1e-5)
    assert ("ONNX Runtime" in label) is (expected_runner(engine) == "onnxruntime")
    assert int(stats["inference_count"]) == 6
    assert serve.group_processes(pgid) == []
    assert processes_using(repo) == []
    assert server.workdir is None


def _start_cli(engine: Path, repo: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*TRTLAB, "serve", str(engine), "--port", "0", "--repository", str(repo), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("ready in"):
            return proc, "".join(seen)
    proc.kill()
    raise AssertionError(f"trtlab serve never said ready: {''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_cli_serves_until_a_signal_and_leaves_nothing(engine, tmp_path, sig):
    import tritonclient.http as httpclient

    repo = tmp_path / "repo"
    proc, said = _start_cli(engine, repo, "--instances", "1", "--queue-delay-us", "50")
    try:
        url = re.search(r"HTTP http://(127\.0\.0\.1:\d+)", said).group(1)
        assert ("ONNX Runtime on the engine's source model" in said) is (expected_runner(engine) == "onnxruntime")
        assert "dynamic batching up to 8, queue delay 50 us" in said
        assert processes_using(repo)  # tritonserver and its stub are up
        client = httpclient.InferenceServerClient(url)
        x = np.ones((2, 4), np.float32)
        request = httpclient.InferInput("x", [2, 4], "FP32")
        request.set_data_from_numpy(x)
        np.testing.assert_allclose(client.infer("tiny", [request]).as_numpy("y"), tiny_engine.expected(x), atol=1e-5)
    finally:
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
    assert code == 0
    assert wait_gone(repo, 5) == []


def test_cli_killed_outright_takes_the_server_with_it(engine, tmp_path):
    repo = tmp_path / "repo"
    proc, _ = _start_cli(engine, repo)
    proc.kill()  # SIGKILL: no handler runs; PR_SET_PDEATHSIG stops tritonserver, which stops its stub
    proc.wait()
    assert wait_gone(repo, 15) == []


def test_cli_user_mistakes_are_one_line(engine, tmp_path, capsys):
    def run(*argv: str) -> tuple[int, str]:
        code = cli.main(["serve", *argv])
        err = capsys.readouterr().err
        return code, err

    code, err = run(str(tmp_path / "missing.engine"))
    assert code == 2 and "no such engine file" in err and err.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run(str(engine), "--port", str(port), "--repository", str(tmp_path / "r1"))
    assert code == 2 and f"port {port} (HTTP) on 127.0.0.1 is in use" in err and err.count("\n") == 1
    assert not (tmp_path / "r1").exists()  # nothing written for a server that cannot start
    tampered = tmp_path / "tampered.engine"
    shutil.copy(engine, tampered)
    shutil.copy(engine_file.sidecar_path(engine), engine_file.sidecar_path(tampered))
    tampered.write_bytes(engine.read_bytes()[:-16] + b"\0" * 16)  # same size, other bytes
    code, err = run(str(tampered), "--port", "0", "--repository", str(tmp_path / "r2"))
    assert code == 2 and "sha256" in err and err.count("\n") == 1
    code, err = run(str(engine), "--max-batch", "99", "--port", "0", "--repository", str(tmp_path / "r3"))
    assert code == 2 and "accepts batches 1 to 8" in err
    code, err = run(str(engine), "--instances", "0")
    assert code == 2 and "at least one instance" in err
    code, err = run(str(engine), "--port", "70000")
    assert code == 2 and "a port from 1 to 65533" in err
    side = json.loads(engine_file.sidecar_path(engine).read_text())
    assert side["engine"]["sha256"]  # untouched by the tests above
