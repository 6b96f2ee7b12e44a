"""Churn probabilities put on the revenue scale (``forecast.level``) on hand-made rows: the
churned MRR of whole months, the recent experience (expected against realised churned MRR
per segment), pooling over snapshot dates, the credibility of a segment's own ratio, and the
capped rescaling."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecast.level import (
    Experience,
    churned_between,
    credible_ratios,
    experience,
    paying_counts,
    pooled,
    rescaled,
)


def test_churned_mrr_of_whole_months_per_account() -> None:
    movements = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "b", "c"],
            "month": pd.to_datetime(
                ["2024-01-01", "2024-03-01", "2024-02-01", "2024-04-01", "2024-02-01"]
            ),
            "churned": [10.0, 30.0, 5.0, 70.0, 0.0],
        }
    )
    # [Feb, Apr): a's March churn and b's February one; b's April churn is after the end,
    # a's January one before the start; d has no rows
    got = churned_between(movements, ["a", "b", "c", "d"], date(2024, 2, 1), date(2024, 4, 1))
    assert got.tolist() == [30.0, 5.0, 0.0, 0.0]


def test_recent_experience_per_segment_and_for_all() -> None:
    mrr = np.array([100.0, 1000.0, 50.0, 50.0, np.nan])
    p = np.array([0.5, 0.1, 0.2, 0.2, 0.3])
    lost = np.array([0.0, 1000.0, 50.0, 0.0, 0.0])
    segment = np.array(["ent", "ent", "smb", "smb", None], dtype=object)
    got = experience(mrr, p, lost, segment)
    assert got["ent"] == Experience(150.0, 1000.0, 1)
    assert got["smb"] == Experience(20.0, 50.0, 1)
    assert got["None"] == Experience(0.0, 0.0, 0)  # no MRR: nothing expected
    assert got["*"] == Experience(170.0, 1050.0, 2)


def test_snapshot_dates_pool_and_a_segment_is_as_credible_as_its_churns() -> None:
    one = {"*": Experience(100.0, 150.0, 12), "ent": Experience(20.0, 60.0, 2)}
    two = {
        "*": Experience(100.0, 100.0, 8),
        "ent": Experience(20.0, 20.0, 2),
        "x": Experience(0.0, 0.0, 0),
    }
    both = pooled([one, two])
    assert both == {
        "*": Experience(200.0, 250.0, 20),
        "ent": Experience(40.0, 80.0, 4),
        "x": Experience(0.0, 0.0, 0),
    }
    ratios = credible_ratios(both, k=4)
    assert ratios["*"] == pytest.approx(1.25)
    # ent: own 2.0 on 4 churns, weighted 4 / (4 + 4) against the book's 1.25
    assert ratios["ent"] == pytest.approx(0.5 * 2.0 + 0.5 * 1.25)
    assert ratios["x"] == pytest.approx(1.25)  # nothing expected, no churn: the book's
    # with many churns a segment keeps nearly its own; with k = 0 exactly its own
    assert credible_ratios(both, k=0)["ent"] == pytest.approx(2.0)
    assert credible_ratios({}) == {"*": 1.0}
    assert credible_ratios({"*": Experience(0.0, 5.0, 1)}) == {"*": 1.0}


def test_rescaling_is_per_segment_and_capped_at_one() -> None:
    ratios = {"*": 2.0, "ent": 4.0}
    out = rescaled(np.array([0.1, 0.3, 0.1]), np.array(["ent", "ent", "smb"]), ratios)
    assert out == pytest.approx([0.4, 1.0, 0.2])
    assert rescaled(np.array([0.1]), np.array(["x"]), {}) == pytest.approx([0.1])


def test_paying_rows_count_as_one_account_each() -> None:
    mrr = np.array([5000.0, 10.0, 0.0, np.nan, 20.0])
    lost = np.array([5000.0, 0.0, 0.0, 0.0, 20.0])
    weight, churned = paying_counts(mrr, lost)
    assert weight.tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert churned.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    # counted, a churn of 5,000 weighs what a churn of 20 does
    got = experience(weight, np.array([0.1, 0.2, 0.9, 0.9, 0.3]), churned, np.full(5, "smb"))
    assert got["smb"] == Experience(pytest.approx(0.6), 2.0, 2)
