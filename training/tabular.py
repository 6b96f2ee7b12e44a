"""Tabular mode: one label of a table without snapshot dates, cross-validated.

Stratified k-fold; in each fold a stratified 20% of the training rows early-stops and
calibrates; the pooled out-of-fold predictions give the cross-validated metrics. The model
that is registered is fit the same way on every labeled row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from features.model_bundle import Calibration
from training import model, splits
from training.baselines import baseline_predictions
from training.bundle_facts import new_bundle, record_evaluation
from training.dataset import LabelSpec, ModelData
from training.evaluate import MODEL, WindowResult, evaluate_predictions, group_table
from training.explanations import explain_final_model
from training.metrics import METRIC_NAMES
from training.options import TrainOptions
from training.recipe import FitData, Recipe
from training.results import LabelResult
from training.tune import tune

CALIBRATION_SEED = 0
"""Seed of the split by which tabular mode's "auto" calibration picks its method (the
temporal mode uses the run's seed)."""


def train_tabular(
    data: ModelData, spec: LabelSpec, base: Any, options: TrainOptions
) -> LabelResult:
    """Cross-validate, then fit, calibrate and explain one label (``base``: the binned
    dataset of ``data``)."""
    y = data.labels[spec.name]
    folds = splits.stratified_folds(y, options.cv_folds, options.seed)
    fits = FitData(base, y, data.columns, data.matrix, options.threads)
    recipe = Recipe.from_options(options, {**model.DEFAULT_PARAMS, **options.params}, None)
    oof: dict[str, np.ndarray] = {}
    fold_windows: list[WindowResult] = []
    iterations = []

    tuning = None
    if options.tune_trials:
        untuned = recipe
        inner = [_inner_split(train, y, options.seed + k) for k, (train, _) in enumerate(folds)]
        params, tuning = tune(
            lambda p, k: untuned.with_params(p).fit(fits, *inner[k]),
            len(folds),
            options.tune_trials,
            options.seed,
            untuned.params,
        )
        recipe = untuned.with_params(params)

    def fit_inner(rows: np.ndarray, fold_seed: int) -> tuple[model.Fit, Calibration, np.ndarray]:
        fit_rows, valid_rows = _inner_split(rows, y, fold_seed)
        fitted = recipe.fit(fits, fit_rows, valid_rows)
        cal, _ = recipe.calibrate(fitted, fits, valid_rows, seed=CALIBRATION_SEED)
        return fitted, cal, np.concatenate([fit_rows, valid_rows])

    for k, (train, test) in enumerate(folds):
        fitted, cal, used = fit_inner(train, options.seed + k)
        iterations.append(fitted.best_iteration)
        predictions = {MODEL: cal.apply(fitted.raw_score(data.matrix[test]))}
        if options.with_baselines:
            predictions.update(
                baseline_predictions(
                    data.matrix[used],
                    y[used],
                    data.matrix[test],
                    data.columns,
                    "tabular",
                    options.seed,
                )
            )
        for name, p in predictions.items():
            oof.setdefault(name, np.full(len(y), np.nan))[test] = p
        mrr = None if data.mrr is None else data.mrr[test]
        fold_windows.append(
            WindowResult(
                name=f"fold_{k + 1}",
                test=f"{len(test)} rows",
                cutoff=None,
                rows={"train": len(train), "test": len(test), "test_positives": int(y[test].sum())},
                metrics=evaluate_predictions(y[test], predictions, mrr),
                facts={"best_iteration": fitted.best_iteration, "calibration": cal.method},
            )
        )
    scored = np.flatnonzero(~np.isnan(oof[MODEL]))
    pooled = {name: p[scored] for name, p in oof.items()}
    mrr = None if data.mrr is None else data.mrr[scored]
    groups = {g: v[scored] for g, v in data.groups.items()}
    cv = WindowResult(
        name="cv",
        test=f"{options.cv_folds}-fold out-of-fold, {len(scored)} rows",
        cutoff=None,
        rows={"test": len(scored), "test_positives": int(y[scored].sum())},
        metrics=evaluate_predictions(y[scored], pooled, mrr),
        groups=group_table(y[scored], pooled, mrr, groups),
        facts={
            "fold_mean": _fold_stats(fold_windows, np.mean),
            "fold_std": _fold_stats(fold_windows, np.std),
        },
    )
    labeled = np.flatnonzero(~np.isnan(y))
    fitted, cal, _ = fit_inner(labeled, options.seed)
    facts: dict[str, Any] = {
        "best_iteration": fitted.best_iteration,
        "fold_iterations": iterations,
        "calibration": {"method": cal.method},
        "monotone": {"mode": "off", "used": False},
        "dropped_columns": data.dropped_columns,
    }
    if tuning:
        facts["tuning"] = tuning
    bundle = new_bundle(data, spec, fitted, cal, facts)
    windows = [cv, *fold_windows]
    curves = {"y": y[scored], "predictions": pooled, "mrr": mrr, "window": "cv"}
    curves.update(explain_final_model(bundle, data))
    facts["explain_ms_per_row"] = curves.get("explain_ms_per_row")
    record_evaluation(bundle, windows, cv)
    return LabelResult(spec.name, spec.kind, bundle, windows, fitted.params, facts, [], curves)


def _inner_split(rows: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified 80/20 split of ``rows`` (fit, validation)."""
    from sklearn.model_selection import train_test_split

    fit_rows, valid_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=y[rows].astype(int)
    )
    return np.sort(fit_rows), np.sort(valid_rows)


def _fold_stats(windows: Sequence[WindowResult], fn: Callable[..., Any]) -> dict[str, float | None]:
    """Mean (or another ``fn``) of each model metric over the folds that define it."""
    out: dict[str, float | None] = {}
    for name in METRIC_NAMES:
        values = [w.metrics[MODEL][name] for w in windows if w.metrics[MODEL][name] is not None]
        out[name] = float(fn(values)) if values else None
    return out
