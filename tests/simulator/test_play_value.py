"""ARR kept with an assignment of plays vs without (the prescription bar's harness)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from features.errors import ConfigError
from simulator.config import SimulationConfig
from simulator.dates import to_date
from simulator.play_catalog import PlayPolicy
from simulator.play_value import arr_kept
from simulator.run import History, generate

pytestmark = pytest.mark.xdist_group("simulator")
MONTH = 12


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    config = SimulationConfig(accounts=300, months=24, seed=11, plays=PlayPolicy())
    return generate(config, tmp_path_factory.mktemp("value") / "source")


def _book(history: History) -> tuple[date, list[str], np.ndarray]:
    book = np.flatnonzero(history.mrr_eve[MONTH] > 0)
    return (
        to_date(int(history.month_starts[MONTH])),
        [history.account_ids[i] for i in book],
        book,
    )


def test_no_play_or_an_inert_play_saves_exactly_nothing(history: History) -> None:
    month, ids, _ = _book(history)
    none = arr_kept(history, month, [], [])
    inert = arr_kept(history, month, ids, ["success_check_in"] * len(ids))
    assert none.arr_saved == 0.0 and inert.arr_saved == 0.0
    assert inert.arr_without == none.arr_without == inert.arr_with
    assert 0 < none.arr_without < none.arr_start  # some of the book churns
    assert inert.plays_applied == len(ids) == inert.accounts


def test_rescuing_champions_keeps_arr_and_discounts_give_it_away(history: History) -> None:
    month, ids, book = _book(history)
    no_champion = [
        a for a, i in zip(ids, book, strict=True) if not history.boundary[MONTH].latent.champion[i]
    ]
    assert len(no_champion) > 10
    rescue = arr_kept(history, month, no_champion, ["champion_rescue"] * len(no_champion))
    assert rescue.arr_saved > 0
    discount = arr_kept(history, month, ids, ["renewal_discount"] * len(ids))
    assert discount.arr_saved < 0  # everyone renewing pays 15% less
    again = arr_kept(history, month, no_champion, ["champion_rescue"] * len(no_champion))
    assert again == rescue


@pytest.mark.parametrize(
    ("accounts", "plays", "month", "message"),
    [
        (["nope"], ["champion_rescue"], None, "unknown account or play id(s): nope"),
        (None, ["free_pizza"], None, "unknown account or play id(s): free_pizza"),
        (None, ["champion_rescue"], date(2024, 1, 15), "is not a month start"),
        (None, [], None, "1 accounts but 0 plays"),
    ],
)
def test_bad_assignments_are_named(history: History, accounts, plays, month, message) -> None:
    first, ids, _ = _book(history)
    with pytest.raises(ConfigError, match=re.escape(message)):
        arr_kept(history, month or first, accounts or ids[:1], plays)


def test_an_account_not_in_the_book_is_refused(history: History, tmp_path: Path) -> None:
    month, ids, _ = _book(history)
    outside = sorted(set(history.account_ids) - set(ids))[0]
    with pytest.raises(ConfigError, match=f"not active on the eve of {month}: {outside}"):
        arr_kept(history, month, [outside], ["champion_rescue"])
    with pytest.raises(ConfigError, match="more than one play"):
        arr_kept(history, month, [ids[0], ids[0]], ["champion_rescue", "adoption_campaign"])
