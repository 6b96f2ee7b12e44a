"""Training the survival model on 500,000 snapshot rows (``python -m bench.survival_speed
[ROWS [CAP,CAP,...]]``) against training the churn
classifier on the same rows (issue 19's bar: <= 3x), CPU time on one thread each (CPU time
moves little with the machine's load; wall time on a shared machine did), for several caps
on the person-period rows (``training.survival.MAX_PERIOD_ROWS``: periods without a churn
are sampled down to the cap and weighted 1 / share).

Data: the training bench's synthetic table (``bench.training_bench.synthetic_data``,
25,000 accounts x 20 months, 150 features) with a time to churn drawn from its churn label
(a churn in [0, 180) days for a positive, else an exponential tail past 180 days, censored
at the as-of minus the grace)."""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any

import numpy as np

CAPS = (800_000, 600_000, 400_000)


def _times(data: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from training.survival import followup_days

    rng = np.random.default_rng(seed)
    n = len(data.matrix)
    churn = data.labels["churn_180d"]
    base = np.nanmean(churn)
    positive = np.where(np.isnan(churn), rng.random(n) < base, churn == 1)
    days = np.where(positive, rng.integers(0, 180, n), 180 + rng.exponential(500, n))
    followup = followup_days(data.snapshot_date, date.fromisoformat(data.facts["as_of"]), 30)
    observed = days <= followup
    return (
        np.where(observed, np.floor(days), followup).astype(float),
        observed.astype(float),
        (followup),
    )


def train_time(rows: int = 500_000, caps: tuple[int, ...] = CAPS) -> dict[str, Any]:
    import lightgbm  # noqa: F401  (imported before the clocks start)

    from bench.training_bench import synthetic_data
    from training.model import base_dataset, fit_booster
    from training.survival import fit_survival

    months = 20
    data = synthetic_data(rows // months, months)
    days, observed, followup = _times(data)
    accounts = np.unique(data.ids)
    held = set(np.random.default_rng(1).choice(accounts, len(accounts) // 5, replace=False))
    in_valid = np.array([a in held for a in data.ids])
    everything = np.arange(len(data.matrix))
    fit_rows, valid_rows = everything[~in_valid], everything[in_valid]
    categorical = [j for j, c in enumerate(data.columns) if c.kind == "categorical"]
    load = [round(os.getloadavg()[0], 2)]

    y = data.labels["churn_180d"]
    cpu = time.process_time()
    base = base_dataset(data.matrix, data.columns, threads=1)
    fit_booster(
        base, y, fit_rows[~np.isnan(y[fit_rows])], valid_rows[~np.isnan(y[valid_rows])],
        data.columns, threads=1, matrix=data.matrix,
    )  # fmt: skip
    classifier = time.process_time() - cpu
    out: dict[str, Any] = {
        "rows": len(data.matrix),
        "features": len(data.columns),
        "classifier_cpu_seconds": round(classifier, 1),
        "survival": {},
    }
    for cap in caps:
        cpu = time.process_time()
        fit = fit_survival(
            data.matrix, data.feature_names, categorical, days, observed, followup,
            fit_rows, valid_rows, threads=1, max_period_rows=cap,
        )  # fmt: skip
        seconds = time.process_time() - cpu
        out["survival"][str(cap)] = {
            "cpu_seconds": round(seconds, 1),
            "ratio": round(seconds / classifier, 2),
            "person_period_rows": fit.person_period_rows,
            "trees": fit.best_iteration,
        }
        load.append(round(os.getloadavg()[0], 2))
    out["load_average_1m"] = load
    return out


def report(result: dict[str, Any]) -> list[str]:
    lines = [
        f"train time on {result['rows']:,} rows x {result['features']} features (one thread, "
        f"CPU): churn classifier {result['classifier_cpu_seconds']:.0f} s; load averages "
        f"{result['load_average_1m']}",
    ]
    for cap, r in result["survival"].items():
        verdict = "holds" if r["ratio"] <= 3 else "FAILS"
        lines.append(
            f"  survival, person-periods capped at {int(cap):,}: {r['cpu_seconds']:.0f} s CPU "
            f"({r['person_period_rows']:,} rows, {r['trees']} trees), ratio {r['ratio']:.2f} "
            f"(bar 3) -> {verdict}"
        )
    return lines


if __name__ == "__main__":
    import json
    import sys

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    caps = tuple(int(c) for c in sys.argv[2].split(",")) if len(sys.argv) > 2 else CAPS
    result = train_time(rows, caps)
    print(json.dumps(result))
    print("\n".join(report(result)))
