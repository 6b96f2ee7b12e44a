"""The survival benchmark's arithmetic (bench/survival_bench.py) on hand-made results."""

from __future__ import annotations

from datetime import date

import pytest

from bench.survival_bench import _bars, _months_before


def test_the_cut_is_whole_months_before_the_as_of() -> None:
    assert _months_before(date(2026, 1, 1), 16) == date(2024, 9, 1)
    assert _months_before(date(2025, 3, 15), 3) == date(2024, 12, 1)


def _model(ibs: float, uno: float, auc: float, cal: float) -> dict:
    return {
        "ibs": ibs,
        "uno_c": uno,
        "td_auc": {"90": auc, "180": auc, "365": auc},
        "calibration_max": {"90": cal, "180": cal},
    }


def test_bars_are_ratios_to_the_baselines_of_the_same_run() -> None:
    out = {
        "metrics": {
            "survival": _model(0.05, 0.72, 0.80, 0.01),
            "kaplan_meier": _model(0.10, 0.5, 0.5, 0.0),
            "cox": _model(0.06, 0.69, 0.75, 0.0),
        },
        "classifier_td_auc": {"90": 0.80, "180": 0.85, "365": 0.70},
        "train_time_ratio": 3.5,
        "scoring": {"added": 0.2},
    }
    bars = _bars(out)
    assert bars["ibs_vs_km"]["value"] == pytest.approx(0.5) and bars["ibs_vs_km"]["holds"]
    assert bars["ibs_vs_cox"]["value"] == pytest.approx(0.05 / 0.06)
    assert bars["ibs_vs_cox"]["holds"]  # 0.83 <= 0.9
    assert bars["uno_c_minus_cox"]["value"] == pytest.approx(0.03)
    assert bars["td_auc_90_vs_classifier"]["holds"]  # 1.0
    assert not bars["td_auc_180_vs_classifier"]["holds"]  # 0.80 / 0.85 = 0.94
    assert not bars["train_time_ratio"]["holds"] and bars["scoring_added"]["holds"]
    assert bars["calibration_max_180"]["holds"]
