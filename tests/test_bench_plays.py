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
