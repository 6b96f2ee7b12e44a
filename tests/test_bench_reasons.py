"""The cause benchmark's arithmetic (bench/reasons_bench.py) on hand-made rows."""

from __future__ import annotations

import pytest

from bench.reasons_bench import cause_agreement

FAMILIES = {
    "champions": ("champions",),
    "support": ("support",),
    "value": ("voice_of_customer", "usage_depth"),
}


def test_agreement_counts_a_hit_per_accepted_family_and_skips_rows_without_a_cause() -> None:
    predicted = ["champions", "usage_depth", "support", None, "usage_depth", "champions"]
    causes = ["champions", "value", "champions", "support", None, "value"]

    out = cause_agreement(predicted, causes, FAMILIES)

    assert out["rows"] == 5  # the row without a true cause is left out
    assert out["agreement"] == pytest.approx(2 / 5)
    assert out["by_cause"] == {
        "champions": {"rows": 2, "agreement": 0.5},
        "support": {"rows": 1, "agreement": 0.0},
        "value": {"rows": 2, "agreement": 0.5},
    }
    assert out["confusion"] == {
        "champions": {"champions": 1, "support": 1},
        "value": {"usage_depth": 1, "champions": 1},
        "support": {"(none)": 1},
    }


def test_no_rows_means_no_agreement() -> None:
    assert cause_agreement([None], [None], FAMILIES)["agreement"] is None
