"""Play runs added to a simulated source, for the tests of `churnlight plays` and the API.

The simulator of this branch records no plays: ``add_play_runs`` writes activities carrying
``adoption_campaign`` on a random tenth of the account-months (a play with plenty of runs, and
no effect: the simulated future does not know it was run) and ``champion_rescue`` five times
(too few runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


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
