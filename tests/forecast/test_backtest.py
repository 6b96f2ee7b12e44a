"""The backtests' pure part: realised totals of a cohort on the hand-made book, and the
report (coverage, leave-one-window-out correction, errors, calibration) on hand-made
forecasts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from forecast.backtest import Window, evaluate, realised
from forecast.conformal import IntervalCalibration
from forecast.movements import account_movements
from tests.forecast.helpers import AS_OF, GRACE, SEGMENTS, subscriptions_table


def test_realised_totals_of_a_cohort_over_three_months() -> None:
    history = account_movements(subscriptions_table(), AS_OF, GRACE)
    cohort = ["NEW", "EXPAND", "CONTRACT", "CHURN", "LATE", "ZERO", "BACK"]
    out = realised(history, cohort, SEGMENTS, date(2024, 3, 1), 3)
    book = out["*"]
    # March: EXPAND +50, LATE +30 (renewed late at 130), CHURN leaves (100); April: CONTRACT
    # -40; May: ZERO -100. BACK left in February and its return in April counts in nothing.
    assert (book["start_mrr"], book["churned"]) == (600.0, 100.0)
    assert (book["expansion"], book["contraction"]) == (80.0, 140.0)
    assert book["nrr"] == pytest.approx(440 / 600)
    assert book["grr"] == pytest.approx(360 / 600)
    assert out["enterprise"]["churned"] == 100.0
    assert (out["smb"]["start_mrr"], out["smb"]["contraction"]) == (300.0, 100.0)
    assert (out["mid_market"]["expansion"], out["mid_market"]["contraction"]) == (30.0, 40.0)
    with pytest.raises(ValueError, match="does not cover month 2024-07-01"):
        realised(history, cohort, SEGMENTS, date(2024, 5, 1), 3)


TOTALS = ("churned", "contraction", "expansion", "end_mrr", "grr", "nrr")


def _group(name: str | None, expected: float) -> dict[str, Any]:
    value = {"expected": expected, "0.8": [expected - 10, expected + 10]}
    value["0.9"] = list(value["0.8"])
    totals = dict.fromkeys(TOTALS, expected)
    baselines = {
        "trailing_3m": totals | {"churned": expected + 30, "nrr": expected - 2},
        "sum_of_expectations": totals | {"churned": expected + 4},
    }
    return {"group": name, **{t: dict(value) for t in TOTALS}, "baselines": baselines}


def _window(month: int, churn_score: float) -> Window:
    """Every total expected at 100 with [90, 110] at both levels; the realised churned MRR
    is ``churn_score`` half widths above, every other total as expected."""
    forecast = {"horizons": [{"months": 3, "groups": [_group(None, 100.0), _group("smb", 100.0)]}]}
    truth = dict.fromkeys(TOTALS, 100.0) | {"churned": 100.0 + 10 * churn_score}
    return Window(date(2025, month, 1), forecast, {3: {"*": truth, "smb": dict(truth)}})


def test_report_and_calibration_on_hand_made_windows() -> None:
    windows = [_window(m, s) for m, s in zip((1, 2, 3, 4), (0.5, 1.5, 3.0, 0.2), strict=True)]
    report, calibration = evaluate(windows, [3])
    assert report["windows"] == 4
    (h,) = report["horizons"]
    assert h["months"] == 3
    # raw: churned misses in windows 2 and 3, the four other totals always hit: 18 of 20
    assert h["coverage_raw"] == {"0.8": 0.9, "0.9": 0.9}
    # leave one window out, per group and total: each total's factor is the largest of the
    # other three windows' scores of it (rank ceil(4 * level) = 4 > 3); churned: 0.5, 1.5 and
    # 0.2 stay under the others' largest, 3.0 (window 3) does not; the other totals score 0
    assert h["coverage"] == {"0.8": 0.95, "0.9": 0.95}
    assert h["coverage_by_segment"] == {"smb": {"0.8": 0.95, "0.9": 0.95}}
    assert h["coverage_by_total"]["churned"] == {"0.8": 0.75, "0.9": 0.75}
    assert h["coverage_by_total"]["nrr"] == {"0.8": 1.0, "0.9": 1.0}
    # one factor for all totals (15 scores of the others, 12 of them 0): at 80% the 13th
    # smallest is the others' smallest churn score, which only window 4 stays under; at 90%
    # the 15th is the others' largest, which all but window 3 (score 3.0) stay under
    assert h["coverage_one_factor"] == {"0.8": 0.85, "0.9": 0.95}
    assert h["coverage_by_total_one_factor"]["churned"] == {"0.8": 0.25, "0.9": 0.75}
    # MAE of churned MRR: |100 - (100 + 10 s)| averaged = 10 * mean(s) = 13.0
    assert h["mae_churned_mrr"] == pytest.approx(13.0)
    # realised 105, 115, 130, 102 against 130 and 104
    assert h["baseline_mae_churned_mrr"] == pytest.approx((25 + 15 + 0 + 28) / 4)
    assert h["expectations_mae_churned_mrr"] == pytest.approx((1 + 11 + 26 + 2) / 4)
    assert (h["mae_nrr"], h["baseline_mae_nrr"]) == (0.0, 2.0)
    # all 40 scores: 32 zeros, then 0.2 0.2 0.5 0.5 1.5 1.5 3 3; ranks 33 and 37
    assert calibration.factor(3, "0.8") == 0.2
    assert calibration.factor(3, "0.9") == 1.5
    # per group: 16 zeros, then 0.2 0.5 1.5 3; ranks 17 and 19
    assert calibration.group_factors[3]["segment:smb"] == {"0.8": 0.2, "0.9": 1.5}
    assert calibration.factor(3, "0.9", "segment:smb") == 1.5
    assert calibration.factor(3, "0.9", "csm:ann") == 1.5  # no own factor: the pooled one
    # per total: churned's own (4 scores, rank min(ceil(5 * 0.8), 4) = 4), the others' 0;
    # ending MRR takes NRR's; a group the backtests lack takes the total's over all groups
    assert calibration.total_factors[3]["*"]["churned"] == {"0.8": 3.0, "0.9": 3.0}
    assert calibration.factor(3, "0.8", "*", "nrr") == 0.0
    assert calibration.factor(3, "0.8", "*", "end_mrr") == 0.0
    assert calibration.factor(3, "0.8", "csm:ann", "churned") == 3.0
    assert calibration.factor(3, "0.8", "csm:ann", "grr") == 0.0
    # the per-total factors survive the calibration file's round trip
    assert IntervalCalibration.from_dict(calibration.to_dict()) == calibration
    assert calibration.windows == 4
    assert calibration.facts["as_of"][0] == "2025-01-01"
