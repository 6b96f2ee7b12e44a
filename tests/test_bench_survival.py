"""The survival benchmark's arithmetic (bench/survival_bench.py) on hand-made results."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from bench.survival_anchor import anchor_hazards
from bench.survival_bench import _bars, _months_before
from bench.survival_oracle import oracle_on_grid
from features.survival_bundle import HORIZONS_DAYS, anchor_curve, churn_by


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


def _hazards() -> np.ndarray:
    """Three accounts: flat, a renewal spike in month 4, most risk in the first month."""
    flat = np.full(13, 0.01)
    spike = np.full(13, 0.005)
    spike[3] = 0.3
    early = np.full(13, 0.002)
    early[0] = 0.2
    return np.vstack([flat, spike, early])


@pytest.mark.parametrize("p180", [0.02, 0.3, 0.9])
def test_hazard_anchoring_lands_on_the_score_and_keeps_the_curve_monotone(p180: float) -> None:
    hazards = _hazards()
    target = np.full(3, p180)
    moved = anchor_hazards(hazards, target)
    curve = churn_by(moved, HORIZONS_DAYS)
    np.testing.assert_allclose(curve[:, HORIZONS_DAYS.index(180)], target, rtol=0, atol=1e-12)
    assert (np.diff(churn_by(moved, list(range(0, 400, 5))), axis=1) >= 0).all()
    assert ((curve >= 0) & (curve <= 1)).all()
    # one log-odds shift per account: the months keep their order and their odds ratios
    logit = np.log(moved / (1 - moved)) - np.log(hazards / (1 - hazards))
    np.testing.assert_allclose(logit, logit[:, :1] * np.ones((1, 13)), atol=1e-9)


def test_hazard_anchoring_leaves_a_curve_already_on_the_score() -> None:
    hazards = _hazards()
    own = churn_by(hazards, [180])[:, 0]
    np.testing.assert_allclose(anchor_hazards(hazards, own), hazards, rtol=1e-9)


def test_power_and_log_odds_anchoring_agree_at_small_hazards() -> None:
    """Both scale a small hazard by about the same factor: the bench finds them equal."""
    hazards = np.full((1, 13), 0.004)
    own = churn_by(hazards, HORIZONS_DAYS)
    target = own[:, 3] * 1.5
    moved = churn_by(anchor_hazards(hazards, target), HORIZONS_DAYS)
    np.testing.assert_allclose(moved, anchor_curve(own, HORIZONS_DAYS, target), rtol=2e-3)


def test_the_oracle_curve_is_interpolated_in_log_survival_between_its_days() -> None:
    import pandas as pd

    from simulator.survival_truth import CURVE_DAYS

    s = {30: 0.9, 60: 0.8, 90: 0.8, 180: 0.5, 270: 0.4, 365: 0.2}
    oracle = pd.DataFrame({f"p_churn_by_{d}d": [1 - s[d]] for d in CURVE_DAYS})
    grid = [30, 45, 60, 75, 90, 135, 180, 365]
    got = oracle_on_grid(oracle, np.array([0]), grid)[0]
    expected = {30: 0.1, 60: 0.2, 90: 0.2, 180: 0.5, 365: 0.8}
    for d, p in expected.items():
        assert got[grid.index(d)] == pytest.approx(p)
    assert got[grid.index(45)] == pytest.approx(1 - np.sqrt(0.9 * 0.8))
    assert got[grid.index(75)] == pytest.approx(0.2)  # flat between two equal points
    assert got[grid.index(135)] == pytest.approx(1 - np.sqrt(0.8 * 0.5))


def test_the_bootstrap_draws_whole_accounts() -> None:
    """Account a has three rows of value 1, account b one row of value 0: a draw holds 0, 3
    or 6 rows of a, so the mean is one of 0, 3/4, 6/7 or 1 (and 0 only with b twice)."""
    from bench.survival_reach import paired_bootstrap

    groups = np.array(["a", "b", "a", "a"])
    value = np.array([1.0, 0.0, 1.0, 1.0])
    seen: list[float] = []

    def mean(rows: np.ndarray) -> float:
        seen.append(float(value[rows].mean()))
        return seen[-1]

    spread = paired_bootstrap(groups, mean, draws=200, seed=0)
    assert spread is not None
    assert set(np.round(seen, 9)) == {0.0, round(3 / 4, 9), 1.0}
    assert spread["low"] == 0.0 and spread["high"] == 1.0 and spread["sd"] > 0.2
    assert paired_bootstrap(groups, lambda rows: None, draws=5) is None


def test_two_equal_rankings_differ_by_exactly_nothing_on_every_draw() -> None:
    from bench.survival_reach import auc_ratio_spread, concordance_spread

    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 3)
    time = rng.integers(1, 400, len(ids)).astype(float)
    event = (rng.random(len(ids)) < 0.6).astype(float)
    risk = rng.random(len(ids))
    same = concordance_spread(ids, time, event, risk, risk.copy(), draws=20)
    assert same == {"sd": 0.0, "low": 0.0, "high": 0.0}
    ratio = auc_ratio_spread(ids, time, event, risk, risk.copy(), 180, draws=20)
    assert ratio is not None and ratio["low"] == pytest.approx(1.0)
    other = concordance_spread(ids, time, event, risk, rng.random(len(ids)), draws=20)
    assert other is not None and other["sd"] > 0


def test_calibration_floors_are_per_model_and_day() -> None:
    from bench.survival_reach import calibration_floors

    grid = [30, 90, 180, 365]
    curve = np.tile(np.array([0.02, 0.06, 0.12, 0.2]), (2000, 1))
    floors = calibration_floors({"m": curve}, grid)
    assert set(floors["m"]) == {"90", "180"}
    at_180 = floors["m"]["180"]
    assert at_180["median"] is not None and at_180["q95"] is not None
    assert 0 < at_180["median"] < at_180["q95"]
    # ten bins of 200 rows at 12%: one standard error is 2.3 points
    assert 0.02 < at_180["median"] < 0.07


def test_the_oracle_table_gives_each_curve_its_worst_decile() -> None:
    """A hundred rows, deciles of ten: the five low ones predict 0.1 and none churns, the five
    high ones predict 0.5 and six of each ten churn on day 50."""
    from bench.survival_oracle import oracle_metrics

    grid = [30, 60, 90, 180, 270, 365]
    high = np.tile(np.array([50.0] * 6 + [400.0] * 4), 5)
    time = np.concatenate([np.full(50, 400.0), high])
    event = (time < 365).astype(float)
    p180 = np.array([0.1] * 50 + [0.5] * 50)
    curve = np.column_stack([p180 * f for f in (0.2, 0.4, 0.6, 1.0, 1.2, 1.4)])
    out = oracle_metrics(time, event, curve, grid, {"m": curve}, {})
    assert set(out) == {"oracle", "m"}
    # 180 days: |0.1 - 0| and |0.5 - 0.6|; 90 days: |0.06 - 0| and |0.3 - 0.6|
    assert out["m"]["calibration_max"]["180"] == pytest.approx(0.1)
    assert out["m"]["calibration_max"]["90"] == pytest.approx(0.3)


def _trees_run(seed: int, cap: int, trees: int, uno: float, added: float) -> dict:
    own = {
        "ibs": 0.06,
        "uno_c": uno,
        "auc_90": 0.9,
        "auc_180": 0.8,
        "auc_365": 0.7,
        "cal_max_90": 0.02,
        "cal_max_180": 0.03,
    }
    return {
        "seed": seed,
        "cap": cap,
        "trees": trees,
        "metrics": {"own": own, "served": dict(own, uno_c=uno - 0.1)},
        "oracle_ratio": {"90": 0.96, "180": 0.95, "365": 0.92},
        "scoring": {"added": added, "added_cpu": added / 2, "load_average_1m": 3.0},
    }


def test_tree_caps_are_compared_per_seed_with_the_first_cap() -> None:
    from bench.survival_trees import report, summary

    result = {
        "runs": [
            _trees_run(1, 2000, 590, 0.690, 0.9),
            _trees_run(1, 150, 150, 0.694, 0.4),
            _trees_run(2, 2000, 188, 0.700, 0.4),
            _trees_run(2, 150, 150, 0.698, 0.3),
        ],
        "source": "s",
        "cut": "2024-01-01",
        "test_rows": 10,
        "churn_trees": 71,
    }
    table = summary(result)
    assert list(table) == [2000, 150]
    assert table[2000]["own.uno_c"] == pytest.approx((0.695, 0.0, 0.0))
    mean, diff, se = table[150]["own.uno_c"]
    # per seed: +0.004 and -0.002; their mean and its standard error over the two seeds
    assert mean == pytest.approx(0.696)
    assert diff == pytest.approx(0.001)
    assert se == pytest.approx(np.std([0.004, -0.002], ddof=1) / np.sqrt(2))
    assert table[150]["served.uno_c"][1] == pytest.approx(0.001)
    assert table[150]["trees"] == [150, 150]
    assert table[150]["added"] == (0.3, 0.4) and table[150]["added_cpu"] == (0.15, 0.2)
    assert any("cap 150: trees [150, 150]" in line for line in report(result))
