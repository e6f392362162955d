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


def test_10_dla(run_notebook):
    rec = run_notebook("10_dla").records
    assert rec == {"dla_cores": 0, "layers_on_dla": 0}


def test_12_frameworks(run_notebook):
    rec = run_notebook("12_frameworks", N_DIGITS=500).records
    assert rec["tf_trt_usable"] is False              # TensorFlow 2.18+ has no TensorRT inside
    assert rec["ort_vs_tf_max_abs"] < 1e-4
    assert rec["ort_vs_tf_agreement"] == 1.0


