"""The expansion hazard's level (``forecast.expansion``): the book's recent rate of +10%
expansions, and the scores' hazards moved halfway to it with their ranking kept."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecast.expansion import leveled_expansion, recent_expansion_rate
from forecast.outlook import OutlookRequest, forecast_outlook
from forecast.projection import LABEL_MONTHS, MIN_EVENTS, by_horizon, learn_sizes
from forecast.timing import churn_within, horizon_days
from tests.forecast.test_outlook import SCORED, _book

AS_OF = date(2024, 7, 1)


def _rows(account: str, months: list[str], start: float, expansion: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": account,
            "month": [date.fromisoformat(m) for m in months],
            "start_mrr": start,
            "expansion": expansion,
            "contraction": 0.0,
            "customer_start": 1,
        }
    )


def test_recent_rate_counts_expansions_of_ten_percent_in_the_last_months_by_mrr() -> None:
    per_account = pd.concat(
        [
            # +30% in June 2023: 13 months before the as-of date, outside the window
            _rows("A", ["2023-06-01", "2024-01-01", "2024-06-01"], 100.0, [30.0, 20.0, 0.0]),
            # +5% (a price uplift) is not an expansion of the label's kind
            _rows("B", ["2024-02-01", "2024-03-01"], 300.0, [15.0, 0.0]),
            # a month after the as-of date is not history
            _rows("C", ["2024-05-01", "2024-07-01"], 200.0, [0.0, 100.0]),
        ]
    )
    # in the window: A twice (100 each), B twice (300 each), C once (200); grown: A in January
    assert recent_expansion_rate(per_account, AS_OF) == {"*": pytest.approx(100 / 1000)}
    # per group: a group with fewer than MIN_EVENTS expansions takes the book's
    groups = pd.Series({"A": "smb", "B": "smb", "C": "ent"})
    assert recent_expansion_rate(per_account, AS_OF, groups) == {"*": pytest.approx(0.1)}
    many = pd.concat(
        [_rows(f"S{i}", ["2024-04-01"], 50.0, [10.0]) for i in range(MIN_EVENTS)] + [per_account]
    )
    groups = pd.Series({**{f"S{i}": "smb" for i in range(MIN_EVENTS)}, "C": "ent"})
    rates = recent_expansion_rate(many, AS_OF, groups)
    assert rates["smb"] == pytest.approx(MIN_EVENTS * 50 / (MIN_EVENTS * 50))
    assert "ent" not in rates
    assert rates["*"] == pytest.approx((MIN_EVENTS * 50 + 100) / (MIN_EVENTS * 50 + 1000))


def _monthly(p: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - p) ** (1.0 / LABEL_MONTHS)


def test_level_moves_halfway_to_the_history_and_keeps_the_ranking() -> None:
    mrr = np.array([100.0, 300.0, 50.0, 400.0, 200.0])
    p = np.array([0.05, 0.2, 0.4, 0.1, 0.3])
    groups = np.array(["a", "a", "a", "b", "b"])
    own = {g: np.average(_monthly(p)[groups == g], weights=mrr[groups == g]) for g in "ab"}
    out = leveled_expansion(mrr, p, groups, {"*": 0.01, "a": 0.05})
    m = _monthly(out)
    for g, rate in (("a", 0.05), ("b", 0.01)):  # b has no rate of its own: the book's
        mine = groups == g
        assert np.average(m[mine], weights=mrr[mine]) == pytest.approx((own[g] + rate) / 2)
        # one factor per group: the scores' ranking and ratios of hazards are kept
        ratio = m[mine] / _monthly(p)[mine]
        assert ratio == pytest.approx(np.full(mine.sum(), ratio[0]))
    assert leveled_expansion(mrr, p, groups, {"*": 0.01}, weight=0.0) == pytest.approx(p)
    full = _monthly(leveled_expansion(mrr, p, groups, {"*": 0.02}, weight=1.0))
    assert np.average(full[groups == "b"], weights=mrr[groups == "b"]) == pytest.approx(0.02)
    # a group without any hazard keeps its (zero) scores
    zero = leveled_expansion(mrr, np.zeros(5), groups, {"*": 0.05})
    assert zero == pytest.approx(np.zeros(5))


def test_the_forecast_expands_at_the_leveled_hazard() -> None:
    book = _book()
    churn = np.array([0.3, 0.4, 0.5, 0.3, 0.4])
    expand = np.array([0.2, 0.3, 0.1, 0.3, 0.2])
    scores = pd.DataFrame(
        {
            "account_id": list(SCORED),
            "snapshot_date": AS_OF,
            "churn_probability": churn,
            "expansion_probability": expand,
            "mrr": list(SCORED.values()),
        }
    )
    out = forecast_outlook(book, scores, OutlookRequest((3,), simulations=50, seed=1))
    (group,) = out["horizons"][0]["groups"]
    mrr = np.array(list(SCORED.values()))
    leveled = leveled_expansion(
        mrr, expand, np.full(5, "*"), recent_expansion_rate(book.per_account, book.as_of)
    )
    assert not np.allclose(leveled, expand)  # the hand-made book's rate differs
    sizes = learn_sizes(book.per_account)
    small_rate, small = sizes.small_expansion_for("*")
    grown = by_horizon(leveled, 3) * np.mean(sizes.expansion_for("*"))
    grown += 3 * small_rate * (np.mean(small) if len(small) else 0.0)
    p_churn, _ = churn_within(scores, horizon_days(AS_OF, 3))
    expected = float((mrr * (1 - p_churn) * grown).sum())
    assert group["baselines"]["sum_of_expectations"]["expansion"] == pytest.approx(
        expected, abs=0.01
    )
    assert "halfway to the book's last 12 months" in out["method"]
