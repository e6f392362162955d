"""Chapter 9 (mixed precision and quantization), executed with papermill: the accuracies of
every precision, the FP8 refusal for compute capability 8.6, and strong typing."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def rec(run_notebook):
    return run_notebook("09_mixed_precision", N_DIGITS=2000, SAMPLE_SWEEP=[8, 64, 512]).records


def test_strong_typing_and_fp16(rec):
    assert rec["strongly_typed"] is True
    assert rec["fp16_engine_bytes"] < 0.75 * rec["fp32_engine_bytes"]
    assert rec["fp16_argmax_agreement"] >= 0.998
    assert 0 < rec["fp16_max_logit_difference"] < 0.1


def test_accuracies_within_one_point_of_fp32(rec):
    fp32 = rec["fp32_ort_accuracy"]
    assert fp32 >= 0.97
    assert rec["fp32_reference_accuracy"] == pytest.approx(fp32, abs=0.001)  # two CPU evaluations of one model
    for precision in ("fp16", "int8", "fp8", "int4"):
        assert abs(rec[f"{precision}_ort_accuracy"] - fp32) <= 0.01, precision
        assert rec[f"{precision}_ort_agreement"] >= 0.99, precision
    for precision in ("fp16", "int8", "fp8", "int4"):  # every row runs on the CPU reference, Q/DQ exactly
        assert rec[f"{precision}_reference_accuracy"] is not None, precision
        assert abs(rec[f"{precision}_reference_accuracy"] - fp32) <= 0.01, precision
    # INT4 (fc1's weights only, blocks of 32): measured 0.9785 against FP32's 0.9790 on 2,000 digits
    assert rec["int4_reference_accuracy"] >= fp32 - 0.005


def test_reference_and_onnx_runtime_agree_on_qdq(rec):
    for precision in ("int8", "fp8", "int4"):  # the same model, two CPU evaluations: the same digits
        assert rec[f"{precision}_reference_ort_agreement"] >= 0.995, precision
        assert abs(rec[f"{precision}_reference_accuracy"] - rec[f"{precision}_ort_accuracy"]) <= 0.002, precision
    # weight-only INT4: activations stay float32, so only float rounding separates them (measured 5.7e-6)
    assert rec["int4_reference_ort_max_logit_difference"] < 1e-3
    # INT8/FP8: at most about one step of the logits' quantization grid (INT8's: 0.166 here, measured 0.166)
    assert 0 <= rec["int8_reference_ort_max_logit_difference"] < 0.5
    assert 0 <= rec["fp8_reference_ort_max_logit_difference"] < 2.0


def test_qdq_made(rec):
    assert rec["int8_qdq_pairs"] == 12          # LeNet: every Conv/MatMul input and output, ORT's placement
    assert rec["int4_weights_quantized"] == 1   # fc1 (K=800); fc2's K=500 does not divide into 32-wide blocks


def test_fp8_refused_for_ampere(rec):
    if backend.name_of(backend.load()) != "tensorrt_rtx":
        pytest.skip("ahead-of-time targets are a TensorRT-RTX feature; enterprise TensorRT builds for this GPU")
    assert rec["fp8_sm86_refused"] is True
    assert "Cannot compile for target(s) sm86" in rec["fp8_sm86_message"]
    assert "fp8" in rec["fp8_sm86_message"]
    assert rec["engines_built"] == 5 * 3 - 1     # every precision for 8.6, 8.9 and 12.0 but FP8 for 8.6


def test_ort_fp8_explained(rec):
    # ORT's extended CPU optimizations mis-execute FP8 Q/DQ; basic ones do not (the 0.925 puzzle)
    assert rec["fp8_ort_extended_accuracy"] < rec["fp8_ort_accuracy"] - 0.02
    assert abs(rec["fp8_std_basic_accuracy"] - rec["fp32_ort_accuracy"]) <= 0.01


def test_calibration_sweep(rec):
    for precision in ("int8", "fp8"):
        for n in (8, 64, 512):
            assert 0.9 <= rec[f"{precision}_samples_{n}_accuracy"] <= 1.0
        # more calibration digits, a truer range: the worst logit error shrinks (8 digits saturate the largest)
        assert rec[f"{precision}_samples_512_max_logit_difference"] < rec[f"{precision}_samples_8_max_logit_difference"]
    for method in ("minmax", "entropy", "percentile", "distribution"):
        assert abs(rec[f"int8_{method}_accuracy"] - rec["fp32_ort_accuracy"]) <= 0.01, method
    assert rec["int8_samples_512_accuracy"] == rec["int8_ort_accuracy"]  # the same model as the table's


def test_tensorrt_figure_where_it_runs(rec):
    caps = backend.probe()
    if caps.can_run and caps.simulated and not backend.real_gpus():
        pytest.skip(f"{backend.SIMULATE_ENV}: the probe says engines run here, and the chapter's TensorRT column "
                    "needs the GPU that is not there (it records 'not run' with the reason)")
    # an FP32 LeNet does not build for a GPU where TensorRT-RTX compiles no FP32 matrix multiply (Turing)
    no_fp32 = caps.backend == "tensorrt_rtx" and caps.gpu is not None and \
        caps.gpu.compute_capability in backend.RTX_NO_FP32_GEMM
    assert rec["tensorrt_ran"] is (caps.can_run and not no_fp32)
    if rec["tensorrt_ran"]:
        assert abs(rec["int8_tensorrt_accuracy"] - rec["fp32_tensorrt_accuracy"]) <= 0.01
    else:
        assert rec["fp32_tensorrt_accuracy"] is None
