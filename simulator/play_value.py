"""What an assignment of plays is worth: ARR kept over the horizon with the plays applied,
against the same future without them (the harness for issue 18's prescription bar).

Given a month of a simulated history and plays assigned to accounts (e.g. each CSM's
capacity spent down a ranked list), ``arr_kept`` rolls every account active on the eve of
that month forward over the horizon, ``rollouts`` times, once with the assigned plays
applied at the month start and once without, with the same random numbers in both arms,
as ``simulator.play_truth`` does. A play's own chance of success is one draw per account
and month, seeded by (seed, month) only, so two assignments that give an account the same
play give it the same draw: comparing assignments compares who got what, not luck. No later
play is run in either arm.

ARR is 12 x the account's MRR on the last day of the months covering the horizon; a discount
keeps accounts but lowers their MRR, and that counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from features.errors import ConfigError
from simulator.chain import advance
from simulator.dates import day_number, to_date
from simulator.latent import SegmentArrays
from simulator.play_catalog import PLAY_CODES
from simulator.plays import apply_plays

if TYPE_CHECKING:
    from simulator.run import History

VALUE_STREAM, DRAW_STREAM = 8, 9
PATHS_PER_BATCH = 100_000


@dataclass
class ArrKept:
    """ARR of the book active on the eve of ``month``, and what is left of it at the end of
    the horizon with and without the assigned plays (means over rollouts)."""

    month: date
    accounts: int
    """Accounts active on the eve of the month (the book the plays are chosen from)."""
    plays_applied: int
    rollouts: int
    arr_start: float
    arr_without: float
    arr_with: float

    @property
    def arr_saved(self) -> float:
        return self.arr_with - self.arr_without


def arr_kept(
    history: History,
    month: date,
    accounts: Sequence[str],
    plays: Sequence[str],
    rollouts: int = 100,
) -> ArrKept:
    """ARR kept at the end of the horizon from ``month`` (a month start of the history) with
    play ``plays[i]`` run on account ``accounts[i]``, and without any play.

    Raises ``ConfigError`` for a month that is not a month start of the history, an unknown
    account or play, an account given twice, or an account not active on the month's eve."""
    cfg = history.config
    ms = history.month_starts
    starts = {int(d): m for m, d in enumerate(ms[: cfg.months + 1])}
    if day_number(month) not in starts:
        raise ConfigError(f"month {month} is not a month start of the simulated history")
    if len(accounts) != len(plays):
        raise ConfigError(f"{len(accounts)} accounts but {len(plays)} plays; give one each")
    m = starts[day_number(month)]
    index = {a: i for i, a in enumerate(history.account_ids)}
    unknown = [a for a in accounts if a not in index] + [p for p in plays if p not in PLAY_CODES]
    if unknown:
        raise ConfigError(f"unknown account or play id(s): {', '.join(map(str, unknown[:5]))}")
    if len(set(accounts)) != len(accounts):
        raise ConfigError("an account is given more than one play; give each at most one")
    book = np.flatnonzero(history.mrr_eve[m] > 0)
    position = {a: i for i, a in enumerate(book.tolist())}
    inactive = [a for a in accounts if index[a] not in position]
    if inactive:
        raise ConfigError(f"account(s) not active on the eve of {month}: {', '.join(inactive[:5])}")
    assigned = np.full(len(book), -1, dtype=np.int64)
    for a, p in zip(accounts, plays, strict=True):
        assigned[position[index[a]]] = PLAY_CODES[p]
    draws = success_draws(history, m)[book]

    without, with_plays = arr_by_account(history, m, book, assigned, draws, rollouts)
    t = int(ms[m])
    return ArrKept(
        month=to_date(t),
        accounts=len(book),
        plays_applied=int((assigned >= 0).sum()),
        rollouts=rollouts,
        arr_start=float(12 * history.mrr_eve[m, book].sum()),
        arr_without=float(without.sum()),
        arr_with=float(with_plays.sum()),
    )


def success_draws(history: History, month: int) -> np.ndarray:
    """Every account's success draw for a play run in month index ``month`` (the same for
    every assignment)."""
    cfg = history.config
    return np.random.default_rng([cfg.seed, DRAW_STREAM, month]).random(cfg.accounts)


def arr_by_account(
    history: History,
    month: int,
    book: np.ndarray,
    plays: np.ndarray,
    draws: np.ndarray,
    rollouts: int = 100,
    stream: int = VALUE_STREAM,
) -> tuple[np.ndarray, np.ndarray]:
    """Per account of ``book`` (account indices, active on the eve of month index
    ``month``): the mean ARR at the end of the horizon without plays and with play code
    ``plays[i]`` (-1: none) and success draw ``draws[i]`` applied at the month start. The
    arms share their random numbers; batches are seeded by (seed, ``stream``, month, batch):
    another ``stream`` gives rollouts independent of the default ones (an oracle that ranks
    by one set of rollouts and is judged on another does not pick their noise)."""
    cfg = history.config
    ms = history.month_starts
    seg = SegmentArrays.from_config(cfg)
    t = int(ms[month])
    per_batch = max(1, PATHS_PER_BATCH // rollouts)
    kept = np.zeros((2, len(book)))
    for batch_no, lo in enumerate(range(0, len(book), per_batch)):
        b = np.arange(lo, min(lo + per_batch, len(book)))
        rep = np.repeat(b, rollouts)
        start = history.boundary[month].take(book[rep])
        for arm in (0, 1):
            paths = start.copy()
            if arm == 1:
                rows = np.flatnonzero(plays[rep] >= 0)
                apply_plays(paths, rows, plays[rep][rows], draws[rep][rows])
            rng = np.random.default_rng([cfg.seed, stream, month, batch_no])
            j = 0
            while ms[month + j] < t + cfg.horizon_days:
                advance(paths, int(ms[month + j]), int(ms[month + j + 1]), cfg, seg, rng)
                j += 1
            arr = 12 * paths.commercial.mrr_on(int(ms[month + j]) - 1)
            kept[arm, b] = arr.reshape(len(b), rollouts).mean(axis=1)
    return kept[0], kept[1]
