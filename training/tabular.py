"""Tabular mode: one label of a table without snapshot dates, cross-validated.

Stratified k-fold; in each fold a stratified 20% of the training rows early-stops, chooses
the additive model's strength, stacks the blend and calibrates (``training.candidates``); each
candidate's out-of-fold ROC-AUC per fold chooses the one registered, and the pooled
out-of-fold predictions give the cross-validated metrics. The registered model is fit the
same way on a stratified 80/20 split of every labeled row, then refit on all of them with
what the 20% chose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training import model, splits
from training.baselines import baseline_predictions
from training.bundle_facts import new_bundle, record_evaluation
from training.candidates import KINDS, Candidates, choose, fit_candidates, refit_on_all
from training.dataset import LabelSpec, ModelData
from training.evaluate import MODEL, WindowResult, evaluate_predictions, group_table
from training.explanations import explain_final_model
from training.metrics import METRIC_NAMES, roc_auc
from training.options import TrainOptions
from training.recipe import FitData, Recipe
from training.results import LabelResult
from training.tune import tune


def train_tabular(
    data: ModelData, spec: LabelSpec, base: Any, options: TrainOptions
) -> LabelResult:
    """Cross-validate the candidates, choose one, then fit, calibrate and explain it on every
    labeled row (``base``: the binned dataset of ``data``)."""
    y = data.labels[spec.name]
    folds = splits.stratified_folds(y, options.cv_folds, options.seed)
    fits = FitData(base, y, data.columns, data.matrix, options.threads)
    recipe = Recipe.from_options(options, {**model.DEFAULT_PARAMS, **options.params}, None)
    inner = [_inner_split(train, y, options.seed + k) for k, (train, _) in enumerate(folds)]
    tuning = None
    if options.tune_trials:
        untuned = recipe
        params, tuning = tune(
            lambda p, k: untuned.with_params(p).fit(fits, *inner[k]),
            len(folds),
            options.tune_trials,
            options.seed,
            untuned.params,
            options.tune_seconds,
        )
        recipe = untuned.with_params(params)

    evaluated = [
        _evaluate_fold(data, spec, fits, recipe, options, test, *inner[k])
        for k, (_, test) in enumerate(folds)
    ]
    kind, choice = choose(
        {c: [e.auc(c) for e in evaluated] for c in KINDS if c in options.candidates}
    )
    oof: dict[str, np.ndarray] = {}
    fold_windows: list[WindowResult] = []
    for k, e in enumerate(evaluated):
        predictions = e.predictions(kind)
        for name, p in predictions.items():
            oof.setdefault(name, np.full(len(y), np.nan))[e.test] = p
        mrr = None if data.mrr is None else data.mrr[e.test]
        fold_windows.append(
            WindowResult(
                name=f"fold_{k + 1}",
                test=f"{len(e.test)} rows",
                cutoff=None,
                rows={
                    "train": len(e.used),
                    "test": len(e.test),
                    "test_positives": int(y[e.test].sum()),
                },
                metrics=evaluate_predictions(y[e.test], predictions, mrr),
                facts={
                    "candidate": kind,
                    "best_iteration": e.fitted.tree.best_iteration,
                    "calibration": e.fitted.calibrations[kind].method,
                },
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
            "candidate": kind,
            "fold_mean": _fold_stats(fold_windows, np.mean),
            "fold_std": _fold_stats(fold_windows, np.std),
        },
    )
    labeled = np.flatnonzero(~np.isnan(y))
    fit_rows, valid_rows = _inner_split(labeled, y, options.seed)
    final = fit_candidates(recipe, fits, fit_rows, valid_rows)
    recipe = recipe.with_kind(kind, final.additive.c)
    parts = refit_on_all(final, kind, recipe, fits, labeled)
    cal = final.calibrations[kind]
    facts: dict[str, Any] = {
        "best_iteration": final.tree.best_iteration,
        "fold_iterations": [e.fitted.tree.best_iteration for e in evaluated],
        "calibration": {"method": cal.method, **final.facts["calibration"][kind]},
        "monotone": {"mode": "off", "used": False},
        "dropped_columns": data.dropped_columns,
        "candidates": choice,
        "evaluation": "cross-validation",
        "rows": {"fit": len(fit_rows), "valid": len(valid_rows), "refit": len(labeled)},
    }
    if tuning:
        facts["tuning"] = tuning
    bundle = new_bundle(data, spec, parts["fit"], cal, facts, recipe, parts)
    windows = [cv, *fold_windows]
    curves = {"y": y[scored], "predictions": pooled, "mrr": mrr, "window": "cv"}
    curves.update(explain_final_model(bundle, data))
    facts["explain_ms_per_row"] = curves.get("explain_ms_per_row")
    record_evaluation(bundle, windows, cv)
    return LabelResult(spec.name, spec.kind, bundle, windows, recipe.params, facts, [], curves)


@dataclass
class _Fold:
    """One cross-validation fold: every candidate's and baseline's test predictions."""

    test: np.ndarray
    used: np.ndarray
    candidates: dict[str, np.ndarray]
    baselines: dict[str, np.ndarray]
    fitted: Candidates
    y_test: np.ndarray

    def auc(self, kind: str) -> float | None:
        return roc_auc(self.y_test, self.candidates[kind])

    def predictions(self, kind: str) -> dict[str, np.ndarray]:
        return {MODEL: self.candidates[kind], **self.candidates, **self.baselines}


def _evaluate_fold(
    data: ModelData,
    spec: LabelSpec,
    fits: FitData,
    recipe: Recipe,
    options: TrainOptions,
    test: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
) -> _Fold:
    fitted = fit_candidates(recipe, fits, fit_rows, valid_rows)
    x_test = data.matrix[test]
    candidates: dict[str, np.ndarray] = {k: fitted.predict(k, x_test) for k in KINDS}
    used = np.concatenate([fit_rows, valid_rows])
    baselines: dict[str, np.ndarray] = {}
    if options.with_baselines:
        baselines = baseline_predictions(
            data.matrix[used], fits.y[used], x_test, data.columns, "tabular", options.seed
        )
    return _Fold(test, used, candidates, baselines, fitted, fits.y[test])


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
