"""Which feature-table rows a play run treats (pure).

The unit is a feature-table row (account_id, snapshot_date): its features are as of the
snapshot, before any play that follows, and its outcomes are the row's labels. The row is
treated by play P when a run of P on that account is dated in [snapshot_date, snapshot_date +
``window_days``). A run dated before the snapshot belongs to an earlier row; its traces are in
this row's features (it happened before t), which is what the point-in-time rule asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TREATMENT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class PlayRuns:
    """Play runs: one entry per activity with a play (account, day, play id)."""

    account_id: np.ndarray
    date: np.ndarray
    """datetime64[D]"""
    play: np.ndarray

    def __len__(self) -> int:
        return len(self.play)

    @classmethod
    def empty(cls) -> PlayRuns:
        return cls(
            np.array([], dtype=object),
            np.array([], dtype="datetime64[D]"),
            np.array([], dtype=object),
        )

    @property
    def plays(self) -> list[str]:
        return sorted({str(p) for p in self.play})


def treated_rows(
    account_id: np.ndarray,
    snapshot_date: np.ndarray,
    runs: PlayRuns,
    plays: Sequence[str],
    window_days: int = TREATMENT_WINDOW_DAYS,
) -> dict[str, np.ndarray]:
    """Per play, a 0/1 array over the rows: 1 when a run of the play on the row's account is
    dated in [snapshot_date, snapshot_date + window_days)."""
    import pandas as pd

    n = len(account_id)
    out = {play: np.zeros(n, dtype=np.int64) for play in plays}
    if not len(runs) or not n:
        return out
    rows = pd.DataFrame(
        {
            "row": np.arange(n),
            "account_id": np.asarray(account_id).astype(str),
            "start": np.asarray(snapshot_date, dtype="datetime64[D]"),
        }
    )
    found = pd.DataFrame(
        {
            "account_id": np.asarray(runs.account_id).astype(str),
            "day": np.asarray(runs.date, dtype="datetime64[D]"),
            "play": np.asarray(runs.play).astype(str),
        }
    )
    found = found[found["play"].isin(list(plays))]
    joined = rows.merge(found, on="account_id")
    days = (joined["day"] - joined["start"]).dt.days
    hits = joined[(days >= 0) & (days < window_days)]
    for play, group in hits.groupby("play"):
        out[str(play)][group["row"].to_numpy()] = 1
    return out
