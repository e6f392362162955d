"""Chapters 4 and 5 executed with papermill; assertions on the build times, sizes and refusals they record."""
from __future__ import annotations

import pytest

from trtlab import backend, engine_file

pytestmark = pytest.mark.notebook
RTX = backend.name_of(backend.load()) == "tensorrt_rtx"


def test_04_build_engine(run_notebook):
    rec = run_notebook("04_build_engine", MAX_BATCH=32, SWEEP_BATCHES=[1, 32, 128], SWEEP_LEVELS=[0, 3],
                       REPEATS=2).records
    assert 500_000 < rec["lenet_engine_bytes"] < 20_000_000  # LeNet's 431k FP32 weights are ~1.7 MB
    assert 0 < rec["lenet_build_seconds"] < 60
    assert rec["api_present"]["builder.build_serialized_network"] and rec["api_present"]["config.set_memory_pool_limit"]
    assert not rec["api_present"]["builder.build_cuda_engine"] and not rec["api_present"]["builder.max_batch_size"]
    assert not rec["api_present"]["config.max_workspace_size"]
    sweep = rec["sweep"]
    assert [r["max_batch"] for r in sweep if r["opt_level"] == 3] == [1, 32, 128]
    assert {r["opt_level"] for r in sweep if r["max_batch"] == 32} == {0, 3}
    assert all(0 < r["build_s_min"] <= r["build_s"] <= r["build_s_max"] and r["size_bytes"] > 500_000 for r in sweep)
    # strongly typed FP16: weights in half precision make the plan markedly smaller
    assert rec["fp16_engine_bytes"] < rec["fp32_engine_bytes"]
    assert 0.3 < rec["fp16_size_ratio"] < 0.8
    assert [r["precision"] for r in rec["explorer_rows"]] == ["fp16", "fp32"]
    assert rec["lenet_engine_file"] == "lenet.engine"
    if RTX:
        assert rec["aot_targets"] == ["SM86", "SM89", "SM120"]
        auto = backend.default_targets("tensorrt_rtx")  # a GPU TensorRT-RTX runs on: built for it
        portable = auto is None or backend.gpus()[0].compute_capability in backend.RTX_NO_FP32_GEMM  # Turing:
        assert ({"8.6", "8.9", "12.0"} if portable else {backend.gpus()[0].cc}) <= set(rec["default_targets"])  # FP32 GEMM
        assert rec["timing_cache_written"] is False and rec["has_runtime_cache_api"] is True
    # issue 14: strong typing, profiles with a dynamic height/width, their errors, the workspace, targets
    typed = rec["strong_typing"]
    if RTX:  # always strongly typed; on 10.x create_network(0) is weakly typed and the flag makes it strong
        assert typed["NetworkDefinitionCreationFlag.STRONGLY_TYPED exists"] is True
        assert typed["create_network(0) is strongly typed"] is True
    elif typed["NetworkDefinitionCreationFlag.STRONGLY_TYPED exists"]:
        assert typed["create_network(1 << STRONGLY_TYPED) is strongly typed"] is True
    one, two = rec["profile_builds"]
    assert (one["profiles"], two["profiles"]) == (1, 2) and 0 < one["bytes"] < two["bytes"]
    errors = rec["profile_errors"]
    assert "MIN<=OPT<=MAX" in errors["min > opt (batch 8 .. opt 1)"][0]
    assert "MIN<=OPT<=MAX" in errors["opt > max (opt 8, max 4)"][0]
    assert "Dimension mismatch for tensor x" in errors["3 channels for a 1-channel input"][0]
    assert rec["profile_fixed_bytes"] == one["bytes"]
    ws = {r["limit_bytes"]: r for r in rec["workspace_rows"]}
    assert ws[None]["built"] and ws[1 << 30]["built"] and ws[1 << 30]["bytes"] == ws[None]["bytes"]
    assert not ws[0]["built"] and "workspace" in ws[0]["message"]
    assert not ws[1 << 20]["built"] and ws[1 << 20]["message"]
    targets = {r["target"]: r for r in rec["target_rows"]}
    if RTX:
        assert "Turing" in targets["7.5"]["error"] and targets["7.5"]["bytes"] is None
        assert targets["7.5 (FP16 model)"]["in_plan"] == ["7.5"] and targets["7.5 (FP16 model)"]["bytes"] > 0
        for cc in ("8.0", "8.6", "8.9", "12.0"):
            assert targets[cc]["in_plan"] == [cc] and 500_000 < targets[cc]["bytes"] < 20_000_000
        assert abs(targets["8.9 (polygraphy convert)"]["bytes"] - targets["8.9"]["bytes"]) < 0.05 * targets["8.9"]["bytes"]
    else:
        assert targets == {}


def test_05_serialize_engine(run_notebook, shared_artifacts):
    result = run_notebook("05_serialize_engine", MAX_BATCH=8, TRUNCATE_TO=3000)
    rec = result.records
    # the raw build targets the portable set; trtlab.build targets this GPU where TensorRT-RTX runs on it
    same_targets = not RTX or backend.default_targets("tensorrt_rtx") is None
    assert rec["plan_bytes"] > 500_000 and rec["engine_bytes"] > 500_000
    assert rec["plan_bytes"] == rec["engine_bytes"] or not same_targets
    assert {"engine", "backend", "version", "targets", "io", "profiles", "options", "source_model"} <= set(rec["sidecar_keys"])
    assert rec["interrupted_save"] == {"exit_status": -9, "unchanged": True, "intact": True, "temp_files_left": 1}
    good = rec["good_engine"]
    gpus = backend.gpus()  # the expectation from the probe and the engine's targets (Turing: the portable set)
    targets = engine_file.read_sidecar(shared_artifacts / "chapter05" / "lenet.engine")["targets"]
    fits = not (RTX and gpus and backend.probe().can_run and gpus[0].cc not in targets["compute_capabilities"])
    assert good["intact"] and good["compatible"] is fits
    r = rec["refusals"]
    assert "built with" in r["other_version"] and "engines only load on the TensorRT release that built them" in r["other_version"]
    assert "truncated: 3000 of" in r["truncated"]
    assert "sha256" in r["corrupt"] and "corrupt or was replaced" in r["corrupt"]
    assert "built for compute capability 12.0" in r["other_gpu"] and "is 8.6" in r["other_gpu"]
    assert "does not run engines on compute capability 9.0" in r["unsupported_cc"]
    assert all(v != "loaded" for v in r.values())
    assert "no sidecar" in rec["missing_sidecar"]["warning"] and rec["missing_sidecar"]["intact"]
    shown = result.output.read_text() if result.output else ""  # the page shows the warning it promises
    assert rec["missing_sidecar"]["shown"] and "warning: orphan.engine: no sidecar orphan.engine.json" in shown
    if not backend.gpus():  # this machine: built here, cannot be deserialized here, and says why
        assert rec["can_deserialize_here"] is False
        assert rec["deserialize_reason"] == backend.probe().run_reason
        assert rec["deserialize_result"] == "None"
        assert "cannot be deserialized on this machine" in good["reason"]
    if RTX:
        assert "not a TensorRT-RTX engine" in r["random_bytes"]
        assert rec["engine_validity"]["random bytes"] == {"validity": "INVALID", "flags": ["MALFORMED_ENGINE"]}
        notes = [n for n in rec["compat_notes"] if "built the portable set" not in n]  # Turing's fallback note
        assert len(notes) == 2 and "version_compatible ignored" in notes[0]
