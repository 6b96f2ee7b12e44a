"""fit_effects compares a play with doing nothing: rows another play treats leave its controls."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.effects_source import champion_rescue_book
from training.effects.fit import fit_effects, other_play
from training.effects.treatment import PlayRuns, treated_rows


def _with_a_second_play() -> tuple[object, PlayRuns, np.ndarray]:
    """The champion-rescue book, plus ``success_check_in`` (inert) on a random fifth of the
    rows and ``renewal_discount`` on 40% of the others, where nobody churns (a strong play)."""
    data, runs = champion_rescue_book()
    rng = np.random.default_rng(11)
    n = len(data.ids)
    rescued = treated_rows(data.ids, data.snapshot_date, runs, ["champion_rescue"])
    free = rescued["champion_rescue"] == 0
    check_in = free & (rng.random(n) < 0.2)
    discount = free & ~check_in & (rng.random(n) < 0.4)
    data.labels["churn_180d"][discount] = 0.0
    day = np.timedelta64(3, "D")
    more = PlayRuns(
        np.concatenate([runs.account_id, data.ids[check_in], data.ids[discount]]),
        np.concatenate(
            [runs.date, data.snapshot_date[check_in] + day, data.snapshot_date[discount] + day]
        ),
        np.concatenate(
            [
                runs.play,
                np.full(int(check_in.sum()), "success_check_in", dtype=object),
                np.full(int(discount.sum()), "renewal_discount", dtype=object),
            ]
        ),
    )
    return data, more, discount


@pytest.mark.slow
def test_other_plays_leave_the_controls_and_an_inert_play_stays_at_zero() -> None:
    data, runs, discount = _with_a_second_play()
    result = fit_effects(data, runs, ["success_check_in", "renewal_discount"])
    treated = treated_rows(
        data.ids,
        data.snapshot_date,
        runs,
        ["champion_rescue", "success_check_in", "renewal_discount"],
    )
    known = data.labeled("churn_180d")
    cell = next(
        r
        for r in result.rows
        if (r["play"], r["label"], r["segment"]) == ("success_check_in", "churn_180d", "all")
    )
    untouched = (
        known & ~other_play(treated, "success_check_in") & (treated["success_check_in"] == 0)
    )
    assert cell["n_control"] == int(untouched.sum())
    assert cell["n_treated"] == int((known & (treated["success_check_in"] == 1)).sum())
    # the discounted rows (no churn at all) would make the inert play look harmful
    assert cell["evidence"] == "ok"
    assert cell["ci_low"] <= 0.0 <= cell["ci_high"]
    assert int(discount.sum()) > cell["n_treated"]
