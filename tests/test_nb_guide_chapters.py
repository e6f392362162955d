"""The guide's empty chapters 4-9 as notebooks 08-13, executed with papermill."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


def test_08_custom_layers(run_notebook):
    rec = run_notebook("08_custom_layers", BATCH=16).records
    assert rec["custom_op_parsed"] is False           # the unknown op is refused by the parser
    assert rec["rewritten_parsed"] is True            # and parses once written with standard ops
    assert rec["composed_max_abs_error"] < 1e-5       # the composition is hard-swish (CPU reference)
    assert rec["plugin_creators"] >= 1


def test_09_mixed_precision(run_notebook):
    rec = run_notebook("09_mixed_precision", N_DIGITS=500).records
    assert rec["fp16_engine_bytes"] < 0.75 * rec["fp32_engine_bytes"]
    assert rec["fp32_accuracy"] >= 0.97
    assert rec["fp16_argmax_agreement"] >= 0.998
    assert 0 < rec["fp16_max_logit_difference"] < 0.1


def test_10_dla(run_notebook):
    rec = run_notebook("10_dla").records
    assert rec == {"dla_cores": 0, "layers_on_dla": 0}


def test_12_frameworks(run_notebook):
    rec = run_notebook("12_frameworks", N_DIGITS=500).records
    assert rec["tf_trt_usable"] is False              # TensorFlow 2.18+ has no TensorRT inside
    assert rec["ort_vs_tf_max_abs"] < 1e-4
    assert rec["ort_vs_tf_agreement"] == 1.0


def test_13_troubleshooting(run_notebook):
    rec = run_notebook("13_troubleshooting").records
    assert rec["no_profile_build_failed"] is True
    assert rec["bad_profile_build_failed"] is True
    assert rec["parser_errors"] == 1
    caps = backend.probe()  # a raw build (no target named) covers RTX_DEFAULT_BUILD on TensorRT-RTX: no Turing
    runs = caps.can_run and not caps.simulated and (
        caps.backend == "tensorrt" or caps.gpu.compute_capability in backend.RTX_DEFAULT_BUILD)
    assert rec["deserialized_here"] is runs
    assert rec["polygraphy_ok"] is True


def test_11_deployment(run_notebook):
    rec = run_notebook("11_deployment", MAX_BATCH=16).records
    caps = backend.probe()
    if caps.can_run and caps.simulated:
        pytest.skip("TRTLAB_SIMULATE_GPU: the probe says the engine runs here, so inspect loads it on a GPU "
                    "that is not there")
    assert rec["inspect_exit_code"] == 0          # inspect reports; it does not fail on a foreign machine
    assert rec["can_run_here"] is caps.can_run    # built for this GPU where one runs it; else the sidecar refuses
    assert rec["triton_files"] == ["lenet/1/model.plan", "lenet/config.pbtxt"]
