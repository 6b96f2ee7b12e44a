"""Synthetic feature tables with a known signal, for training tests (seeded, a few seconds).

Churn risk rises with champion departures and falls with seat utilisation; expansion rises
with seat utilisation. Labels are null where the contract censors them: churn when
t + 180 + 30 days > as-of, expansion when t + 180 days > as-of."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from features.metadata import FeatureSpec
from features.writer import write_feature_table

HORIZON, GRACE = 180, 30

SPECS = [
    FeatureSpec("mrr", "commercial", "Monthly recurring revenue", "currency", "MRR is {value}"),
    FeatureSpec("seats", "commercial", "Licensed seats", "count", "{value} seats"),
    FeatureSpec(
        "days_to_renewal", "lifecycle", "Days until the term ends", "days", "Renewal in {value}"
    ),
    FeatureSpec(
        "lifecycle_stage",
        "lifecycle",
        "Lifecycle stage",
        "category",
        "Stage: {value}",
        kind="categorical",
    ),
    FeatureSpec(
        "seat_utilization_30d",
        "usage_depth",
        "Active users per seat",
        "fraction",
        "{value} of seats active",
    ),
    FeatureSpec("active_users_30d", "usage_depth", "Active users", "count", "{value} users"),
    FeatureSpec(
        "champion_departures_90d",
        "champions",
        "Champions who left in 90 days",
        "count",
        "{value} champion(s) left",
        requires=("contacts",),
    ),
    FeatureSpec("nps_last", "voice_of_customer", "Latest NPS", "score", "NPS {value}"),
    FeatureSpec("open_high_tickets", "support", "Urgent tickets open", "count", "{value} open"),
    FeatureSpec("noise", "engagement", "Pure noise", "count", "{value}"),
    FeatureSpec(
        "segment", "commercial", "Segment", "category", "Segment {value}", kind="categorical"
    ),
]


def month_starts(first: date, count: int) -> list[date]:
    out, year, month = [], first.year, first.month
    for _ in range(count):
        out.append(date(year, month, 1))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def synthetic_table(accounts: int = 300, months: int = 24, seed: int = 0) -> tuple[pa.Table, date]:
    """(feature table, as-of date) with the columns of ``SPECS`` and both labels."""
    rng = np.random.default_rng(seed)
    dates = month_starts(date(2022, 1, 1), months)
    as_of = dates[-1] + timedelta(days=1)
    n = accounts * months
    acc = np.repeat(np.arange(accounts), months)
    level = rng.normal(0, 1, accounts)[acc]
    segment = np.array(["enterprise", "mid_market", "smb"], dtype=object)[
        rng.integers(0, 3, accounts)
    ][acc]
    seats = np.round(np.exp(rng.normal(3, 0.6, accounts)))[acc]
    util = np.clip(0.7 + 0.15 * level + rng.normal(0, 0.12, n), 0.05, 1.3)
    departures = rng.poisson(0.25, n).astype(float)
    nps = np.clip(np.round(7 + 1.5 * level + rng.normal(0, 1.5, n)), 0, 10)
    nps[rng.random(n) < 0.3] = np.nan
    tickets = rng.poisson(0.4, n).astype(float)
    days = rng.integers(0, 365, n).astype(float)
    stage = np.where(days < 90, "renewal", "adoption").astype(object)
    z_churn = -3.0 + 1.4 * departures - 3.0 * (util - 0.7) + 0.8 * (days < 180)
    z_expand = -2.5 + 3.0 * (util - 0.7) + 0.3 * (nps > 8)
    churn = (rng.random(n) < 1 / (1 + np.exp(-z_churn))).astype(float)
    expand = (rng.random(n) < 1 / (1 + np.exp(-z_expand))).astype(float)
    snapshot = np.array(dates * accounts, dtype="datetime64[D]")
    t_days = (snapshot - np.datetime64(as_of, "D")).astype(int)
    churn[t_days + HORIZON + GRACE > 0] = np.nan
    expand[t_days + HORIZON > 0] = np.nan
    table = pa.table(
        {
            "account_id": pa.array([f"a{i:04d}" for i in acc]),
            "snapshot_date": pa.array(snapshot.astype("datetime64[D]").tolist(), pa.date32()),
            "mrr": pa.array(seats * 40.0),
            "seats": pa.array(seats),
            "days_to_renewal": pa.array(days),
            "lifecycle_stage": pa.array(stage.tolist(), pa.string()),
            "seat_utilization_30d": pa.array(util),
            "active_users_30d": pa.array(np.round(util * seats)),
            "champion_departures_90d": pa.array(departures),
            "nps_last": pa.array(nps, from_pandas=True),
            "open_high_tickets": pa.array(tickets),
            "noise": pa.array(rng.normal(size=n)),
            "segment": pa.array(segment.tolist(), pa.string()),
            "churn_180d": _labels(churn),
            "expand_180d": _labels(expand),
        }
    )
    return table, as_of


def _labels(values: np.ndarray) -> pa.Array:
    return pa.array([None if np.isnan(v) else int(v) for v in values], pa.int64())


def write_synthetic(path: Path, accounts: int = 300, months: int = 24, seed: int = 0) -> Path:
    """Write a synthetic feature table (Parquet + metadata) as ``churnlight features`` would."""
    table, as_of = synthetic_table(accounts, months, seed)
    return write_feature_table(table, path, synthetic_facts(path, as_of, f"synthetic-{seed}"))


def write_synthetic_times(path: Path, accounts: int = 300, months: int = 30, seed: int = 0) -> Path:
    """A synthetic feature table with the time to churn (``churn_days``, ``churn_observed``)
    as ``churnlight features`` writes it: each row's churn day is drawn from a monthly hazard
    that rises with departures and falls with utilisation, is observed when it falls on or
    before the as-of minus the grace (else the row is censored there), and the churn label
    is read off it (null where the follow-up is shorter than 180 days, as the contract
    censors it)."""
    table, as_of = synthetic_table(accounts, months, seed)
    rng = np.random.default_rng(seed + 1)
    departures = table.column("champion_departures_90d").to_numpy()
    util = table.column("seat_utilization_30d").to_numpy()
    monthly = 1 / (1 + np.exp(-(-3.6 + 1.2 * departures - 3.0 * (util - 0.7))))
    churn_days = np.floor(rng.exponential(30.0 / monthly))
    snapshot = table.column("snapshot_date").to_numpy().astype("datetime64[D]")
    followup = (np.datetime64(as_of, "D") - GRACE - snapshot).astype(int).astype(float)
    observed = churn_days <= followup
    days = np.where(observed, churn_days, followup)
    label = np.where(followup >= HORIZON, (observed & (days < HORIZON)).astype(float), np.nan)
    table = table.set_column(
        table.schema.get_field_index("churn_180d"), "churn_180d", _labels(label)
    )
    table = table.append_column("churn_days", pa.array(days.astype(np.int64)))
    table = table.append_column("churn_observed", pa.array(observed.astype(np.int64)))
    facts = {
        **synthetic_facts(path, as_of, f"synthetic-times-{seed}"),
        "times": ["churn_days", "churn_observed"],
    }
    return write_feature_table(table, path, facts)


def synthetic_facts(path: Path, as_of: date, fingerprint: str) -> dict[str, Any]:
    """The metadata ``churnlight features`` writes beside a synthetic table at ``path``."""
    return {
        "source": str(path.parent / "no-source"),
        "source_fingerprint": fingerprint,
        "as_of": as_of.isoformat(),
        "horizon_days": HORIZON,
        "grace_days": GRACE,
        "labels": ["churn_180d", "expand_180d"],
        "keys": ["account_id", "snapshot_date"],
        "features": [s.to_dict() for s in SPECS],
    }


# ---- a retrain in another process, for the kill and lock tests ----------------------------


def registry_state(settings) -> dict:  # type: ignore[no-untyped-def]
    """Every registered version with its tags and aliases, read through a fresh client."""
    from mlflow import MlflowClient

    uri = settings.resolved_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    state = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        state[model.name] = {
            "aliases": {alias: str(v) for alias, v in (model.aliases or {}).items()},
            "versions": sorted(
                (str(v.version), (v.tags or {}).get("churnlight.state")) for v in versions
            ),
        }
    return state


def retrain_worker(
    models_dir: str,
    features_path: str,
    pause_at: str | None = None,
    kill_in_registry: bool = False,
) -> None:
    """``training.retrain.retrain`` as a scheduler would run it, with the feature stage
    replaced by a copy of a prepared feature table. ``pause_at``: when that step starts,
    print ``paused at <step>`` and wait for a signal (the test then kills the process);
    ``kill_in_registry``: SIGKILL itself when the champion alias is about to move (after the
    versions were registered)."""
    import os
    import shutil
    import signal
    from types import SimpleNamespace

    import features.pipeline
    from training.options import TrainOptions
    from training.retrain import retrain
    from training.settings import TrainingSettings

    def copy_features(source, out, options=None, quarantine=False, **_):  # type: ignore[no-untyped-def]
        shutil.copy(features_path, out)
        return SimpleNamespace(as_of=date(2023, 12, 2), rows=0, rows_quarantined=0)

    features.pipeline.build_features = copy_features  # type: ignore[assignment]

    def hook(step: str) -> None:
        if step == pause_at:
            print(f"paused at {step}", flush=True)
            signal.pause()

    if kill_in_registry:
        from mlflow import MlflowClient

        def die(*args, **kwargs):  # type: ignore[no-untyped-def]
            os.kill(os.getpid(), signal.SIGKILL)

        MlflowClient.set_registered_model_alias = die  # type: ignore[method-assign]
    # A loose calibration bound: small synthetic windows are noisy, and these tests are about
    # what a kill or a lock leaves behind, so the gate should want to promote.
    settings = TrainingSettings(home=Path(models_dir), train_threads=1, promotion_max_ece=0.2)
    options = TrainOptions(backtests=1, threads=1, seed=11, top_accounts=0)
    # The scratch folder beside the models: a killed run cannot clean it up, and the test's
    # tmp_path does away with it (not the machine's /tmp).
    retrain("synthetic-source", settings, options, work_dir=models_dir, hook=hook)
    print("retrain finished")
