"""MRR movements on hand-made subscriptions (grace 30 days, as of 2024-07-01)."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from forecast.movements import MOVEMENTS, account_movements, monthly_movements, whole_months
from tests.forecast.helpers import AS_OF, GRACE, subscriptions_table


@pytest.fixture(scope="module")
def per_account() -> pd.DataFrame:
    return account_movements(subscriptions_table(), AS_OF, GRACE)


def _moves(per_account: pd.DataFrame, account: str) -> dict[str, dict[str, float]]:
    """{month: {movement: amount}} of one account, only the movements that are not 0."""
    rows = per_account[per_account["account_id"] == account]
    out: dict[str, dict[str, float]] = {}
    for _, r in rows.iterrows():
        moved = {m: float(r[m]) for m in MOVEMENTS if r[m] != 0}
        if moved:
            out[r["month"].isoformat()[:7]] = moved
    return out


def test_whole_months_stop_before_the_as_of_month() -> None:
    assert whole_months(date(2024, 1, 15), date(2024, 4, 1)) == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    assert whole_months(date(2024, 1, 15), date(2024, 3, 31)) == [
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]


def test_each_movement_kind(per_account: pd.DataFrame) -> None:
    assert _moves(per_account, "NEW") == {"2024-02": {"new": 100.0}}
    assert _moves(per_account, "EXPAND") == {
        "2023-12": {"new": 100.0},
        "2024-03": {"expansion": 50.0},
    }
    assert _moves(per_account, "CONTRACT") == {
        "2023-12": {"new": 100.0},
        "2024-04": {"contraction": 40.0},
    }
    assert _moves(per_account, "CHURN") == {
        "2023-12": {"new": 100.0},
        "2024-03": {"churned": 100.0},
    }


def test_a_renewal_inside_the_grace_is_no_churn(per_account: pd.DataFrame) -> None:
    # The lapse spans the end of February: the account keeps its MRR there; the higher
    # price of the renewal is an expansion in March.
    assert _moves(per_account, "LATE") == {
        "2023-12": {"new": 100.0},
        "2024-03": {"expansion": 30.0},
    }
    feb = per_account[(per_account.account_id == "LATE") & (per_account.month == date(2024, 2, 1))]
    assert feb["end_mrr"].item() == 100.0
    assert per_account.loc[per_account.account_id == "LATE", "churned_logo"].sum() == 0


def test_a_return_after_the_grace_is_a_reactivation(per_account: pd.DataFrame) -> None:
    assert _moves(per_account, "BACK") == {
        "2023-12": {"new": 100.0},
        "2024-02": {"churned": 100.0},
        "2024-04": {"reactivated": 120.0},
    }


def test_a_downgrade_to_zero_seats_is_a_contraction_not_a_churn(per_account: pd.DataFrame) -> None:
    assert _moves(per_account, "ZERO") == {
        "2023-12": {"new": 100.0},
        "2024-05": {"contraction": 100.0},
    }
    june = per_account[(per_account.account_id == "ZERO") & (per_account.month == date(2024, 6, 1))]
    assert june["customer_start"].item() == 1


def test_movements_bridge_start_and_end_for_every_account_and_month(
    per_account: pd.DataFrame,
) -> None:
    moved = (
        per_account["start_mrr"]
        + per_account["new"]
        + per_account["expansion"]
        - per_account["contraction"]
        - per_account["churned"]
        + per_account["reactivated"]
    )
    assert moved.round(9).tolist() == per_account["end_mrr"].round(9).tolist()


def test_monthly_sums_retention_and_provisional_months(per_account: pd.DataFrame) -> None:
    book = monthly_movements(per_account, AS_OF, GRACE).set_index("month")
    assert list(book.index) == [date(2023, 12, 1)] + [date(2024, m, 1) for m in range(1, 7)]
    # Each month ends where the next one starts.
    assert book["end_mrr"].iloc[:-1].tolist() == book["start_mrr"].iloc[1:].tolist()
    march = book.loc[date(2024, 3, 1)]
    # Start of March: EXPAND 100, CONTRACT 100, CHURN 100, LATE 100 (in its lapse), NEW 100,
    # ZERO 100 (BACK left in February).
    assert march["start_mrr"] == 600.0
    assert (march["expansion"], march["churned"]) == (80.0, 100.0)
    assert march["grr"] == pytest.approx((600 - 100) / 600)
    assert march["nrr"] == pytest.approx((600 + 80 - 100) / 600)
    assert (march["accounts_start"], march["logos_churned"]) == (6, 1)
    assert march["logo_churn_rate"] == pytest.approx(1 / 6)
    december = book.loc[date(2023, 12, 1)]
    assert december["start_mrr"] == 0.0 and pd.isna(december["nrr"])
    assert book["provisional"].tolist() == [False] * 6 + [True]


def test_groups_add_up_to_the_book(per_account: pd.DataFrame) -> None:
    segments = pd.Series({"NEW": "smb", "EXPAND": "smb", "CHURN": "enterprise", "BACK": "smb"})
    grouped = monthly_movements(per_account, AS_OF, GRACE, groups=segments)
    assert set(grouped["group"]) == {"smb", "enterprise", "(none)"}
    book = monthly_movements(per_account, AS_OF, GRACE)
    summed = grouped.groupby("month")[["start_mrr", *MOVEMENTS, "end_mrr"]].sum()
    pd.testing.assert_frame_equal(summed, book.set_index("month")[summed.columns])


def test_an_empty_book_has_no_months() -> None:
    empty = subscriptions_table().filter(ibis.literal(False))
    assert account_movements(empty, AS_OF, GRACE).empty
