"""The history a server answers from: every account's points and the latest movers, read
from the history store once per load and swapped with the rest of the state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from serving.errors import NotInHistory
from serving.history import HistoryStore, points_as_dicts
from serving.movers import Movers


@dataclass
class ServedHistory:
    points: pa.Table
    """``account_id`` and ``POINT_COLUMNS``, by account then snapshot date."""
    index: dict[str, tuple[int, int]]
    snapshots: list[str]
    movers: Movers | None
    """None until the history holds two snapshot dates."""

    @classmethod
    def load(cls, store: HistoryStore) -> ServedHistory:
        points, snapshots, before, after = store.served()
        ids = np.asarray(points.column("account_id").to_pylist(), dtype=object)
        index: dict[str, tuple[int, int]] = {}
        if len(ids):
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            stops = np.r_[starts[1:], len(ids)]
            index = {str(ids[s]): (int(s), int(e)) for s, e in zip(starts, stops, strict=True)}
        dates = [d.isoformat() for d in snapshots.column("snapshot_date").to_pylist()]
        movers = Movers.compare(before, after) if before is not None and after is not None else None
        return cls(points, index, dates, movers)

    def account(self, account_id: str) -> dict[str, Any]:
        """``{"account_id", "points": [...]}``, oldest first."""
        span = self.index.get(account_id)
        if span is None:
            raise NotInHistory(account_id)
        rows = points_as_dicts(self.points.slice(span[0], span[1] - span[0]))
        for row in rows:
            row.pop("account_id", None)
        return {"account_id": account_id, "points": rows}

    def previous(self, account_id: str, before: str) -> dict[str, Any] | None:
        """The account's latest point dated before ``before`` (YYYY-MM-DD), or None."""
        span = self.index.get(account_id)
        if span is None:
            return None
        found = None
        for row in points_as_dicts(self.points.slice(span[0], span[1] - span[0])):
            if row["snapshot_date"] < before:
                found = row
        return found
