from __future__ import annotations

import numpy as np
import pytest

from trtlab.recorder import MIME, preview, read_records, record


def test_record_stores_json_and_shows_a_short_line(capsys):
    assert record("accuracy", np.float32(0.979)) is None  # nothing echoed as Out[n]
    assert capsys.readouterr().out.strip() == "[record] accuracy = 0.9789999723434448"


def test_long_values_are_stored_whole_and_shown_short():
    table = [{"batch": b, "p50_ms": 0.123456 * b} for b in range(100)]
    shown = preview(table)
    assert len(shown) < 200 and shown.endswith("characters in all)")
    nb = {"cells": [{"outputs": [{"data": {MIME: {"name": "rows", "value": table}}}]}]}
    assert read_records(nb) == {"rows": table}


def test_unstorable_value_fails_in_the_notebook():
    with pytest.raises(TypeError):
        record("engine", object())
