"""Tuning: what pruning saves, against the same search without it, in the same run.

The simulator's 3,000 accounts x 36 months source (the training benchmark's: seed 12, its
sources cached by ``bench.training_bench.quality_source``), churn
label, its three backtest folds as ``train`` builds them. The search runs ``TRIALS`` trials
without a time limit twice, with the same seed: pruned (``train``'s default: the defaults as
a warm start, folds cheapest first, ``MedianPruner``) and unpruned. Reported: finished and
pruned trials, fits, CPU seconds (less sensitive to a shared machine's load than wall time),
the best validation ROC-AUC, and the pruned search's share of the unpruned one's fits and
CPU time. The load average before and after is printed beside them.

``--quick``: 400 accounts x 24 months, 12 trials.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

TRIALS = 30
LABEL = "churn_180d"


def _folds(
    accounts: int, months: int, seed: int, oracle_rows: int
) -> tuple[Any, list[tuple[Any, Any]]]:
    from bench.training_bench import quality_source
    from training import dataset, model, splits
    from training.dataset import as_date
    from training.options import TrainOptions
    from training.recipe import FitData

    root = quality_source(accounts, months, seed, oracle_rows)
    data = dataset.load(root / "features.parquet")
    spec = data.label_spec(LABEL)
    options = TrainOptions()
    y = data.labels[LABEL]
    labeled = ~np.isnan(y)
    dates = sorted({as_date(d) for d in np.unique(data.snapshot_date[labeled])})  # type: ignore[index]
    folds, _ = splits.backtest_folds(
        dates,
        spec.span_days,
        options.backtests,
        options.window_snapshots,
        options.valid_snapshots,
    )
    holdout = splits.holdout_accounts(data.ids, options.holdout_share, options.seed)
    rows = []
    for fold in folds:
        fit, valid, _ = fold.masks(data.snapshot_date, holdout)  # type: ignore[arg-type]
        rows.append((np.flatnonzero(fit & labeled), np.flatnonzero(valid & labeled)))
    base = model.base_dataset(data.matrix, data.columns)
    return FitData(base, y, data.columns, data.matrix), rows


def search(accounts: int, months: int, seed: int, oracle_rows: int, trials: int) -> dict[str, Any]:
    from training import model
    from training.recipe import Recipe
    from training.tune import cheapest_first, tune

    fits, rows = _folds(accounts, months, seed, oracle_rows)
    recipe = Recipe(params=dict(model.DEFAULT_PARAMS))
    count = {"fits": 0}

    def fit(params: dict[str, Any], k: int) -> model.Fit:
        count["fits"] += 1
        return recipe.with_params(params).fit(fits, *rows[k])

    order = cheapest_first([len(fit_rows) for fit_rows, _ in rows])
    out: dict[str, Any] = {
        "source": f"simulator {accounts} x {months} months (seed {seed}), {LABEL}",
        "fit_rows": [len(fit_rows) for fit_rows, _ in rows],
        "load_average_1m": [round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    for name, prune in (("pruned", True), ("unpruned", False)):
        count["fits"] = 0
        cpu, wall = time.process_time(), time.perf_counter()
        _, facts = tune(fit, len(rows), trials, recipe.seed, recipe.params, None, order, prune)
        out[name] = {
            "trials": facts["trials"],
            "pruned": facts["pruned"],
            "fits": count["fits"],
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "wall_seconds": round(time.perf_counter() - wall, 2),
            "default_valid_auc": facts["default_valid_auc"],
            "best_valid_auc": facts["best_valid_auc"],
        }
    out["load_average_1m"].append(round(os.getloadavg()[0], 2))
    out["fits_share"] = out["pruned"]["fits"] / out["unpruned"]["fits"]
    out["cpu_share"] = out["pruned"]["cpu_seconds"] / out["unpruned"]["cpu_seconds"]
    return out


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        return search(400, 24, 12, 1500, 12)
    return search(3000, 36, 12, 12_000, TRIALS)


def report(results: dict[str, Any]) -> list[str]:
    lines = [f"{results['source']}; fit rows per fold {results['fit_rows']}"]
    for name in ("pruned", "unpruned"):
        r = results[name]
        lines.append(
            f"  {name:9} {r['trials']} finished + {r['pruned']} pruned trials, {r['fits']} fits, "
            f"CPU {r['cpu_seconds']:.1f} s (wall {r['wall_seconds']:.1f} s), validation ROC-AUC "
            f"{r['default_valid_auc']:.4f} defaults -> {r['best_valid_auc']:.4f} best"
        )
    lines.append(
        f"  pruned / unpruned: fits {results['fits_share']:.2f}x, CPU {results['cpu_share']:.2f}x"
    )
    lines.append(
        f"  load average (1 min) before/after on {results['cpus']} cores: "
        f"{results['load_average_1m']}"
    )
    return lines
