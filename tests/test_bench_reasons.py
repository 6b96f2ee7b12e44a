"""The cause benchmark's arithmetic (bench/reasons_bench.py) on hand-made rows."""

from __future__ import annotations

import pytest

from bench.reasons_bench import BARS, cause_agreement, report

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


def _run(seed: int, support: float) -> dict:
    return {
        "accounts": 2000,
        "months": 36,
        "seed": seed,
        "cutoff": "2025-08-01",
        "held_out_rows": 8000,
        "top_rows": 800,
        "min_top_probability": 0.2,
        "bars": BARS,
        "agreement": 0.6,
        "rows": 799,
        "by_cause": {"support": {"rows": 30, "agreement": support}},
        "baselines": {"ceiling": 0.7},
        "ceiling_by_cause": {"support": 0.1},
        "confusion": {"support": {"usage_depth": 20, "support": 10}},
        "main_reason_features": {"nps_last": 10},
        "seconds": {},
    }


def test_the_report_judges_each_seed_on_its_own() -> None:
    lines = report({"runs": [_run(11, 0.5), _run(23, 0.2)]})

    heads = [line for line in lines if line.startswith("2,000 accounts")]
    assert [h.split("(")[1].split(")")[0] for h in heads] == [
        "seed 11, parameters chosen on it",
        "seed 23, check: nothing chosen on it",
    ]
    support = [line for line in lines if "true cause support" in line]
    assert support[0].endswith("agreement 50% (bar >= 50%: met)")
    assert support[1].endswith("agreement 20% (bar >= 50%: NOT met)")
    assert sum("bar >= 70%: NOT met" in line for line in lines) == 2
