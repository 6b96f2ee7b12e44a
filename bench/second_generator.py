"""A second generator: a one-row-per-customer churn table shaped like a telecom or consumer
subscription export, with a structure the churnlight simulator does not have (no events, no
snapshots; contract terms, a U-shaped price effect, an interaction of contract and tenure, a
payment-method effect, a random high-cardinality column, missing values). It exists so the
quality benchmark measures the models on data they were not designed around."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CONTRACTS = ("month-to-month", "one year", "two year")
PAYMENTS = ("card", "bank transfer", "electronic check", "mailed check")


def churn_table(rows: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """The table (``customer_id``, inputs, ``churned``) and each row's true churn probability."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(3, rows, p=[0.55, 0.25, 0.20])
    tenure = np.clip(rng.gamma(1.4 + contract, 9.0), 0, 72).round()
    charges = np.clip(rng.normal(65, 28, rows), 18, 120).round(2)
    payment = rng.choice(4, rows, p=[0.3, 0.25, 0.3, 0.15])
    seats = rng.poisson(3 + 2 * contract) + 1
    support_calls = rng.poisson(0.6 + 0.02 * np.maximum(charges - 60, 0))
    fibre = rng.random(rows) < 0.45
    # the truth: month-to-month customers leave early in their tenure, long contracts barely;
    # a U-shaped price effect; electronic checks churn more; support calls saturate
    logit = (
        -1.6
        + np.array([1.3, -0.4, -1.6])[contract]
        - 0.05 * tenure * (contract == 0)
        - 0.015 * tenure * (contract > 0)
        + 0.0009 * (charges - 55) ** 2
        + 0.6 * (payment == 2)
        + 0.5 * fibre
        + 0.7 * np.log1p(support_calls)
        - 0.08 * seats
    )
    truth = 1 / (1 + np.exp(-logit))
    churned = (rng.random(rows) < truth).astype(np.int64)
    region = rng.integers(0, 50, rows)  # random: never a driver
    charges_seen = charges.copy()
    charges_seen[rng.random(rows) < 0.03] = np.nan
    table = pa.table(
        {
            "customer_id": [f"c{i:06d}" for i in range(rows)],
            "contract": [CONTRACTS[c] for c in contract],
            "tenure_months": tenure,
            "monthly_charges": charges_seen,
            "payment_method": [PAYMENTS[p] for p in payment],
            "fibre": fibre,
            "seats": seats,
            "support_calls_90d": support_calls,
            "region": [f"r{r:02d}" for r in region],
            "churned": churned,
        }
    )
    return table, truth


def write_churn_table(path: Path, rows: int, seed: int) -> np.ndarray:
    table, truth = churn_table(rows, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return truth
