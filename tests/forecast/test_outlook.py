"""The forecast's intervals corrected per total (``forecast.outlook`` with an
``IntervalCalibration``): each total's half widths times its own factor, ending MRR with
NRR's, a total without one with its group's."""

from __future__ import annotations

from dataclasses import replace

import ibis
import pandas as pd
import pytest

from forecast.book import book_from_tables
from forecast.conformal import IntervalCalibration
from forecast.outlook import OutlookRequest, forecast_outlook
from tests.forecast.helpers import AS_OF, CSMS, GRACE, SEGMENTS, subscriptions_table

SCORED = {"NEW": 100.0, "EXPAND": 150.0, "CONTRACT": 60.0, "LATE": 130.0, "BACK": 120.0}


def _book():  # type: ignore[no-untyped-def]
    accounts = ibis.memtable(
        pd.DataFrame(
            [{"account_id": a, "segment": s, "csm_id": CSMS.get(a)} for a, s in SEGMENTS.items()]
        )
    )
    return book_from_tables(subscriptions_table(), accounts, AS_OF, GRACE)


def test_each_total_is_widened_by_its_own_factor() -> None:
    book = _book()
    scores = pd.DataFrame(
        {
            "account_id": list(SCORED),
            "snapshot_date": AS_OF,
            "churn_probability": [0.3, 0.4, 0.5, 0.3, 0.4],
            "expansion_probability": [0.2, 0.3, 0.1, 0.3, 0.2],
            "mrr": list(SCORED.values()),
        }
    )
    ones = {"0.8": 1.0, "0.9": 1.0}
    calibration = IntervalCalibration(
        3,
        {3: ones},
        total_factors={
            3: {"*": {"churned": {"0.8": 0.5, "0.9": 0.5}, "nrr": ones | {"0.8": 0.25}}}
        },
    )
    request = OutlookRequest((3,), simulations=400, seed=1)
    raw = forecast_outlook(book, scores, request)
    fixed = forecast_outlook(book, scores, replace(request, calibration=calibration))
    (before,) = raw["horizons"][0]["groups"]
    (after,) = fixed["horizons"][0]["groups"]

    def halves(group: dict[str, object], total: str, level: str) -> tuple[float, float]:
        value = group[total]
        assert isinstance(value, dict)
        low, high = value[level]
        return value["expected"] - low, high - value["expected"]

    for total, level, factor in (
        ("churned", "0.8", 0.5),
        ("churned", "0.9", 0.5),
        ("nrr", "0.8", 0.25),
        ("nrr", "0.9", 1.0),
        ("end_mrr", "0.8", 0.25),  # NRR's factor: ending MRR is NRR times the start
        ("contraction", "0.8", 1.0),  # no factor of its own: the pooled one
    ):
        low, high = halves(before, total, level)
        assert halves(after, total, level) == pytest.approx(
            (factor * low, factor * high), abs=0.02 if total != "nrr" else 1e-4
        ), (total, level)
    assert fixed["intervals_backtested"] is True
