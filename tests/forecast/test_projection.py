"""The forecast's arithmetic: horizons from the 180-day score, sizes learned from the hand-made
book, the shock's estimate, and simulated totals against their exact expectations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.movements import account_movements
from forecast.projection import (
    BOOK,
    LABEL_MONTHS,
    SizeModel,
    by_horizon,
    learn_sizes,
    overdispersion,
    simulate,
)
from tests.forecast.helpers import AS_OF, GRACE, subscriptions_table

NO_SIZES = SizeModel({"*": np.zeros(0)}, {"*": 0.0}, {"*": np.zeros(0)})


def test_horizons_follow_a_constant_hazard() -> None:
    p = np.array([0.0, 0.2, 0.5, 0.9])
    assert by_horizon(p, LABEL_MONTHS) == pytest.approx(p)
    assert by_horizon(p, 0) == pytest.approx(np.zeros(4))
    three, twelve = by_horizon(p, 3), by_horizon(p, 12)
    assert np.all(three <= p) and np.all(twelve >= p)
    # surviving 12 months = surviving 6 twice, at a constant hazard
    assert 1 - by_horizon(np.array([0.5]), 2 * LABEL_MONTHS) == pytest.approx(0.25)


def test_sizes_from_the_hand_made_book() -> None:
    per_account = account_movements(subscriptions_table(), AS_OF, GRACE)
    sizes = learn_sizes(per_account)
    # EXPAND +50 on 100 and LATE +30 on 100 (its renewal at a higher price)
    assert sorted(sizes.expansion_ratios["*"].tolist()) == [0.3, 0.5]
    # CONTRACT -40 on 100 and ZERO -100 on 100
    assert sorted(sizes.contraction_ratios["*"].tolist()) == [0.4, 1.0]
    # the share of MRR-months that contracted: CONTRACT and ZERO, 100 each, at their start
    paying = per_account[(per_account.customer_start == 1) & (per_account.start_mrr > 0)]
    assert sizes.contraction_rate["*"] == pytest.approx(200 / paying["start_mrr"].sum())
    # no expansion below +10% in this book
    assert sizes.small_rate["*"] == 0.0 and len(sizes.small_ratios["*"]) == 0


def _months(rates: list[float], customers: int = 1000) -> pd.DataFrame:
    rows = []
    for m, rate in enumerate(rates):
        churned = round(rate * customers)
        rows += [
            {"month": m, "customer_start": 1, "churned_logo": int(i < churned)}
            for i in range(customers)
        ]
    return pd.DataFrame(rows)


def test_the_shock_is_zero_for_a_steady_book_and_grows_with_bad_months() -> None:
    assert overdispersion(_months([0.02] * 12)) == 0.0
    moderate = overdispersion(_months([0.01, 0.03] * 6))
    wild = overdispersion(_months([0.005, 0.06] * 6))
    assert 0 < moderate < wild


def test_a_renewal_calendar_is_no_shock() -> None:
    """Three years in which January and July churn 5% and the other months 1%: the raw rates
    vary a lot, yet each month churns as the same month a year earlier, so no shock; a bad
    spell in the third year is one."""
    calendar = [0.05 if m % 6 == 0 else 0.01 for m in range(12)]
    months = pd.date_range("2022-01-01", periods=36, freq="MS").date
    steady = _months(calendar * 3)
    steady["month"] = steady["month"].map(dict(enumerate(months)))
    assert overdispersion(steady) == 0.0
    assert overdispersion(steady, period=10**6) > 0.5  # read from the raw rates
    bad = calendar * 2 + [r * (3 if 26 <= 24 + m < 29 else 1) for m, r in enumerate(calendar)]
    shocked = _months(bad)
    shocked["month"] = shocked["month"].map(dict(enumerate(months)))
    assert overdispersion(shocked) > 0.1


def test_no_risk_means_no_movement() -> None:
    mrr = np.full(50, 100.0)
    out = simulate(mrr, np.zeros(50), np.zeros(50), np.array(["a"] * 50), NO_SIZES, 6, 0.5, 200)
    book = out["*"]
    assert book.churned.max() == 0 and book.expansion.max() == 0
    assert np.all(book.end_mrr == 5000.0) and np.all(book.nrr == 1.0)


def test_expected_totals_match_the_probabilities() -> None:
    rng = np.random.default_rng(3)
    n = 400
    mrr = rng.uniform(50, 500, n)
    churn = rng.uniform(0.05, 0.5, n)
    expand = rng.uniform(0.05, 0.3, n)
    groups = np.where(np.arange(n) % 2 == 0, "smb", "enterprise")
    sizes = SizeModel({"*": np.array([0.2, 0.4])}, {"*": 0.0}, {"*": np.zeros(0)})
    out = simulate(mrr, churn, expand, groups, sizes, 3, 0.0, 3000, seed=1)
    p3 = by_horizon(churn, 3)
    expected_churn = float((mrr * p3).sum())
    sd = float(np.sqrt((mrr**2 * p3 * (1 - p3)).sum() / 3000))
    assert out["*"].churned.mean() == pytest.approx(expected_churn, abs=4 * sd)
    expected_expansion = float((mrr * (1 - p3) * by_horizon(expand, 3) * 0.3).sum())
    assert out["*"].expansion.mean() == pytest.approx(expected_expansion, rel=0.03)
    # the groups add up to the book in every simulated future
    together = out["smb"].churned + out["enterprise"].churned
    assert np.allclose(together, out["*"].churned)


def test_a_shared_shock_widens_the_interval() -> None:
    n = 500
    mrr = np.full(n, 100.0)
    churn = np.full(n, 0.2)
    groups = np.array(["a"] * n)
    calm = simulate(mrr, churn, np.zeros(n), groups, NO_SIZES, 6, 0.0, 2000).get("*")
    shaken = simulate(mrr, churn, np.zeros(n), groups, NO_SIZES, 6, 0.8, 2000).get("*")
    assert calm is not None and shaken is not None

    def width(draws: np.ndarray) -> float:
        return float(np.quantile(draws, 0.95) - np.quantile(draws, 0.05))

    assert width(shaken.churned) > 2 * width(calm.churned)
    summary = calm.summary()
    low, high = summary["churned"]["0.9"]
    assert low < summary["churned"]["expected"] < high


def test_one_group_named_like_the_book_is_the_book() -> None:
    n = 300
    mrr, churn = np.full(n, 100.0), np.full(n, 0.3)
    out = simulate(mrr, churn, np.zeros(n), np.full(n, BOOK), NO_SIZES, 6, 0.0, 1000, seed=2)
    assert set(out) == {BOOK}
    expected = float((mrr * by_horizon(churn, 6)).sum())
    assert out[BOOK].churned.mean() == pytest.approx(expected, rel=0.02)


def test_small_expansions_and_contractions_add_up_over_the_months() -> None:
    """Every account grows 2% in 10% of its months and shrinks 5% in 20%: over 6 months the
    expected totals are those rates times 6 times the ratio (no churn, no large expansion)."""
    n = 2000
    mrr = np.full(n, 100.0)
    sizes = SizeModel(
        {"*": np.zeros(0)},
        {"*": 0.2},
        {"*": np.array([0.05])},
        {"*": 0.1},
        {"*": np.array([0.02])},
    )
    out = simulate(mrr, np.zeros(n), np.zeros(n), np.full(n, "a"), sizes, 6, 0.0, 200, seed=4)
    assert out["*"].expansion.mean() == pytest.approx(n * 100 * 0.1 * 6 * 0.02, rel=0.02)
    assert out["*"].contraction.mean() == pytest.approx(n * 100 * 0.2 * 6 * 0.05, rel=0.02)
