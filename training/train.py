"""Training: model data -> one calibrated LightGBM model per label, backtested, with baselines.

Nothing here touches MLflow (``training.registry`` logs and registers a ``TrainingResult``), so
tests fit without a store.

Per label of a feature table (temporal mode):
1. folds: rolling-origin backtest windows (``training.splits``), each with its purge gap, and
   the final fold (every labeled date) for the model that is registered;
2. ``--tune N``: Optuna on the backtest folds' validation AUC (``training.tune``);
3. monotone constraints: the final fold is fit with and without them; they are kept when they
   cost at most ``monotone_tolerance`` validation AUC;
4. the final model is calibrated on its out-of-time validation fold and becomes a bundle;
5. each backtest window refits the same recipe on its own training rows and is scored, with
   the health scorecard and the logistic regression fit on the same rows, overall, per
   segment and lifecycle stage, and against the simulator's oracle when there is one.

Tabular mode (a table without snapshot_date): stratified k-fold; in each fold a stratified
20% of the training rows early-stops and calibrates; the pooled out-of-fold predictions give
the cross-validated metrics.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from features.metadata import FeatureSpec
from features.model_bundle import ModelBundle
from features.reasons import PeerReference, ReasonBook, peer_reference
from training import baselines, calibration, model, splits
from training.dataset import LabelSpec, ModelData, as_date
from training.errors import TrainingError
from training.evaluate import (
    MODEL,
    WindowResult,
    evaluate_predictions,
    group_table,
    oracle_column,
    oracle_comparison,
    read_oracle,
    summary_row,
)
from training.metrics import METRIC_NAMES, ece_noise_floor

if TYPE_CHECKING:
    from training.settings import TrainingSettings

Progress = Callable[[str, int, int], None]
MonotoneMode = Literal["auto", "on", "off"]
EXPLAIN_ROWS = 1000
SHAP_PLOT_ROWS = 2000


@dataclass(frozen=True)
class TrainOptions:
    """How to train; defaults come from ``TrainingSettings`` (``from_settings``)."""

    backtests: int = 3
    window_snapshots: int = 3
    valid_snapshots: int = 3
    holdout_share: float = 0.3
    """Share of accounts whose rows form the validation fold (see ``TemporalFold.masks``)."""
    tune_trials: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    monotone: MonotoneMode = "auto"
    monotone_tolerance: float = 0.002
    calibration: calibration.Method = "auto"
    imbalance: model.Imbalance = "sqrt"
    derived: bool = True
    with_baselines: bool = True
    seed: int = 20240601
    threads: int = 0
    """LightGBM threads; 0 = automatic (``training.model.resolve_threads``)."""
    truth_dir: Path | None = None
    """The simulator's ``_truth`` folder; None: ``<source>/_truth`` when it exists."""
    labels: tuple[str, ...] | None = None
    cv_folds: int = 5
    top_accounts: int = 10

    @classmethod
    def from_settings(cls, settings: TrainingSettings, **overrides: Any) -> TrainOptions:
        base = cls(
            backtests=settings.backtest_windows,
            window_snapshots=settings.eval_window_snapshots,
            valid_snapshots=settings.eval_window_snapshots,
            monotone_tolerance=settings.monotone_tolerance,
            seed=settings.train_seed,
            threads=settings.train_threads,
            cv_folds=settings.cv_folds,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class LabelResult:
    """One label's registered model and everything measured about it."""

    label: str
    kind: str
    bundle: ModelBundle
    windows: list[WindowResult]
    """Backtest windows, latest first (tabular: the pooled CV result, then each fold)."""
    params: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)
    """Arrays for the plots: y, predictions, mrr (last window); shap, matrix (explained rows)."""
    last_fold: splits.TemporalFold | None = None

    @property
    def last(self) -> WindowResult:
        return self.windows[0]

    def summary(self) -> dict[str, float | None]:
        """The last window's metrics under their public names (roc_auc, pr_auc, ...)."""
        return summary_row(self.last)


