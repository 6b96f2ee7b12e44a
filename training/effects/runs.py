"""The play runs of a source (I/O): ``activities`` rows whose ``play`` is not null.

Data contract 1.1 adds the optional ``play`` column to ``activities``. The contract's
validation keeps only the columns it knows, so the runs are read from the raw table here (any
source ``features.sources.open_source`` reads), with the contract's types: a source without the
column, or without ``activities``, has no play runs recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from features.sources import open_source
from training.effects.treatment import PlayRuns

PLAY_COLUMN = "play"


def read_play_runs(source: str | Path, backend: str | None = None) -> PlayRuns:
    """Every activity that carried out a play: account, day and play id."""
    src = open_source(source, backend=backend)
    if not src.has("activities"):
        return PlayRuns.empty()
    raw = src.raw["activities"]
    if PLAY_COLUMN not in raw.columns:
        return PlayRuns.empty()
    play = raw[PLAY_COLUMN].cast("string")
    table = (
        raw.select(
            account_id=raw.account_id.cast("string"),
            date=raw.date.cast("date"),
            play=play.strip().nullif(""),
        )
        .filter(lambda t: t.play.notnull())
        .to_pyarrow()
    )
    return PlayRuns(
        np.asarray(table.column("account_id").to_pylist(), dtype=object),
        table.column("date").to_numpy(zero_copy_only=False).astype("datetime64[D]"),
        np.asarray(table.column("play").to_pylist(), dtype=object),
    )
