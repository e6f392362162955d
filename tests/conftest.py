"""Shared fixtures: a notebook runner that executes a chapter with papermill and returns
what it recorded, and the `gpu` marker's skip."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from trtlab import backend, book

ROOT = Path(__file__).resolve().parent.parent
# Tests use the shipped MNIST sample: same numbers on every machine.
os.environ.setdefault("TRTLAB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    if backend.real_gpus():  # a GPU simulated by TRTLAB_SIMULATE_GPU cannot run CUDA
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU: NVML found none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# What CUDA says when it is asked to run on a GPU that TRTLAB_SIMULATE_GPU only pretends is there.
_NO_REAL_CUDA = ("cudaErrorInsufficientDriver", "cudaError 35", "CUDA driver version is insufficient",
                 "cudaErrorNoDevice", "no CUDA-capable device")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With TRTLAB_SIMULATE_GPU (tests only) the probe says engines run here, and a test that then
    really runs one meets the missing driver: that is a skip with its reason, not a failure. Every
    other failure stays a failure; without the simulation nothing changes."""
    outcome = yield
    rep = outcome.get_result()
    if not (rep.failed and call.excinfo is not None and backend.simulated() and not backend.real_gpus()):
        return
    text = rep.longreprtext + "".join(content for _, content in rep.sections)
    hit = next((s for s in _NO_REAL_CUDA if s in text), None)
    if hit is not None and backend.probe().can_run:
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), item.location[1] or 0,
                        f"Skipped: {backend.SIMULATE_ENV}={os.environ[backend.SIMULATE_ENV]}: the probe says "
                        f"engines run here, and running one met the missing CUDA driver ({hit})")


@pytest.fixture(scope="session")
def shared_artifacts(tmp_path_factory) -> Path:
    """One artifacts folder for every notebook test, so chapter 03 reuses chapter 02's model."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def run_notebook(shared_artifacts, tmp_path_factory):
    """run_notebook("02_network_from_scratch", EPOCHS=1) -> book.Result (asserts it ran)."""
    out_dir = tmp_path_factory.mktemp("executed")

    def run(name: str, **parameters) -> book.Result:
        [path] = book.notebooks(name)
        result = book.execute(path, out_dir / path.name, parameters=parameters, artifacts=shared_artifacts)
        assert result.ok, f"{path.name} failed: {result.error} (executed copy: {result.output})"
        return result

    return run


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """End a server started by a test: SIGTERM, then SIGKILL if it lingers."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