@dataclass
class TrainingResult:
    mode: Literal["temporal", "tabular"]
    labels: dict[str, LabelResult]
    facts: dict[str, Any]
    options: TrainOptions
    data: ModelData
    top_risk: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    base: Any = None
    """The binned LightGBM dataset of ``data`` (reused to refit a champion's recipe)."""


# ---- entry point -------------------------------------------------------------------------


def train_models(
    data: ModelData, options: TrainOptions, progress: Progress | None = None
) -> TrainingResult:
    """Fit, calibrate and evaluate one model per label of ``data``."""
    started = time.perf_counter()
    wanted = options.labels or tuple(s.name for s in data.label_specs)
    specs = [data.label_spec(name) for name in wanted]
    for spec in specs:
        if not data.labeled(spec.name).any():
            raise TrainingError(f"label {spec.name!r} is null on every row; nothing to train on")
    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    base = model.base_dataset(data.matrix, data.columns, options.threads)
    seconds["binning"] = round(time.perf_counter() - tick, 3)
    oracle = read_oracle(_truth_dir(data, options)) if data.temporal else None
    results: dict[str, LabelResult] = {}
    for i, spec in enumerate(specs):
        if progress:
            progress(f"training {spec.name}", i, len(specs))
        tick = time.perf_counter()
        if data.temporal:
            results[spec.name] = _train_temporal(data, spec, base, options, oracle)
        else:
            results[spec.name] = _train_tabular(data, spec, base, options)
        seconds[spec.name] = round(time.perf_counter() - tick, 3)
    if progress:
        progress("done", len(specs), len(specs))
    facts = _table_facts(data)
    facts["oracle"] = oracle is not None
    top = []
    churn = next((r for r in results.values() if r.kind == "churn"), None)
    if churn is not None and options.top_accounts:
        top = top_risk_accounts(data, churn.bundle, options.top_accounts)
    seconds["total"] = round(time.perf_counter() - started, 3)
    return TrainingResult(
        "temporal" if data.temporal else "tabular",
        results,
        facts,
        options,
        data,
        top,
        seconds,
        base,
    )


def fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (the feature table's fingerprint)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- temporal mode -----------------------------------------------------------------------


@dataclass
class _Context:
    data: ModelData
    spec: LabelSpec
    base: Any
    options: TrainOptions
    y: np.ndarray
    labeled: np.ndarray
    holdout: np.ndarray

    def rows(self, fold: splits.TemporalFold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fit, valid, test = fold.masks(self.data.snapshot_date, self.holdout)  # type: ignore[arg-type]
        return (
            np.flatnonzero(fit & self.labeled),
            np.flatnonzero(valid & self.labeled),
            np.flatnonzero(test & self.labeled),
        )

    def fit(
        self,
        fit_rows: np.ndarray,
        valid_rows: np.ndarray,
        params: dict[str, Any],
        monotone: dict[str, int] | None,
    ) -> model.Fit:
        return model.fit_booster(
            self.base,
            self.y,
            fit_rows,
            valid_rows,
            self.data.columns,
            params=params,
            monotone=monotone,
            seed=self.options.seed,
            threads=self.options.threads,
            imbalance=self.options.imbalance,
            matrix=self.data.matrix,
        )


def _train_temporal(
    data: ModelData, spec: LabelSpec, base: Any, options: TrainOptions, oracle: Any
) -> LabelResult:
    y = data.labels[spec.name]
    labeled = data.labeled(spec.name)
    dates = sorted({as_date(d) for d in np.unique(data.snapshot_date[labeled])})  # type: ignore[index]
    folds, notes = splits.backtest_folds(
        dates, spec.span_days, options.backtests, options.window_snapshots, options.valid_snapshots
    )
    final = splits.final_fold(dates, options.valid_snapshots, spec.span_days)
    ctx = _Context(
        data,
        spec,
        base,
        options,
        y,
        labeled,
        splits.holdout_accounts(data.ids, options.holdout_share, options.seed),
    )
    facts: dict[str, Any] = {"folds": [f.describe() for f in folds], "final": final.describe()}
    params = {**model.DEFAULT_PARAMS, **options.params}
    if options.tune_trials:
        from training.tune import tune

        fold_rows = [ctx.rows(f) for f in folds]
        params, facts["tuning"] = tune(
            lambda p, k: ctx.fit(fold_rows[k][0], fold_rows[k][1], p, None),
            len(folds),
            options.tune_trials,
            options.seed,
            params,
        )
    tick = time.perf_counter()
    fit_rows, valid_rows, _ = ctx.rows(final)
    _need_both_classes(y, fit_rows, valid_rows, "final")
    chosen, monotone_facts = _fit_with_monotone(ctx, fit_rows, valid_rows, params)
    facts["monotone"] = monotone_facts
    z_valid = chosen.raw_score(data.matrix[valid_rows])
    cal, cal_facts = calibration.fit_calibration(
        z_valid, y[valid_rows], options.calibration, options.seed
    )
    facts["calibration"] = {"method": cal.method, **cal_facts}
    facts["best_iteration"] = chosen.best_iteration
    facts["fit_seconds"] = round(chosen.seconds, 3)
    facts["rows"] = {"fit": len(fit_rows), "valid": len(valid_rows)}
    facts["labels_through"] = (final.train_dates[-1] + timedelta(days=spec.span_days)).isoformat()
    bundle = ModelBundle(
        spec.name,
        list(data.columns),
        cal,
        chosen.booster,
        metadata=_bundle_metadata(data, spec, chosen, facts),
    )
    bundle.metadata["recipe"] = recipe(params, chosen.monotone, options)
    seconds = {"final_model": round(time.perf_counter() - tick, 3)}
    monotone = chosen.monotone or None
    windows = []
    curves: dict[str, Any] = {}
    tick = time.perf_counter()
    for k, fold in enumerate(folds):
        window, fold_curves = _evaluate_fold(ctx, fold, params, monotone, oracle)
        windows.append(window)
        if k == 0:
            curves = fold_curves
    seconds["backtests"] = round(time.perf_counter() - tick, 3)
    tick = time.perf_counter()
    curves.update(_explain(bundle, data, spec))
    seconds["explain"] = round(time.perf_counter() - tick, 3)
    facts["seconds"] = seconds
    facts["explain_ms_per_row"] = curves.get("explain_ms_per_row")
    bundle.metadata["evaluation"] = {
        "windows": [w.to_dict() for w in windows],
        "summary": summary_row(windows[0]),
    }
    return LabelResult(
        spec.name, spec.kind, bundle, windows, params, facts, notes, curves, folds[0]
    )


def recipe(
    params: dict[str, Any], monotone: dict[str, int] | None, options: TrainOptions
) -> dict[str, Any]:
    """What refits this model on other rows: parameters before fold-specific defaults,
    constraints, class weighting, calibration method, validation layout."""
    return {
        "params": dict(params),
        "monotone": dict(monotone or {}),
        "imbalance": options.imbalance,
        "calibration": options.calibration,
        "valid_snapshots": options.valid_snapshots,
        "holdout_share": options.holdout_share,
        "seed": options.seed,
    }


MONOTONE_CHECK_ROWS = 100_000
"""Above this many fit rows, the with/without comparison runs on a seeded sample of this
size and only the chosen variant is fit on every row (1.4 fits instead of 2)."""


def _fit_with_monotone(
    ctx: _Context, fit_rows: np.ndarray, valid_rows: np.ndarray, params: dict[str, Any]
) -> tuple[model.Fit, dict[str, Any]]:
    names = set(ctx.data.feature_names)
    directions = {k: v for k, v in model.MONOTONE.get(ctx.spec.kind, {}).items() if k in names}
    mode = ctx.options.monotone
    if not directions or mode == "off":
        free = ctx.fit(fit_rows, valid_rows, params, None)
        return free, {"mode": mode, "used": False, "directions": directions}
    if mode == "on":
        constrained = ctx.fit(fit_rows, valid_rows, params, directions)
        return constrained, {"mode": mode, "used": True, "directions": directions}
    check_rows = fit_rows
    if len(fit_rows) > MONOTONE_CHECK_ROWS:
        rng = np.random.default_rng(ctx.options.seed)
        check_rows = np.sort(rng.choice(fit_rows, MONOTONE_CHECK_ROWS, replace=False))
    constrained = ctx.fit(check_rows, valid_rows, params, directions)
    free = ctx.fit(check_rows, valid_rows, params, None)
    with_auc, without_auc = constrained.valid_auc or 0.0, free.valid_auc or 0.0
    keep = with_auc >= without_auc - ctx.options.monotone_tolerance
    facts = {
        "mode": mode,
        "used": keep,
        "directions": directions,
        "valid_auc_constrained": constrained.valid_auc,
        "valid_auc_free": free.valid_auc,
        "tolerance": ctx.options.monotone_tolerance,
        "check_rows": len(check_rows),
    }
    chosen = constrained if keep else free
    if len(check_rows) < len(fit_rows):
        chosen = ctx.fit(fit_rows, valid_rows, params, directions if keep else None)
    return chosen, facts


def _evaluate_fold(
    ctx: _Context,
    fold: splits.TemporalFold,
    params: dict[str, Any],
    monotone: dict[str, int] | None,
    oracle: Any,
) -> tuple[WindowResult, dict[str, Any]]:
    data, y, options = ctx.data, ctx.y, ctx.options
    fit_rows, valid_rows, test_rows = ctx.rows(fold)
    _need_both_classes(y, fit_rows, valid_rows, fold.name)
    fitted = ctx.fit(fit_rows, valid_rows, params, monotone)
    cal, _ = calibration.fit_calibration(
        fitted.raw_score(data.matrix[valid_rows]), y[valid_rows], options.calibration, options.seed
    )
    x_test, y_test = data.matrix[test_rows], y[test_rows]
    predictions = {MODEL: cal.apply(fitted.raw_score(x_test))}
    train_rows = np.concatenate([fit_rows, valid_rows])
    if options.with_baselines:
        predictions.update(_baselines(data, ctx.spec.kind, train_rows, y, x_test, options.seed))
    mrr = None if data.mrr is None else data.mrr[test_rows]
    groups = {g: v[test_rows] for g, v in data.groups.items()}
    window = WindowResult(
        name=fold.name,
        test=fold.describe()["test"],  # type: ignore[arg-type]
        cutoff=fold.cutoff.isoformat() if fold.cutoff else None,
        rows={
            "fit": len(fit_rows),
            "valid": len(valid_rows),
            "test": len(test_rows),
            "test_positives": int(y_test.sum()),
        },
        metrics=evaluate_predictions(y_test, predictions, mrr),
        groups=group_table(y_test, predictions, mrr, groups),
        facts={
            "best_iteration": fitted.best_iteration,
            "calibration": cal.method,
            "ece_noise_floor": ece_noise_floor(predictions[MODEL], seed=options.seed),
        },
    )
    oracle_p = oracle_column(
        oracle,
        ctx.spec.name,
        data.ids[test_rows],
        data.snapshot_date[test_rows],  # type: ignore[index]
    )
    if oracle_p is not None:
        window.oracle = oracle_comparison(y_test, predictions, oracle_p)
    curves = {"y": y_test, "predictions": predictions, "mrr": mrr, "window": fold.name}
    return window, curves


def _baselines(
    data: ModelData,
    kind: str,
    train_rows: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    seed: int,
) -> dict[str, np.ndarray]:
    x_train, y_train = data.matrix[train_rows], y[train_rows]
    out: dict[str, np.ndarray] = {}
    names = set(data.feature_names)
    if any(c.feature in names for c in baselines.SCORECARD):
        card = baselines.fit_scorecard(x_train, y_train, data.columns, kind)
        out["scorecard"] = card.predict_proba(x_test)
    logreg = baselines.fit_logreg(x_train, y_train, data.columns, seed)
    out["logreg"] = logreg.predict_proba(x_test)[:, 1]
    return out


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


def _explain(bundle: ModelBundle, data: ModelData, spec: LabelSpec) -> dict[str, Any]:
    """SHAP contributions of the final model on the latest snapshot's rows (what serving will
    explain), and the cost per row. Records in the bundle how much each signal's push varies
    over those rows (``signal_scale``: what the main reason is measured against)."""
    if data.snapshot_date is not None:
        rows = np.flatnonzero(data.snapshot_date == data.snapshot_date.max())
    else:
        rows = np.arange(len(data.matrix))
    rng = np.random.default_rng(0)
    if len(rows) > SHAP_PLOT_ROWS:
        rows = np.sort(rng.choice(rows, SHAP_PLOT_ROWS, replace=False))
    matrix = data.matrix[rows]
    timed = matrix[:EXPLAIN_ROWS]
    started = time.perf_counter()
    bundle.contributions(timed)
    per_row = (time.perf_counter() - started) * 1000 / max(len(timed), 1)
    contributions, base_value = bundle.contributions(matrix)
    bundle.metadata["signal_scale"] = reason_book(bundle).signal_scale(contributions)
    return {
        "shap": contributions,
        "shap_base": base_value,
        "shap_matrix": matrix,
        "explain_ms_per_row": round(per_row, 4),
    }


def score_champion_on_fold(
    result: TrainingResult, label: str, champion: ModelBundle
) -> tuple[np.ndarray, np.ndarray, str]:
    """Probabilities of the champion on the challenger's last backtest window: (p, rows,
    how). The champion's registered model is used when every label it trained on had closed
    by the window's cutoff; otherwise its recipe (parameters, constraints, calibration) is
    refit on the window's own training rows, since its model has seen the window's labels."""
    from features.model_bundle import encode

    outcome = result.labels[label]
    fold = outcome.last_fold
    if fold is None or fold.cutoff is None:
        raise TrainingError(f"{label} has no backtest window to score a champion on")
    data = result.data
    y = data.labels[label]
    labeled = data.labeled(label)
    recipe_facts = champion.metadata.get("recipe") or {}
    holdout = splits.holdout_accounts(
        data.ids,
        float(recipe_facts.get("holdout_share", result.options.holdout_share)),
        int(recipe_facts.get("seed", result.options.seed)),
    )
    fit, valid, test = fold.masks(data.snapshot_date, holdout)  # type: ignore[arg-type]
    test_rows = np.flatnonzero(test & labeled)
    through = champion.metadata.get("labels_through")
    if through and date.fromisoformat(through) <= fold.cutoff:
        return champion.predict_proba(data.raw.take(test_rows)), test_rows, "registered model"
    same = champion.columns == data.columns
    matrix = data.matrix if same else encode(data.raw, champion.columns)
    base = (
        result.base
        if same and result.base is not None
        else model.base_dataset(matrix, champion.columns, result.options.threads)
    )
    fit_rows = np.flatnonzero(fit & labeled)
    valid_rows = np.flatnonzero(valid & labeled)
    fitted = model.fit_booster(
        base,
        y,
        fit_rows,
        valid_rows,
        champion.columns,
        params=recipe_facts.get("params") or {},
        monotone=recipe_facts.get("monotone") or None,
        seed=int(recipe_facts.get("seed", result.options.seed)),
        threads=result.options.threads,
        imbalance=recipe_facts.get("imbalance", "sqrt"),
        matrix=matrix,
    )
    cal, _ = calibration.fit_calibration(
        fitted.raw_score(matrix[valid_rows]),
        y[valid_rows],
        recipe_facts.get("calibration", "auto"),
        int(recipe_facts.get("seed", result.options.seed)),
    )
    return cal.apply(fitted.raw_score(matrix[test_rows])), test_rows, "recipe refit"


# ---- tabular mode ------------------------------------------------------------------------


def _train_tabular(
    data: ModelData, spec: LabelSpec, base: Any, options: TrainOptions
) -> LabelResult:
    y = data.labels[spec.name]
    folds = splits.stratified_folds(y, options.cv_folds, options.seed)
    params = {**model.DEFAULT_PARAMS, **options.params}
    oof: dict[str, np.ndarray] = {}
    fold_windows: list[WindowResult] = []
    iterations = []

    def fit_inner(rows: np.ndarray, fold_seed: int) -> tuple[model.Fit, Any, np.ndarray]:
        fit_rows, valid_rows = _inner_split(rows, y, fold_seed)
        fitted = model.fit_booster(
            base,
            y,
            fit_rows,
            valid_rows,
            data.columns,
            params=params,
            seed=options.seed,
            threads=options.threads,
            imbalance=options.imbalance,
            matrix=data.matrix,
        )
        cal, _ = calibration.fit_calibration(
            fitted.raw_score(data.matrix[valid_rows]), y[valid_rows], options.calibration
        )
        return fitted, cal, np.concatenate([fit_rows, valid_rows])

    tuning = None
    if options.tune_trials:
        from training.tune import tune

        inner = [_inner_split(train, y, options.seed + k) for k, (train, _) in enumerate(folds)]

        def fit_fold(p: dict[str, Any], k: int) -> model.Fit:
            return model.fit_booster(
                base,
                y,
                inner[k][0],
                inner[k][1],
                data.columns,
                params=p,
                seed=options.seed,
                threads=options.threads,
                imbalance=options.imbalance,
                matrix=data.matrix,
            )

        params, tuning = tune(fit_fold, len(folds), options.tune_trials, options.seed, params)
    for k, (train, test) in enumerate(folds):
        fitted, cal, used = fit_inner(train, options.seed + k)
        iterations.append(fitted.best_iteration)
        predictions = {MODEL: cal.apply(fitted.raw_score(data.matrix[test]))}
        if options.with_baselines:
            predictions.update(
                _baselines(data, "tabular", used, y, data.matrix[test], options.seed)
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
    bundle = ModelBundle(
        spec.name,
        list(data.columns),
        cal,
        fitted.booster,
        metadata=_bundle_metadata(data, spec, fitted, facts),
    )
    windows = [cv, *fold_windows]
    curves = {"y": y[scored], "predictions": pooled, "mrr": mrr, "window": "cv"}
    curves.update(_explain(bundle, data, spec))
    facts["explain_ms_per_row"] = curves.get("explain_ms_per_row")
    bundle.metadata["evaluation"] = {
        "windows": [w.to_dict() for w in windows],
        "summary": summary_row(cv),
    }
    return LabelResult(spec.name, spec.kind, bundle, windows, fitted.params, facts, [], curves)


def _inner_split(rows: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified 80/20 split of ``rows`` (fit, validation)."""
    from sklearn.model_selection import train_test_split

    fit_rows, valid_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=y[rows].astype(int)
    )
    return np.sort(fit_rows), np.sort(valid_rows)


def _fold_stats(windows: Sequence[WindowResult], fn: Callable[..., Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in METRIC_NAMES:
        values = [w.metrics[MODEL][name] for w in windows if w.metrics[MODEL][name] is not None]
        out[name] = float(fn(values)) if values else None
    return out


# ---- shared helpers ----------------------------------------------------------------------


def _truth_dir(data: ModelData, options: TrainOptions) -> Path | None:
    if options.truth_dir is not None:
        return Path(options.truth_dir)
    source = data.facts.get("source")
    if not source:
        return None
    candidate = Path(source) / "_truth"
    return candidate if candidate.is_dir() else None


def _table_facts(data: ModelData) -> dict[str, Any]:
    facts = data.facts
    keep = ("path", "as_of", "source", "source_fingerprint", "horizon_days", "grace_days", "mode")
    out = {k: facts[k] for k in keep if k in facts}
    path = facts.get("path")
    if "fingerprint" not in facts and path and Path(path).exists():
        facts["fingerprint"] = fingerprint(path)  # once per table: hashing reads the file
    if "fingerprint" in facts:
        out["fingerprint"] = facts["fingerprint"]
    out["rows"] = len(data.matrix)
    out["features"] = len(data.columns)
    if data.snapshot_date is not None:
        out["snapshots"] = len(np.unique(data.snapshot_date))
        out["latest_snapshot"] = str(data.snapshot_date.max())
    return out


def _bundle_metadata(
    data: ModelData, spec: LabelSpec, fitted: model.Fit, facts: dict[str, Any]
) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        churnlight_version = version("churnlight")
    except PackageNotFoundError:
        churnlight_version = "unknown"
    table = _table_facts(data)
    labeled = data.labeled(spec.name)
    return {
        "base_rate": float(np.mean(data.labels[spec.name][labeled])) if labeled.any() else None,
        "reference": peer_reference(
            data.matrix,
            data.feature_names,
            [c.kind != "categorical" for c in data.columns],
            data.groups.get("segment"),
            seed=0,
        ).to_dict(),
        "label": spec.name,
        "kind": spec.kind,
        "horizon_days": data.facts.get("horizon_days"),
        "grace_days": data.facts.get("grace_days"),
        "span_days": spec.span_days,
        "as_of": data.facts.get("as_of"),
        "feature_table": table,
        "features": data.specs,
        "params": fitted.params,
        "monotone": facts.get("monotone"),
        "calibration": facts.get("calibration"),
        "best_iteration": fitted.best_iteration,
        "labels_through": facts.get("labels_through"),
        "churnlight_version": churnlight_version,
    }


def top_risk_accounts(data: ModelData, bundle: ModelBundle, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` accounts with the highest churn probability at the latest snapshot, with
    their MRR, the main reason (the actionable driver raising their risk most) and the
    context facts beside it, phrased as serving phrases them (``features.reasons``)."""
    if data.snapshot_date is None:
        return []
    rows = np.flatnonzero(data.snapshot_date == data.snapshot_date.max())
    if len(rows) == 0:
        return []
    matrix = data.matrix[rows]
    p = bundle.predict_proba(matrix)
    order = np.argsort(-p, kind="stable")[:k]
    contributions, _ = bundle.contributions(matrix[order])
    segments = data.groups.get("segment")
    peers = None if segments is None else segments[rows[order]]
    reasons = reason_book(bundle).explain(contributions, matrix[order], 3, peers)
    out = []
    for rank, i in enumerate(order):
        row = rows[i]
        mrr = None if data.mrr is None else _none_if_nan(data.mrr[row])
        main = reasons.main[rank]
        out.append(
            {
                "rank": rank + 1,
                "account_id": str(data.ids[row]),
                "snapshot_date": str(data.snapshot_date[row]),
                "segment": None if segments is None else segments[row],
                "mrr": mrr,
                "churn_probability": float(p[i]),
                "revenue_at_risk": None if mrr is None else mrr * 12 * float(p[i]),
                "main_reason": main,
                "context": [c["reason"] for c in reasons.context[rank]],
                "drivers": reasons.up[rank],
            }
        )
    return out


def reason_book(bundle: ModelBundle) -> ReasonBook:
    """The bundle's reasons: its feature specs, categories and peer quantiles."""
    by_name = {s["name"]: FeatureSpec.from_dict(s) for s in bundle.feature_specs if "name" in s}
    return ReasonBook(
        bundle.feature_names,
        [by_name.get(name) for name in bundle.feature_names],
        [c.categories if c.kind == "categorical" else None for c in bundle.columns],
        PeerReference.from_dict(bundle.metadata.get("reference")),
        scale=bundle.metadata.get("signal_scale"),
    )


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
