"""The play runs of a source (I/O): ``activities`` rows whose ``play`` is not null.

Data contract 1.1 adds the optional ``play`` column to ``activities``; the contract's typed
table (``Source.typed``) keeps it, all null when the source lacks it. A source without the
column, or without ``activities``, has no play runs recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from features.sources import open_source
from training.effects.treatment import PlayRuns


def read_play_runs(source: str | Path, backend: str | None = None) -> PlayRuns:
    """Every activity that carried out a play: account, day and play id."""
    src = open_source(source, backend=backend)
    if not src.has("activities"):
        return PlayRuns.empty()
    typed = src.typed("activities")
    table = (
        typed.select(
            account_id=typed.account_id.cast("string"),
            date=typed.date.cast("date"),
            play=typed.play.cast("string").strip().nullif(""),
        )
        .filter(lambda t: t.play.notnull())
        .to_pyarrow()
    )
    return PlayRuns(
        np.asarray(table.column("account_id").to_pylist(), dtype=object),
        table.column("date").to_numpy(zero_copy_only=False).astype("datetime64[D]"),
        np.asarray(table.column("play").to_pylist(), dtype=object),
    )
