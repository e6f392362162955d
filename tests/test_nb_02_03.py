"""Chapters 02 and 03 executed with papermill: the hand-written and the parsed LeNet, each checked
against TensorFlow on the CPU reference; assertions on the values they record."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook


def test_02_network_from_scratch(run_notebook):
    rec = run_notebook("02_network_from_scratch", EPOCHS=2, N_TEST=2000, MAX_BATCH=16).records
    assert rec["data_source"] in ("sample", "full") and rec["n_test"] == 2000
    assert rec["tf_accuracy"] >= 0.97
    assert rec["max_abs_error"] <= 1e-4
    assert rec["argmax_agreement"] == 1.0
    # the deliberate mistake (fc1 weight in NHWC flatten order) is caught by the same check
    assert rec["mistake_max_abs_error"] > 1e-2 and rec["mistake_argmax_agreement"] < 0.5
    assert rec["legacy_calls_present"] == []  # add_convolution, add_fully_connected, … are gone
    caps = backend.probe()
    assert rec["engine_built"] is caps.can_build
    if caps.can_build:
        assert 500_000 < rec["engine_size"] < 20_000_000  # 431k FP32 weights are ~1.7 MB
        assert 0 < rec["build_seconds"] < 60
    assert rec["can_run"] is caps.can_run


def test_03_parse_tensorflow_model(run_notebook):
    rec = run_notebook("03_parse_tensorflow_model", MAX_BATCH=16).records
    assert rec["uff_parser_present"] is False
    assert rec["tf_accuracy"] >= 0.97
    assert rec["pb_inputs"] == ["Placeholder:0"] and rec["pb_outputs"] == ["logits:0"]
    assert rec["cli_exit_status"] == 0 and rec["cli_bad_exit_status"] == 2
    assert rec["network_inputs"] == ["Placeholder:0"] and rec["network_outputs"] == ["logits:0"]
    assert rec["parsed_layers"] > 15
    # surgeon sanitize --fold-constants (issue 14): nothing folds while the batch is dynamic; a frozen batch
    # or a (-1, features) target shape removes the shape arithmetic; no logit changes
    parsed, folded, fixed, static = rec["fold_rows"]
    assert parsed["layers"] == rec["parsed_layers"] and folded["layers"] == parsed["layers"]
    assert fixed["batch"] == "16" and fixed["layers"] < parsed["layers"] and fixed["onnx_nodes"] < parsed["onnx_nodes"]
    assert static["batch"] == "dynamic" and static["layers"] == fixed["layers"]
    assert all(r["max_abs_diff"] <= 1e-5 for r in rec["fold_rows"])
    assert rec["max_abs_error"] <= 1e-4
    assert rec["argmax_agreement"] == 1.0
    assert rec["parse_errors"]["lenet_truncated.onnx"] == ["MODEL_DESERIALIZE_FAILED"]
    assert rec["parse_errors"]["unknown_op.onnx"][0] in ("INVALID_NODE", "UNSUPPORTED_NODE")
    caps = backend.probe()
    assert rec["engine_built"] is caps.can_build
    if caps.can_build:
        assert 500_000 < rec["engine_size"] < 20_000_000
