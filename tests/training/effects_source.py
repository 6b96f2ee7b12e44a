"""Play runs added to a simulated source, for the tests of `churnlight plays` and the API.

The simulator of this branch records no plays: ``add_play_runs`` writes activities carrying
``adoption_campaign`` on a random tenth of the account-months (a play with plenty of runs, and
no effect: the simulated future does not know it was run) and ``champion_rescue`` five times
(too few runs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.model_bundle import encode
from tests.serving.helpers import columns, make_table
from training.dataset import LabelSpec, ModelData
from training.effects.treatment import PlayRuns

DATES = [date(2023, m, 1) for m in (3, 4, 5, 6, 7, 8)]


def add_play_runs(source: Path, seed: int = 0, share: float = 0.1) -> int:
    """Append play activities to ``source/activities.parquet``; the number of runs added."""
    rng = np.random.default_rng(seed)
    path = source / "activities.parquet"
    activities = pd.read_parquet(path)
    accounts = pd.read_parquet(source / "accounts.parquet")["account_id"].astype(str).tolist()
    first = pd.Timestamp(activities["date"].min()).to_period("M").to_timestamp()
    last = pd.Timestamp(activities["date"].max())
    months = pd.date_range(first, last, freq="MS")
    rows = []
    for account in accounts:
        for month in months:
            if rng.uniform() < share:
                day = month + pd.Timedelta(days=int(rng.integers(0, 28)))
                rows.append((account, day, "training", "adoption_campaign"))
    for account in accounts[:5]:
        rows.append((account, months[len(months) // 2], "meeting", "champion_rescue"))
    added = pd.DataFrame(rows, columns=["account_id", "date", "kind", "play"])
    added["date"] = added["date"].dt.date.astype(activities["date"].dtype)
    out = pd.concat([activities.assign(play=None), added], ignore_index=True)
    out["play"] = out["play"].astype("string")
    out.to_parquet(path, index=False)
    return len(added)


def make_play_source(directory: Path, accounts: int = 150, seed: int = 5) -> tuple[Path, Path]:
    """A simulated source with play runs (``add_play_runs``) and its feature table."""
    from features.pipeline import build_features
    from simulator.config import SimulationConfig
    from simulator.run import simulate

    source = directory / "source"
    simulate(SimulationConfig(accounts=accounts, months=20, seed=seed, oracle_rows=0), source)
    add_play_runs(source, seed=seed)
    features = directory / "features.parquet"
    build_features(source, features)
    return source, features


def champion_rescue_book() -> tuple[ModelData, PlayRuns]:
    """Six monthly snapshots of 300 accounts. CSMs run champion_rescue mostly where a champion
    left (confounded: those accounts churn more), and it halves churn exactly there."""
    rng = np.random.default_rng(5)
    table = pa.concat_tables(
        [make_table(300, seed=20 + i, snapshot_date=d) for i, d in enumerate(DATES)]
    )
    departures = np.nan_to_num(table.column("champion_departures_90d").to_numpy())
    run = rng.random(table.num_rows) < np.where(departures >= 1, 0.5, 0.08)
    churn = table.column("churn_180d").to_numpy().astype(float)
    saved = run & (departures >= 1) & (churn == 1) & (rng.random(table.num_rows) < 0.5)
    churn[saved] = 0.0
    ids = np.asarray(table.column("account_id").to_pylist(), dtype=object)
    snaps = table.column("snapshot_date").to_numpy().astype("datetime64[D]")
    cols = columns()
    data = ModelData(
        matrix=encode(table, cols),
        columns=cols,
        labels={
            "churn_180d": churn,
            "expand_180d": table.column("expand_180d").to_numpy().astype(float),
        },
        label_specs=[
            LabelSpec("churn_180d", "churn", 210),
            LabelSpec("expand_180d", "expansion", 180),
        ],
        raw=table,
        ids=ids,
        snapshot_date=snaps,
        groups={
            g: np.asarray(table.column(g).to_pylist(), dtype=object)
            for g in ("segment", "lifecycle_stage")
        },
        facts={"as_of": "2024-03-01"},
    )
    runs = PlayRuns(
        ids[run],
        snaps[run] + np.timedelta64(5, "D"),
        np.full(int(run.sum()), "champion_rescue", dtype=object),
    )
    return data, runs
