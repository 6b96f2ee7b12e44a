"""When an account can churn (``forecast.timing``), on hand-made accounts: the horizon's days,
the survival curve read between its points, the 180-day score placed on the renewal dates,
and which way a score table gets."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecast.timing import (
    CONSTANT,
    CURVE_COLUMNS,
    RENEWALS,
    SURVIVAL,
    at_renewals,
    churn_within,
    constant_hazard,
    from_curve,
    horizon_days,
    renewal_prior,
    renewals_before,
)


def test_a_horizon_is_counted_in_calendar_days() -> None:
    assert horizon_days(date(2024, 3, 1), 3) == 92  # March, April, May
    assert horizon_days(date(2024, 9, 1), 3) == 91
    assert horizon_days(date(2024, 1, 31), 1) == 29  # to 2024-02-29
    assert horizon_days(date(2024, 11, 1), 12) == 365


def test_the_constant_hazard_spreads_the_180_day_score() -> None:
    p = np.array([0.0, 0.36, 0.75])
    assert constant_hazard(p, 180) == pytest.approx(p)
    assert constant_hazard(p, 90) == pytest.approx([0.0, 0.2, 0.5])
    assert constant_hazard(p, 360) == pytest.approx([0.0, 1 - 0.64**2, 1 - 0.25**2])


def test_the_curve_is_read_between_its_points_in_the_cumulative_hazard() -> None:
    # P(churn by 30, 60, 90, 180, 270, 365): a risk that sits in days 60-90
    curve = np.array([[0.01, 0.02, 0.30, 0.31, 0.32, 0.33]])
    assert from_curve(curve, 90)[0] == pytest.approx(0.30)
    assert from_curve(curve, 0)[0] == 0.0
    assert from_curve(curve, 15)[0] == pytest.approx(1 - 0.99**0.5)
    # halfway from 60 to 90 days: survival is the geometric mean of 0.98 and 0.70
    assert from_curve(curve, 75)[0] == pytest.approx(1 - np.sqrt(0.98 * 0.70))
    # a 3-month horizon (92 days) holds the renewal; a constant hazard would give 0.17
    assert from_curve(curve, 92)[0] == pytest.approx(1 - 0.70 * (0.69 / 0.70) ** (2 / 90))
    # past 365 days, the last gap's hazard goes on
    beyond = 1 - 0.67 * (0.67 / 0.68) ** (30 / 95)
    assert from_curve(curve, 395)[0] == pytest.approx(beyond)
    # a curve that dips (rounding) is read as flat there, never as a negative hazard
    assert from_curve(np.array([[0.1, 0.09, 0.1, 0.2, 0.2, 0.2]]), 60)[0] == pytest.approx(0.1)


def test_renewals_inside_a_horizon() -> None:
    r = np.array([10.0, 10.0, 100.0, 200.0, 0.0])
    term = np.array([30.0, np.nan, 365.0, 365.0, 30.0])
    # monthly from day 10: 10, 40, 70 (100 is outside 91 days); unknown term: one renewal
    assert renewals_before(r, term, 91).tolist() == [3, 1, 0, 0, 4]
    assert renewals_before(r, term, 180).tolist() == [6, 1, 1, 0, 6]
    assert renewals_before(r, None, 91).tolist() == [1, 1, 0, 0, 1]
    # a term ending on the horizon's end day churns in the next month: outside
    assert renewals_before(np.array([90.0, 91.0]), None, 91).tolist() == [1, 0]


def test_the_180_day_score_sits_on_the_renewals() -> None:
    p = np.array([0.3, 0.3, 1 - 0.5**6, 0.02, 0.1])
    r = np.array([100.0, 60.0, 10.0, 250.0, np.nan])
    term = np.array([365.0, 365.0, 30.0, 365.0, 365.0])
    three = at_renewals(p, r, 91, term, prior=0.2)
    # the annual term ending on day 100 holds all its risk: none in 91 days, all in 120
    assert three[0] == 0.0
    assert at_renewals(p, r, 120, term, prior=0.2)[0] == pytest.approx(0.3)
    assert three[1] == pytest.approx(0.3)  # its renewal is on day 60
    # monthly: six renewals in 180 days, each at 1/2; three of them in 91 days
    assert three[2] == pytest.approx(1 - 0.5**3)
    # renewal past the score's 180 days: its own p at a constant hazard before it...
    assert three[3] == pytest.approx(1 - 0.98 ** (91 / 180))
    # ...and the prior at the renewal it cannot see
    year = at_renewals(p, r, 365, term, prior=0.2)
    assert year[3] == pytest.approx(1 - 0.98 * 0.8)
    # no renewal known: the constant hazard
    assert three[4] == pytest.approx(constant_hazard(np.array([0.1]), 91)[0])
    # the default prior: the mean per-renewal risk of the accounts renewing within 180 days
    assert renewal_prior(p, r, term) == pytest.approx(np.mean([0.3, 0.3, 0.5]))


def _table(**columns: object) -> pd.DataFrame:
    return pd.DataFrame({"churn_probability": [0.3, 0.1], **columns})


def test_a_score_table_gets_the_best_timing_it_carries() -> None:
    curve = {c: [0.05 * (j + 1), 0.01 * (j + 1)] for j, c in enumerate(CURVE_COLUMNS)}
    p, how = churn_within(_table(**curve, days_to_renewal=[10.0, 20.0]), 90)
    assert how == SURVIVAL and p == pytest.approx([0.15, 0.03])
    gap = {**curve, CURVE_COLUMNS[0]: [0.05, np.nan]}
    p, how = churn_within(_table(**gap, days_to_renewal=[10.0, 200.0]), 90)
    assert how == RENEWALS
    assert p == pytest.approx([0.3, 1 - 0.9 ** (90 / 180)])
    p, how = churn_within(_table(days_to_renewal=[None, None]), 90)
    assert how == CONSTANT
    p, how = churn_within(_table(), 90)
    assert how == CONSTANT and p == pytest.approx(constant_hazard(np.array([0.3, 0.1]), 90))
