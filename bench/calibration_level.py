"""Where the calibration's level comes from: the holdout accounts of the validation fold (the
map as fit), every account at the validation dates (``training.calibration.shift_level``)
scored by the fold's models (``every_account``) or, outside the holdout, by models refit
without the account (``cross_fit``, ``bench.cross_level``), or the rates alone (a prior
shift of the holdout rate to every account's, from labels only). Each backtest window's
served probabilities (the candidates fit on the window's fit rows, refit on every row closed
by the cutoff, as ``training.temporal`` scores a window) are scored by ECE on the window's
test rows.

Untuned LightGBM with the default recipe, the quality bench's cached sources
(``bench.training_bench.quality_source``: 2,000 x 36 seeds 11 and 12, 1,000 x 30 seed 21,
3,000 x 36 seed 12, and 2,000 x 36 seed 13). Each row also times the window's
``fit_candidates`` and the cross-fit's refits (``fit_seconds``, ``cross_fit_seconds``).
``python -m bench.calibration_level``: one JSON line per (source, label, window), then the
means; the results go to ``bench/results/calibration_level.json``."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SOURCES = ((2000, 36, 12), (2000, 36, 11), (1000, 30, 21), (3000, 36, 12), (2000, 36, 13))
WAYS = ("holdout", "every_account", "cross_fit", "prior_shift")


def _windows(accounts: int, months: int, seed: int) -> list[dict[str, Any]]:
    from scipy.special import expit, logit

    from bench.cross_level import GROUPS, cross_fitted_scores, level_groups
    from bench.training_bench import quality_source
    from features.model_bundle import Calibration
    from training import dataset, model, splits
    from training.calibration import shift_level
    from training.candidates import fit_candidates, refit_candidates
    from training.metrics import ece
    from training.options import TrainOptions
    from training.recipe import FitData, Recipe
    from training.temporal import _evaluation_folds, _Label

    root = quality_source(accounts, months, seed, 1_000_000)
    data = dataset.load(root / "features.parquet")
    options = TrainOptions(tune_trials=0, survival=False, top_accounts=0, threads=1)
    base = model.base_dataset(data.matrix, data.columns, 1)
    rows = []
    for spec in data.label_specs:
        y = data.labels[spec.name]
        labeled = data.labeled(spec.name)
        dates = sorted({dataset.as_date(d) for d in np.unique(data.snapshot_date[labeled])})  # type: ignore[index]
        folds, _, _ = _evaluation_folds(dates, spec, options, data.ids[labeled])
        label = _Label(
            data,
            spec,
            options,
            FitData(base, y, data.columns, data.matrix, 1),
            labeled,
            splits.holdout_accounts(data.ids, options.holdout_share, options.seed),
        )
        groups = level_groups(data.ids, label.holdout, GROUPS, options.seed)
        recipe = replace(
            Recipe.from_options(options, dict(model.DEFAULT_PARAMS), None),
            calibration_level="validation",
        )
        for fold in folds:
            fit, valid, test = label.rows(fold)
            level = label.level_rows(fold)
            refit_rows = label.refit_rows(fold)
            row: dict[str, Any] = {
                "source": f"{accounts} x {months} s{seed}",
                "label": spec.name,
                "window": fold.name,
                "rate_holdout": float(y[valid].mean()),
                "rate_every_account": float(y[level].mean()),  # type: ignore[index]
                "rate_test": float(y[test].mean()),
            }
            tick = time.perf_counter()
            fitted = fit_candidates(recipe, label.fits, fit, valid)  # the holdout's level
            row["fit_seconds"] = round(time.perf_counter() - tick, 2)
            refit = refit_candidates(fitted, recipe, label.fits, refit_rows)
            z = refit.raw_score("lightgbm", data.matrix[test])
            as_fit: Calibration = fitted.calibrations["lightgbm"]
            every = replace(recipe, calibration_level="every_account").level(
                as_fit, {}, fitted.tree.raw_score, label.fits, level
            )
            tick = time.perf_counter()
            crossed = cross_fitted_scores(fitted, recipe, label.fits, fit, level, groups)
            row["cross_fit_seconds"] = round(time.perf_counter() - tick, 2)
            cross = shift_level(as_fit, crossed["lightgbm"], y[level])  # type: ignore[index]
            shift = logit(row["rate_every_account"]) - logit(row["rate_holdout"])
            prior = expit(logit(np.clip(as_fit.apply(z), 1e-6, 1 - 1e-6)) + shift)
            row["holdout"] = ece(y[test], as_fit.apply(z))
            row["every_account"] = ece(y[test], every.apply(z))
            row["cross_fit"] = ece(y[test], cross.apply(z))
            row["prior_shift"] = ece(y[test], prior)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def run() -> dict[str, Any]:
    chosen = [tuple(int(v) for v in a.split("x")) for a in sys.argv[1:]] or SOURCES
    rows = [r for source in chosen for r in _windows(*source)]
    keys = (*WAYS, "fit_seconds", "cross_fit_seconds")
    means = {
        label: {k: float(np.mean([r[k] for r in rows if r["label"] == label])) for k in keys}
        for label in sorted({r["label"] for r in rows})
    }
    return {"rows": rows, "means": means}


def main() -> int:
    results = run()
    for label, means in results["means"].items():
        print(label, " ".join(f"{way} {value:.4f}" for way, value in means.items()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibration_level.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
