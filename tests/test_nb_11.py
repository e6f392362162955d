"""Chapter 11 under papermill: a real Triton server on 127.0.0.1, queried, loaded, killed and
restarted. What depends on the machine (which runner, whether a tensorrt_plan repository may
be written) comes from the engine's sidecar and trtlab's probe, not from constants."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


def test_11_deployment(run_notebook):
    caps = backend.probe()
    if caps.can_run and getattr(caps, "simulated", False):
        pytest.skip("TRTLAB_SIMULATE_GPU: the probe says the engine runs here, so inspect loads it on a GPU "
                    "that is not there")
    rec = run_notebook("11_deployment", MAX_BATCH=16, CONCURRENCIES=[1, 8], WINDOW_REQUESTS=100,
                       FAULT_REQUESTS=200).records
    assert rec["inspect_exit_code"] == 0          # inspect reports; it does not fail on a foreign machine
    if not caps.can_run:                          # no GPU the backend runs on: the sidecar check says so
        assert rec["can_run_here"] is False
    # the Triton way: batch from the profile, dims without it, a schema-valid config
    assert rec["plan_max_batch_size"] == 16
    assert rec["plan_input_dims"] == [1, 28, 28]
    assert rec["plan_config_problems"] == []
    assert rec["plan_refused"] is (rec["engine_backend"] == "tensorrt_rtx")
    # served for real; the runner follows what this machine can do
    assert rec["runner"] == ("tensorrt" if caps.can_run and rec["can_run_here"] else "onnxruntime")
    assert rec["triton_files"] == ["lenet/1/model.py", "lenet/config.pbtxt",
                                   "lenet_nobatch/1/model.py", "lenet_nobatch/config.pbtxt"]
    assert rec["server_version"] == "2.51.0"
    assert ("ONNX Runtime" in rec["served_label"]) is (rec["runner"] == "onnxruntime")
    assert rec["http_vs_reference_max_abs"] < 1e-3 and rec["grpc_vs_reference_max_abs"] < 1e-3
    assert rec["served_argmax_agreement"] == 1.0
    assert rec["metrics_has_lenet"] is True
    assert rec["malformed_refused"] == 3
    # under load: measured, and the batcher batched (without it, never)
    assert rec["c1_throughput"] > 0
    assert rec["avg_batch_c8"] > 1.0
    assert rec["nobatch_max_avg_batch"] == 1.0
    # faults: clean errors, nothing damaged, a restart serves, nothing left running
    assert rec["fault_answered"] >= 50 and rec["fault_failed"] > 0
    assert rec["fault_client_finished"] is True
    assert rec["repository_intact"] is True
    assert rec["restart_serves"] is True
    assert rec["processes_left"] == 0
    assert rec["k8s_kinds"] == ["Deployment", "HorizontalPodAutoscaler", "InferenceService", "Service"]
    assert rec["k8s_problems"] == 0
