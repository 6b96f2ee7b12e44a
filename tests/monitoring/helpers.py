"""One snapshot of the synthetic book of ``tests.training.helpers`` with its labels known,
and the two shifts monitoring must tell apart (each from the snapshot it is drawn at):

- covariate shift (``usage_drop``): the seat utilisation of every ``segment`` account falls
  by this much; churn still follows the same rule, so the model stays right;
- concept shift (``concept=True``): a pricing change makes churn follow renewal timing and
  urgent tickets instead of utilisation and champion departures; the features keep their
  distribution, the model is now wrong.

The rule without shift is the training table's own (``synthetic_table``)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa


def snapshot(
    accounts: int,
    seed: int,
    usage_drop: float = 0.0,
    segment: str = "smb",
    concept: bool = False,
    day: date = date(2024, 6, 1),
) -> tuple[pa.Table, np.ndarray]:
    """(feature rows of one snapshot, churn_180d label per row)."""
    rng = np.random.default_rng(seed)
    n = accounts
    level = rng.normal(0, 1, n)
    segments = np.array(["enterprise", "mid_market", "smb"], dtype=object)[rng.integers(0, 3, n)]
    seats = np.round(np.exp(rng.normal(3, 0.6, n)))
    util = np.clip(0.7 + 0.15 * level + rng.normal(0, 0.12, n), 0.05, 1.3)
    util = np.where(segments == segment, np.clip(util - usage_drop, 0.05, 1.3), util)
    departures = rng.poisson(0.25, n).astype(float)
    nps = np.clip(np.round(7 + 1.5 * level + rng.normal(0, 1.5, n)), 0, 10)
    nps[rng.random(n) < 0.3] = np.nan
    tickets = rng.poisson(0.4, n).astype(float)
    days = rng.integers(0, 365, n).astype(float)
    stage = np.where(days < 90, "renewal", "adoption").astype(object)
    if concept:
        z_churn = -2.6 + 1.2 * tickets + 1.0 * (days > 270)
    else:
        z_churn = -3.0 + 1.4 * departures - 3.0 * (util - 0.7) + 0.8 * (days < 180)
    churn = (rng.random(n) < 1 / (1 + np.exp(-z_churn))).astype(float)
    table = pa.table(
        {
            "account_id": pa.array([f"s{seed}-{i:05d}" for i in range(n)]),
            "snapshot_date": pa.array([day] * n, pa.date32()),
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
            "segment": pa.array(segments.tolist(), pa.string()),
        }
    )
    return table, churn
