"""The plays benchmark's arithmetic (bench/plays_bench.py) on hand-made cells and truth."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.plays_bench import compare_cells


def _cell(play: str, segment: str, effect: float | None, naive: float | None) -> dict:
    ok = effect is not None
    return {
        "play": play,
        "label": "churn_180d",
        "segment": segment,
        "effect": effect,
        "ci_low": None if not ok else effect - 0.02,
        "ci_high": None if not ok else effect + 0.02,
        "evidence": "ok" if ok else "not enough evidence",
        "naive": naive,
    }


def test_coverage_counts_cells_with_evidence_against_the_truth() -> None:
    truth = pd.DataFrame(
        {
            "play": ["a", "a", "b", "c"],
            "label": ["churn_180d"] * 4,
            "segment": ["all", "smb", "all", "all"],
            "true_effect": [-0.05, -0.10, 0.0, -0.02],
        }
    )
    rows = [
        _cell("a", "all", -0.06, 0.04),  # covers; naive off by 0.09
        _cell("a", "smb", -0.05, None),  # misses (-0.07 .. -0.03 vs -0.10)
        _cell("b", "all", 0.01, 0.01),  # covers; naive off by 0.01
        _cell("c", "all", None, 0.05),  # refused; naive off by 0.07
        _cell("a", "stage:renewal", -0.05, None),  # no truth for stages
    ]
    out = compare_cells(rows, truth)
    assert out["cells_with_evidence"] == 3 and out["cells_covered"] == 2
    assert out["coverage"] == pytest.approx(2 / 3)
    assert out["cells_refused"] == 1 and out["cells_without_truth"] == 1
    assert out["naive_bias"] == pytest.approx(
        {"a/churn_180d": 0.09, "b/churn_180d": 0.01, "c/churn_180d": 0.07}
    )
    assert out["naive_biased_share"] == pytest.approx(2 / 3)
    assert [(c["play"], c["segment"], c["covered"]) for c in out["cells"]] == [
        ("a", "all", True),
        ("a", "smb", False),
        ("b", "all", True),
    ]


def test_each_csm_works_its_capacity_down_its_own_list() -> None:
    import numpy as np

    from bench.plays_value import _assign

    csm = np.array(["a", "a", "a", "b", "b", "c"], dtype=object)
    score = np.array([0.9, 0.5, 0.7, 0.1, 0.8, 0.99])
    play = ["p1", "p2", None, "p3", "p4", "p5"]
    rows, plays = _assign(csm, score, play, {"a": 1, "b": 2})
    # a: its best account with a play (row 2 has none); b: both; c: no capacity
    assert rows == [0, 4, 3] and plays == ["p1", "p4", "p3"]


def test_each_account_gets_its_fitting_play_with_the_highest_saving() -> None:
    import numpy as np

    from bench.plays_value import _best

    def hit(play: str, saved: float | None) -> dict:
        return {"id": play, "expected_arr_saved": saved}

    rows = [
        [hit("a", None), hit("b", 50.0), hit("c", 900.0), hit("d", 80.0)],
        [hit("a", None), hit("x", None)],
    ]
    # c is not a simulated play, so it cannot be run; a has no saving
    score, play = _best(rows, {"a", "b", "d"})
    assert play == ["d", None]
    assert score[0] == 80.0 and np.isneginf(score[1])


def test_an_account_whose_plays_are_all_expected_to_lose_arr_is_not_ranked_by_them() -> None:
    import numpy as np

    from bench.plays_value import _best

    def hit(play: str, saved: float | None) -> dict:
        return {"id": play, "expected_arr_saved": saved}

    rows = [
        [hit("a", -400.0), hit("b", None)],  # a harmful-looking cell: a loss
        [hit("a", -400.0), hit("b", 0.0)],  # no gain either
        [hit("a", -400.0), hit("b", 10.0)],
    ]
    score, play = _best(rows, {"a", "b"}, fallback=["b", "b", "b"])
    # the first two follow the risk order with their first fitting play, not ahead of it
    assert np.isneginf(score[0]) and np.isneginf(score[1]) and score[2] == 10.0
    assert play == ["b", "b", "b"]


def test_accounts_without_a_saving_follow_by_churn_risk_so_every_ranking_works_its_capacity() -> (
    None
):
    import numpy as np

    from bench.plays_value import _assign

    csm = np.array(["a", "a", "a", "a", "b"], dtype=object)
    saving = np.array([-np.inf, 300.0, -np.inf, -np.inf, -np.inf])
    risk = np.array([0.2, 0.1, 0.6, 0.4, 0.3])
    play = ["p1", "p2", "p3", "p4", "p5"]
    rows, plays = _assign(csm, saving, play, {"a": 3, "b": 1}, then=risk)
    # a: the account with a saving, then the riskiest without one; b works its one account
    assert rows == [1, 2, 3, 4] and plays == ["p2", "p3", "p4", "p5"]
    # Without the fill (the served ranking alone) nothing without a saving is worked.
    strict_rows, _ = _assign(csm, saving, play, {"a": 3, "b": 1})
    assert strict_rows == [1]


def test_an_account_without_a_saving_keeps_its_records_first_fitting_play() -> None:
    from bench.plays_value import _best

    rows = [
        [{"id": "a", "expected_arr_saved": None}, {"id": "b", "expected_arr_saved": None}],
        [{"id": "a", "expected_arr_saved": None}, {"id": "b", "expected_arr_saved": 5.0}],
    ]
    _, play = _best(rows, {"a", "b"}, fallback=["a", "a"])
    assert play == ["a", "b"]


def test_the_pooled_bar_sums_arr_over_seeds_and_pools_errors_by_rows() -> None:
    from bench.plays_value import pooled

    def seed(risk: float, prescribed: float, errors: dict) -> dict:
        return {
            "seed": 1,
            "risk_arr_saved": risk,
            "prescribed_arr_saved": prescribed,
            "per_account_error": errors,
        }

    def err(rows: int, served: float, t: float) -> dict:
        return {"rows": rows, "served": served, "dr_learner": t, "t_learner": t, "zero": 0.1}

    out = pooled(
        [
            seed(100.0, 200.0, {"x": err(10, 0.1, 0.2)}),
            seed(300.0, 300.0, {"x": err(30, 0.1, 0.4), "y": err(60, 0.2, 0.2)}),
        ]
    )
    assert out["ratio"] == pytest.approx(500 / 400)
    assert out["ratios"]["risk"] == pytest.approx(1.0)
    assert out["pehe_rows"] == 100
    served = 10 * 0.01 + 30 * 0.01 + 60 * 0.04
    t = 10 * 0.04 + 30 * 0.16 + 60 * 0.04
    assert out["pehe_over_t"]["served"] == pytest.approx((served / t) ** 0.5)
    assert out["pehe_over_t"]["dr_learner"] == pytest.approx(1.0)


def test_the_fit_sees_no_label_or_play_run_after_the_cutoff() -> None:
    from datetime import date

    from bench.plays_value import check_no_look_ahead

    cutoff = date(2025, 3, 1)
    check_no_look_ahead([date(2024, 7, 1), date(2024, 8, 1)], cutoff)  # 2024-08-01 + 210 days
    with pytest.raises(AssertionError, match="2024-09-01"):
        check_no_look_ahead([date(2024, 8, 1), date(2024, 9, 1)], cutoff)


def test_the_churn_only_ranking_drops_the_expansion_share_and_nothing_else() -> None:
    from bench.plays_value import churn_only
    from features.effects_bundle import EffectsBundle
    from features.model_bundle import FeatureColumn

    full = EffectsBundle(
        [FeatureColumn("x")], [{"play": "a"}], metadata={"expansion_share": {"all": 0.3}, "k": 1}
    )
    plain = churn_only(full)
    assert plain.expansion_share("smb") is None and full.expansion_share("smb") == 0.3
    assert plain.metadata == {"k": 1} and plain.effects == full.effects
