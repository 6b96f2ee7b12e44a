"""What an expansion is worth (``training.effects.sizes``): the mean past expansion of +10% or
more as a share of MRR, per segment with enough of them, else the whole book's."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.forecast.helpers import write_book_source
from training.effects.sizes import expansion_shares, source_expansion_shares


def _movements(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """(account_id, start_mrr, expansion) per customer-month."""
    start = date(2024, 1, 1)
    return pd.DataFrame(
        [
            {
                "account_id": a,
                "month": start + timedelta(days=31 * i),
                "start_mrr": mrr,
                "expansion": grown,
                "contraction": 0.0,
                "customer_start": 1,
            }
            for i, (a, mrr, grown) in enumerate(rows)
        ]
    )


def test_the_mean_share_per_segment_with_enough_expansions_else_the_book_s() -> None:
    rows = [(f"s{i}", 100.0, 20.0) for i in range(25)]  # smb: 25 expansions of a fifth
    rows += [("e1", 1000.0, 1000.0), ("e2", 1000.0, 500.0)]  # enterprise: two, too few
    rows += [("s0", 100.0, 5.0), ("e1", 1000.0, 0.0)]  # +5% is below the label's threshold
    segments = pd.Series({**{f"s{i}": "smb" for i in range(25)}, "e1": "ent", "e2": "ent"})
    shares = expansion_shares(_movements(rows), segments)
    book = (25 * 0.2 + 1.0 + 0.5) / 27
    assert shares == pytest.approx({"all": book, "smb": 0.2, "ent": book})


def test_a_book_that_never_expanded_has_no_share() -> None:
    rows = [("a", 100.0, 0.0), ("b", 100.0, 5.0)]
    assert expansion_shares(_movements(rows), pd.Series({"a": "smb", "b": "smb"})) == {}


def test_a_source_s_shares_come_from_its_subscriptions_up_to_the_as_of_date(
    tmp_path: Path,
) -> None:
    source = write_book_source(tmp_path / "book")
    # an add-on of +50% (smb) in March and a renewal at +30% (mid-market) in March; too few
    # for a segment of their own: every segment takes the book's mean
    shares = source_expansion_shares(source)
    assert shares["all"] == pytest.approx(0.4)
    assert shares["smb"] == shares["mid_market"] == pytest.approx(0.4)
    # as of March 1st neither had happened
    assert source_expansion_shares(source, as_of=date(2024, 3, 1)) == {}
