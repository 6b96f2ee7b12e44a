"""Temporal mode: one label of a feature table with snapshot dates, trained and backtested.

1. folds: rolling-origin backtest windows (``training.splits``), each with its purge gap, and
   the final fold (every labeled date) for the model that is registered; on a history too
   short for one out-of-time window, folds grouped by account (``splits.GroupedFold``), and
   the run says that this evaluation is weaker;
2. tuning: Optuna on the folds' validation AUC within the time budget (``training.tune``),
   each trial fitting the fold with the fewest fit rows first (a pruned trial stops there);
3. monotone constraints: the final fold is fit with and without them; they are kept when they
   cost at most ``monotone_tolerance`` validation AUC;
4. candidates (``training.candidates``): the booster, an additive model and their blend are
   fit on each backtest window's training rows, refit on every labeled row whose label had
   closed by its cutoff (as the registered model is refit on every labeled row) and scored
   on its test rows, with the health scorecard and the logistic regression fit on those
   rows (overall, per segment and lifecycle stage, and against the simulator's oracle when
   there is one); the candidate
   with the best mean out-of-time ROC-AUC (a simpler one within ``TIE``) is chosen;
5. the chosen candidate is fit on the final fold (validation: early stopping, blend weights,
   calibration; the additive strength is the earliest window's), then refit on every
   labelled row with those choices, and becomes a bundle that stores its recipe
   (``training.recipe``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from monitoring.estimate import estimate_performance
from training import model, splits
from training.baselines import baseline_predictions
from training.bundle_facts import new_bundle, record_evaluation
from training.candidates import (
    KINDS,
    Candidates,
    choose,
    fit_candidates,
    refit_candidates,
    refit_on_all,
)
from training.dataset import LabelSpec, ModelData, as_date
from training.errors import TrainingError
from training.evaluate import (
    MODEL,
    WindowResult,
    evaluate_predictions,
    group_table,
    oracle_column,
    oracle_comparison,
)
from training.explanations import explain_final_model
from training.metrics import ece_noise_floor
from training.options import TrainOptions
from training.recipe import FitData, Recipe
from training.results import LabelResult
from training.tune import cheapest_first, tune

MONOTONE_CHECK_ROWS = 100_000
"""Above this many fit rows, the with/without comparison runs on a seeded sample of this
size and only the chosen variant is fit on every row (1.4 fits instead of 2)."""


@dataclass(frozen=True)
class _Label:
    """One label's rows: what fits read, which rows are labeled, the holdout accounts."""

    data: ModelData
    spec: LabelSpec
    options: TrainOptions
    fits: FitData
    labeled: np.ndarray
    holdout: np.ndarray

    def rows(self, fold: splits.TemporalFold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The labeled (fit, validation, test) row indices of ``fold``."""
        dates = self.data.snapshot_date
        if isinstance(fold, splits.GroupedFold):
            fit, valid, test = fold.account_masks(dates, self.data.ids, self.holdout)  # type: ignore[arg-type]
        else:
            fit, valid, test = fold.masks(dates, self.holdout)  # type: ignore[arg-type]
        return (
            np.flatnonzero(fit & self.labeled),
            np.flatnonzero(valid & self.labeled),
            np.flatnonzero(test & self.labeled),
        )

    def level_rows(self, fold: splits.TemporalFold) -> np.ndarray | None:
        """The labeled rows of every account at ``fold``'s validation dates, where the
        calibration takes its level (``training.calibration.shift_level``); None for a
        grouped fold, whose other accounts' rows at those dates are fit rows."""
        if isinstance(fold, splits.GroupedFold):
            return None
        _, valid, _ = fold.masks(self.data.snapshot_date)  # type: ignore[arg-type]
        return np.flatnonzero(valid & self.labeled)

    def refit_rows(self, fold: splits.TemporalFold) -> np.ndarray:
        """The labeled rows of every account at ``fold``'s training dates (a grouped fold:
        every account outside its test group): what the registered model's refit on every
        labeled row would have had at the fold's cutoff."""
        dates = self.data.snapshot_date
        if isinstance(fold, splits.GroupedFold):
            fit, valid, _ = fold.account_masks(dates, self.data.ids)  # type: ignore[arg-type]
        else:
            fit, valid, _ = fold.masks(dates)  # type: ignore[arg-type]
        return np.flatnonzero((fit | valid) & self.labeled)


def train_temporal(
    data: ModelData, spec: LabelSpec, base: Any, options: TrainOptions, oracle: Any
) -> LabelResult:
    """Fit, calibrate, explain and backtest one label (``base``: the binned dataset of
    ``data``; ``oracle``: the simulator's oracle table or None)."""
    y = data.labels[spec.name]
    labeled = data.labeled(spec.name)
    dates = sorted({as_date(d) for d in np.unique(data.snapshot_date[labeled])})  # type: ignore[index]
    final = _final_fold(dates, spec, options)
    folds, notes, evaluation = _evaluation_folds(dates, spec, options, data.ids[labeled])
    label = _Label(
        data,
        spec,
        options,
        FitData(base, y, data.columns, data.matrix, options.threads),
        labeled,
        splits.holdout_accounts(data.ids, options.holdout_share, options.seed),
    )
    facts: dict[str, Any] = {
        "evaluation": evaluation,
        "folds": [f.describe() for f in folds],
        "final": final.describe(),
    }
    recipe = Recipe.from_options(options, {**model.DEFAULT_PARAMS, **options.params}, None)
    if options.tune_trials:
        untuned = recipe
        fold_rows = [label.rows(f) for f in folds]
        params, facts["tuning"] = tune(
            lambda p, k: untuned.with_params(p).fit(label.fits, *fold_rows[k][:2]),
            len(folds),
            options.tune_trials,
            options.seed,
            untuned.params,
            options.tune_seconds,
            order=cheapest_first([len(rows[0]) for rows in fold_rows]),
        )
        recipe = untuned.with_params(params)
    tick = time.perf_counter()
    fit_rows, valid_rows, _ = label.rows(final)
    _need_both_classes(y, fit_rows, valid_rows, f"{spec.name}, final model")
    chosen, monotone_facts = _fit_with_monotone(label, fit_rows, valid_rows, recipe)
    recipe = recipe.with_monotone(chosen.monotone)
    facts["monotone"] = monotone_facts
    seconds = {"final_tree": round(time.perf_counter() - tick, 3)}
    tick = time.perf_counter()
    # The earliest window chooses the additive model's strength on its validation rows (all
    # before every test window); the later windows and the registered model reuse it: one
    # strength path per label, not one per fit (the path is most of the additive cost), and
    # the recipe refits any window exactly.
    earliest = _evaluate_fold(label, folds[-1], recipe, oracle)
    strength = earliest.fitted.additive.c
    later = [_evaluate_fold(label, fold, recipe, oracle, strength) for fold in folds[:-1]]
    evaluated = [*later, earliest]
    seconds["backtests"] = round(time.perf_counter() - tick, 3)
    kind, facts["candidates"] = choose(
        {k: [e.candidate_auc(k) for e in evaluated] for k in KINDS if k in options.candidates}
    )
    recipe = recipe.with_kind(kind, strength)
    tick = time.perf_counter()
    final_candidates = fit_candidates(
        recipe,
        label.fits,
        fit_rows,
        valid_rows,
        tree=chosen,
        additive_c=strength,
        level_rows=label.level_rows(final),
    )
    seconds["final_candidates"] = round(time.perf_counter() - tick, 3)
    tick = time.perf_counter()
    everything = np.flatnonzero(labeled)
    parts = refit_on_all(final_candidates, kind, recipe, label.fits, everything)
    cal = final_candidates.calibrations[kind]
    facts["calibration"] = {"method": cal.method, **final_candidates.facts["calibration"][kind]}
    facts["best_iteration"] = chosen.best_iteration
    facts["fit_seconds"] = round(chosen.seconds, 3)
    facts["rows"] = {"fit": len(fit_rows), "valid": len(valid_rows), "refit": len(everything)}
    facts["labels_through"] = (final.train_dates[-1] + timedelta(days=spec.span_days)).isoformat()
    bundle = new_bundle(data, spec, parts["fit"], cal, facts, recipe, parts)
    seconds["final_model"] = round(time.perf_counter() - tick, 3)
    windows = [e.window(kind) for e in evaluated]
    curves: dict[str, Any] = evaluated[0].curves(kind) if evaluated else {}
    tick = time.perf_counter()
    curves.update(explain_final_model(bundle, data))
    seconds["explain"] = round(time.perf_counter() - tick, 3)
    facts["seconds"] = seconds
    facts["explain_ms_per_row"] = curves.get("explain_ms_per_row")
    record_evaluation(bundle, windows, windows[0])
    if curves.get("predictions") is not None:
        # the label-free estimate on the last window, beside its realised metrics: how far
        # this model's estimate can be trusted (monitoring.health)
        estimate = estimate_performance(curves["predictions"][MODEL], seed=options.seed)
        bundle.metadata["evaluation"]["estimate"] = estimate.to_dict()
    # and the registered model's own estimate on the newest training snapshot: what a
    # served snapshot's estimate is compared with (the same model, the same kind of number)
    snapshots = data.snapshot_date
    if snapshots is not None and len(snapshots):
        newest = np.flatnonzero(snapshots == snapshots.max())
        p_newest = bundle.predict_proba(data.raw.take(newest))
        bundle.metadata["evaluation"]["latest_estimate"] = {
            "snapshot_date": str(snapshots.max()),
            **estimate_performance(p_newest, seed=options.seed).to_dict(),
        }
    return LabelResult(
        spec.name, spec.kind, bundle, windows, recipe.params, facts, notes, curves, folds[0]
    )


def _final_fold(dates: list[Any], spec: LabelSpec, options: TrainOptions) -> splits.TemporalFold:
    """The registered model's fold, or an error that names the label and the history it
    needs (two labeled snapshot dates: one to fit on, one to validate)."""
    try:
        return splits.final_fold(dates, options.valid_snapshots, spec.span_days)
    except TrainingError as too_short:
        months = -(-spec.span_days // 30) + 2
        raise TrainingError(
            f"{spec.name}: {len(dates)} labeled snapshot date(s); training needs at least 2. "
            f"Its label looks {spec.span_days} days past each snapshot, so the feature table "
            f"needs monthly snapshots over at least {months} months ({too_short})"
        ) from None


def _evaluation_folds(
    dates: list[Any], spec: LabelSpec, options: TrainOptions, labeled_ids: np.ndarray
) -> tuple[list[splits.TemporalFold], list[str], str]:
    """The rolling-origin backtest folds; on a history too short for a single out-of-time
    window, folds grouped by account instead (with a note that says it is weaker)."""
    try:
        folds, notes = splits.backtest_folds(
            dates,
            spec.span_days,
            options.backtests,
            options.window_snapshots,
            options.valid_snapshots,
        )
        return list(folds), notes, "out-of-time"
    except TrainingError as no_window:
        groups = max(options.backtests, 2)
        grouped = splits.grouped_folds(
            dates, labeled_ids, groups, options.valid_snapshots, spec.span_days, options.seed
        )
        note = (
            f"{spec.name}: the history is too short for an out-of-time backtest ({no_window}); "
            f"evaluated instead on {groups} groups of accounts the model did not see, over the "
            "same dates: weaker evidence than an out-of-time backtest (it does not show how "
            "the model holds up in a later period)"
        )
        return list(grouped), [note], "grouped-by-account"


def _fit_with_monotone(
    label: _Label, fit_rows: np.ndarray, valid_rows: np.ndarray, recipe: Recipe
) -> tuple[model.Fit, dict[str, Any]]:
    """The final fit with or without the label kind's monotone constraints, and the facts
    of the choice (``TrainOptions.monotone``: on, off, or auto = keep them when they cost at
    most ``monotone_tolerance`` validation AUC)."""
    names = set(label.data.feature_names)
    directions = {k: v for k, v in model.MONOTONE.get(label.spec.kind, {}).items() if k in names}
    options = label.options
    mode = options.monotone
    free_recipe = recipe.with_monotone(None)
    constrained_recipe = recipe.with_monotone(directions)
    if not directions or mode == "off":
        free = free_recipe.fit(label.fits, fit_rows, valid_rows)
        return free, {"mode": mode, "used": False, "directions": directions}
    if mode == "on":
        constrained = constrained_recipe.fit(label.fits, fit_rows, valid_rows)
        return constrained, {"mode": mode, "used": True, "directions": directions}
    check_rows = fit_rows
    if len(fit_rows) > MONOTONE_CHECK_ROWS:
        rng = np.random.default_rng(options.seed)
        check_rows = np.sort(rng.choice(fit_rows, MONOTONE_CHECK_ROWS, replace=False))
    constrained = constrained_recipe.fit(label.fits, check_rows, valid_rows)
    free = free_recipe.fit(label.fits, check_rows, valid_rows)
    with_auc, without_auc = constrained.valid_auc or 0.0, free.valid_auc or 0.0
    keep = with_auc >= without_auc - options.monotone_tolerance
    facts = {
        "mode": mode,
        "used": keep,
        "directions": directions,
        "valid_auc_constrained": constrained.valid_auc,
        "valid_auc_free": free.valid_auc,
        "tolerance": options.monotone_tolerance,
        "check_rows": len(check_rows),
    }
    chosen = constrained if keep else free
    if len(check_rows) < len(fit_rows):
        chosen = (constrained_recipe if keep else free_recipe).fit(label.fits, fit_rows, valid_rows)
    return chosen, facts


@dataclass
class _Evaluated:
    """One backtest window: every candidate's and baseline's test predictions."""

    fold: splits.TemporalFold
    label: _Label
    rows: dict[str, int]
    y_test: np.ndarray
    test_rows: np.ndarray
    candidates: dict[str, np.ndarray]
    baselines: dict[str, np.ndarray]
    fitted: Candidates
    oracle_p: np.ndarray | None

    def candidate_auc(self, kind: str) -> float | None:
        from training.metrics import roc_auc

        return roc_auc(self.y_test, self.candidates[kind])

    def predictions(self, kind: str) -> dict[str, np.ndarray]:
        return {MODEL: self.candidates[kind], **self.candidates, **self.baselines}

    def window(self, kind: str) -> WindowResult:
        data, options = self.label.data, self.label.options
        predictions = self.predictions(kind)
        test_rows = self.test_rows
        mrr = None if data.mrr is None else data.mrr[test_rows]
        groups = {g: v[test_rows] for g, v in data.groups.items()}
        window = WindowResult(
            name=self.fold.name,
            test=self.fold.describe()["test"],  # type: ignore[arg-type]
            cutoff=self.fold.cutoff.isoformat() if self.fold.cutoff else None,
            rows=self.rows,
            metrics=evaluate_predictions(self.y_test, predictions, mrr),
            groups=group_table(self.y_test, predictions, mrr, groups),
            facts={
                "candidate": kind,
                "best_iteration": self.fitted.tree.best_iteration,
                "calibration": self.fitted.calibrations[kind].method,
                "ece_noise_floor": ece_noise_floor(predictions[MODEL], seed=options.seed),
            },
        )
        if self.oracle_p is not None:
            window.oracle = oracle_comparison(self.y_test, predictions, self.oracle_p)
        return window

    def curves(self, kind: str) -> dict[str, Any]:
        data = self.label.data
        mrr = None if data.mrr is None else data.mrr[self.test_rows]
        return {
            "y": self.y_test,
            "predictions": self.predictions(kind),
            "mrr": mrr,
            "window": self.fold.name,
            "rows": self.test_rows,
        }


def _evaluate_fold(
    label: _Label,
    fold: splits.TemporalFold,
    recipe: Recipe,
    oracle: Any,
    additive_c: float | None = None,
) -> _Evaluated:
    """Every candidate of ``recipe`` fit on ``fold``'s training rows and scored on its test
    rows, with the baselines fit on the refit's rows. The candidates are scored as the recipe
    registers them: fit on the fit rows (early stopping, strength, blend weights and
    calibration on the validation rows), then refit on every labeled row of the fold's
    training dates (``candidates.refit_candidates``), so a window measures the model a user
    would have registered at its cutoff."""
    data, y, options = label.data, label.fits.y, label.options
    fit_rows, valid_rows, test_rows = label.rows(fold)
    _need_both_classes(y, fit_rows, valid_rows, f"{label.spec.name}, {fold.name}")
    fitted = fit_candidates(
        recipe,
        label.fits,
        fit_rows,
        valid_rows,
        additive_c=additive_c,
        level_rows=label.level_rows(fold),
    )
    refit_rows = label.refit_rows(fold)
    refit = refit_candidates(fitted, recipe, label.fits, refit_rows)
    x_test, y_test = data.matrix[test_rows], y[test_rows]
    candidates: dict[str, np.ndarray] = {k: refit.predict(k, x_test) for k in KINDS}
    baselines: dict[str, np.ndarray] = {}
    if options.with_baselines:
        baselines = baseline_predictions(
            data.matrix[refit_rows],
            y[refit_rows],
            x_test,
            data.columns,
            label.spec.kind,
            options.seed,
        )
    oracle_p = oracle_column(
        oracle,
        label.spec.name,
        data.ids[test_rows],
        data.snapshot_date[test_rows],  # type: ignore[index]
    )
    rows = {
        "fit": len(fit_rows),
        "valid": len(valid_rows),
        "refit": len(refit_rows),
        "test": len(test_rows),
        "test_positives": int(y_test.sum()),
    }
    return _Evaluated(fold, label, rows, y_test, test_rows, candidates, baselines, fitted, oracle_p)


def _need_both_classes(
    y: np.ndarray, fit_rows: np.ndarray, valid_rows: np.ndarray, name: str
) -> None:
    for what, rows in (("fit", fit_rows), ("validation", valid_rows)):
        positives = int(y[rows].sum())
        if len(rows) == 0 or positives in (0, len(rows)):
            raise TrainingError(
                f"{name}: the {what} fold has {len(rows)} row(s) and {positives} positive(s); "
                "it needs both classes: use a longer history, more accounts or fewer --backtests"
            )
