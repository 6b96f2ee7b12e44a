"""Churn probabilities put on the revenue scale (``forecast.level``) on hand-made rows: the
ratio of realised to expected churned MRR per segment, the fallback for a segment with few
churns, and the capped rescaling."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.level import rescaled, revenue_ratios


def test_realised_over_expected_churned_mrr_per_segment() -> None:
    mrr = np.array([100.0, 1000.0, 50.0, 50.0, 10.0, 999.0])
    p = np.array([0.5, 0.1, 0.2, 0.2, 0.5, 0.4])
    churned = np.array([0.0, 1.0, 1.0, 0.0, 1.0, np.nan])  # the last outcome is unknown
    segment = np.array(["ent", "ent", "smb", "smb", None, "smb"], dtype=object)
    ratios = revenue_ratios(mrr, p, churned, segment, min_churns=1)
    # ent: 1000 churned against 50 + 100 expected; smb: 50 against 20; none: 10 against 5
    assert ratios["ent"] == pytest.approx(1000 / 150)
    assert ratios["smb"] == pytest.approx(50 / 20)
    assert ratios["None"] == pytest.approx(2.0)
    assert ratios["*"] == pytest.approx(1060 / 175)
    # a segment with fewer churns than asked takes the ratio of all rows
    few = revenue_ratios(mrr, p, churned, segment, min_churns=2)
    assert set(few) == {"*"}


def test_rescaling_is_per_segment_and_capped_at_one() -> None:
    ratios = {"*": 2.0, "ent": 4.0}
    out = rescaled(np.array([0.1, 0.3, 0.1]), np.array(["ent", "ent", "smb"]), ratios)
    assert out == pytest.approx([0.4, 1.0, 0.2])
    assert rescaled(np.array([0.1]), np.array(["x"]), {}) == pytest.approx([0.1])
    assert revenue_ratios(np.zeros(2), np.zeros(2), np.zeros(2), np.array(["a", "a"])) == {"*": 1.0}
