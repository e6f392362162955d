"""Chapter 7 executed with papermill: the checker's findings on the guide-style legacy
scripts (counts by severity and target), the modern scripts clean, the CLI's exit codes,
the legacy calls really absent from the installed TensorRT, --fix on a copy."""
from __future__ import annotations

import pytest

from trtlab import backend

pytestmark = pytest.mark.notebook
TRT = backend.load()
RTX = backend.name_of(TRT) == "tensorrt_rtx"


def test_07_migrating_legacy_code(run_notebook):
    rec = run_notebook("07_migrating_legacy_code").records
    assert rec["target"] == "11"
    assert rec["legacy_counts"] == {"error": 33, "warning": 0, "advice": 1}
    assert rec["legacy_total"] == 34
    assert rec["legacy_per_file"] == {"inference.py": 4, "network_from_scratch.py": 14,
                                      "precision.py": 7, "uff_parser.py": 9}
    assert {"implicit-batch", "uff-parser", "add-fully-connected", "build-cuda-engine", "flag-fp16",
            "context-execute-async", "engine-get-binding-shape", "layer-precision",
            "layer-set-output-type"} <= set(rec["legacy_rules"])
    assert rec["modern_total"] == 0
    assert rec["cli_exit_codes"] == {"legacy": 1, "modern": 0}
    # weak typing: deprecated on 10 (warnings), removed on 11 and TensorRT-RTX (errors)
    assert rec["counts_by_target"] == {"10": {"error": 26, "warning": 7, "advice": 1},
                                       "11": {"error": 33, "warning": 0, "advice": 1},
                                       "rtx": {"error": 33, "warning": 0, "advice": 1}}
    present = rec["api_present"]
    assert all(present[k] for k in ("builder.build_serialized_network", "network.add_convolution_nd",
                                    "network.add_matrix_multiply", "trt.OnnxParser",
                                    "engine.get_tensor_shape", "context.execute_async_v3"))
    assert not any(present[k] for k in ("builder.build_cuda_engine", "builder.max_batch_size",
                                        "network.add_convolution", "network.add_fully_connected", "trt.UffParser",
                                        "engine.get_binding_shape", "context.execute_async_v2"))
    if RTX:
        assert present["trt.IInt8EntropyCalibrator2"] is False
    if backend.probe().can_build:
        assert rec["modern_network"] == {"ran": True, "layers": 14, "output_shape": [-1, 10]}
    else:
        assert rec["modern_network"]["ran"] is False and rec["modern_network"]["why"]
    assert rec["fix"] == {"edits": 8, "before": 14, "after": 6, "backup_exists": True,
                          "left": ["add-fully-connected", "build-cuda-engine", "builder-max-batch-size",
                                   "builder-max-workspace-size", "implicit-batch"]}
