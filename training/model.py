"""LightGBM fitting: one binary model per label, early-stopped on an out-of-time fold.

- Categorical features are LightGBM categoricals (codes from ``features.model_bundle``), not
  one-hot columns.
- Class imbalance: positives are weighted by ``scale_pos_weight`` = sqrt(negatives /
  positives) of the fit rows (``imbalance="sqrt"``; "balanced" uses the full ratio, "none" no
  weight). Weighting moves probabilities, so every model is calibrated afterwards.
- Monotone constraints where the direction is known (``MONOTONE``); ``train`` keeps them only
  when they cost at most ``monotone_tolerance`` validation AUC, and records both AUCs.
- Shape kept small for explanations: depth <= 6 and 31 leaves (TreeSHAP cost grows with
  trees x leaves x depth^2); early stopping picks the number of trees.
- Seeds fixed (``seed`` sets LightGBM's bagging, feature-fraction and data seeds);
  ``deterministic`` with a fixed thread count gives the same trees run after run.

The binned dataset is built once over every row of the matrix (bin edges from feature values
only, never labels) and subset per fold, so folds and labels reuse one binning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from features.model_bundle import FeatureColumn
from training.errors import TrainingError
from training.metrics import roc_auc

if TYPE_CHECKING:
    import lightgbm as lgb

Imbalance = Literal["sqrt", "balanced", "none"]

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.7,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "max_cat_to_onehot": 8,
    "min_data_per_group": 50,
    "monotone_constraints_method": "intermediate",
}
DATASET_PARAMS: dict[str, Any] = {
    "max_bin": 255,
    "feature_pre_filter": False,
    "bin_construct_sample_cnt": 200_000,
}
MIN_DATA_IN_LEAF = (20, 200)
"""Unless given, min_data_in_leaf is fit rows / 200 clipped to this range: leaves of a few
rows memorise accounts on small tables, and 200 rows per leaf suit large ones."""
SMALL_FIT_ROWS = 200_000
"""Below this many rows a fit uses one thread: LightGBM's OpenMP threads gain little on
small data and, on a busy machine, spin-wait; one thread was 10x faster on 5,000 rows while
other processes held both cores."""
BAGGED_ROWS = 150_000
"""Above this many fit rows, each tree sees a random sample of about this many rows (unless
bagging_fraction is given): the cost per tree stops growing with the table, and stochastic
boosting on that many rows loses nothing measurable."""
STOPPING_METRIC = "binary_logloss"
MAX_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 30

MONOTONE: dict[str, dict[str, int]] = {
    # Churn risk never falls when these rise (+1) / never rises when these rise (-1).
    "churn": {
        "seat_utilization_30d": -1,
        "active_users_30d": -1,
        "core_breadth_30d": -1,
        "nps_last": -1,
        "champion_departures_90d": 1,
        "open_high_tickets": 1,
        "invoices_overdue": 1,
    },
    # Expansion chance never falls with fuller seats or a faster quota burn.
    "expansion": {
        "seat_utilization_30d": 1,
        "quota_burn_ratio": 1,
    },
}


@dataclass
class Fit:
    """A fitted booster and the facts of its fit."""

    booster: lgb.Booster
    best_iteration: int
    valid_auc: float | None
    seconds: float
    params: dict[str, Any]
    monotone: dict[str, int] = field(default_factory=dict)

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, raw_score=True), dtype=np.float64)


def monotone_vector(columns: Sequence[FeatureColumn], directions: Mapping[str, int]) -> list[int]:
    """LightGBM's monotone_constraints: one entry per column, 0 where unconstrained."""
    return [int(directions.get(c.name, 0)) if c.kind == "numeric" else 0 for c in columns]


def base_dataset(
    matrix: np.ndarray, columns: Sequence[FeatureColumn], threads: int = 0
) -> lgb.Dataset:
    """The binned dataset of every row; fits use ``subset`` of it."""
    import lightgbm as lgb

    categorical = [i for i, c in enumerate(columns) if c.kind == "categorical"]
    params = {**DATASET_PARAMS, "verbose": -1, "num_threads": resolve_threads(threads, len(matrix))}
    dataset = lgb.Dataset(
        matrix,
        label=np.zeros(len(matrix)),
        feature_name=[c.name for c in columns],
        categorical_feature=categorical,
        free_raw_data=False,
        params=params,
    )
    return dataset.construct()


def resolve_threads(threads: int, rows: int) -> int:
    """The thread count of a fit: ``threads`` when set, else 1 for small data and every core
    for large data."""
    import os

    if threads:
        return threads
    return 1 if rows < SMALL_FIT_ROWS else (os.cpu_count() or 1)


def pos_weight(y: np.ndarray, imbalance: Imbalance) -> float:
    positives = float(np.sum(y))
    negatives = float(len(y) - positives)
    if positives == 0 or imbalance == "none":
        return 1.0
    ratio = negatives / positives
    return float(np.sqrt(ratio)) if imbalance == "sqrt" else float(ratio)


def per_fit_params(
    base: Mapping[str, Any], rows: int, params: Mapping[str, Any] | None, seed: int
) -> dict[str, Any]:
    """``base`` with the defaults that follow the fit's size (leaf size; bagging so each tree
    sees about BAGGED_ROWS rows of a large table), then ``params``, then the fixed settings
    that make a fit repeatable."""
    low, high = MIN_DATA_IN_LEAF
    return {
        **base,
        "min_data_in_leaf": int(np.clip(rows // 200, low, high)),
        "bagging_fraction": min(base["bagging_fraction"], BAGGED_ROWS / rows),
        **(params or {}),
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


def fit_booster(
    base: lgb.Dataset,
    y: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    columns: Sequence[FeatureColumn],
    params: Mapping[str, Any] | None = None,
    monotone: Mapping[str, int] | None = None,
    seed: int = 0,
    threads: int = 0,
    imbalance: Imbalance = "sqrt",
    max_rounds: int | None = None,
    early_stopping_rounds: int | None = None,
    matrix: np.ndarray | None = None,
) -> Fit:
    """Fit on ``fit_rows`` (indices into the base dataset), early-stop on ``valid_rows``.

    ``y`` is the label of every row of the base dataset (NaN rows must not be in either
    index). The returned booster holds exactly ``best_iteration`` trees."""
    import lightgbm as lgb

    fit_rows = np.asarray(fit_rows)
    valid_rows = np.asarray(valid_rows)
    y_fit, y_valid = y[fit_rows], y[valid_rows]
    if np.isnan(y_fit).any() or np.isnan(y_valid).any():
        raise TrainingError("rows with a null label reached a fit; this is a bug in the split")
    if y_fit.sum() == 0 or y_fit.sum() == len(y_fit):
        raise TrainingError(
            f"the fit fold ({len(y_fit)} rows) has a single class; a model needs both"
        )
    full = {
        **per_fit_params(DEFAULT_PARAMS, len(fit_rows), params, seed),
        "scale_pos_weight": pos_weight(y_fit, imbalance),
    }
    full["num_threads"] = resolve_threads(threads, len(fit_rows))
    constraints = dict(monotone or {})
    if constraints:
        full["monotone_constraints"] = monotone_vector(columns, constraints)
    max_rounds = max_rounds or MAX_ROUNDS
    patience = early_stopping_rounds or EARLY_STOPPING_ROUNDS
    started = time.perf_counter()
    # lightgbm's stubs say list[int]; Dataset.subset takes any integer array
    train_set = base.subset(np.sort(fit_rows)).construct()  # type: ignore[arg-type]
    train_set.set_label(y[np.sort(fit_rows)])
    callbacks: list[Callable[..., Any]] = []
    valid_sets = []
    if len(valid_rows):
        valid_set = base.subset(np.sort(valid_rows)).construct()  # type: ignore[arg-type]
        y_sorted = y[np.sort(valid_rows)]
        valid_set.set_label(y_sorted)
        if STOPPING_METRIC == "binary_logloss":
            # The same class weights as the fit: the weighted log loss is what the trees
            # minimise, and it is smooth where ROC-AUC on a small fold jumps.
            valid_set.set_weight(np.where(y_sorted == 1, full["scale_pos_weight"], 1.0))
        valid_sets = [valid_set]
        callbacks = [lgb.early_stopping(patience, verbose=False)]
    booster = lgb.train(
        {**full, "metric": STOPPING_METRIC},
        train_set,
        num_boost_round=max_rounds,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    best = int(booster.best_iteration or booster.current_iteration())
    trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    seconds = time.perf_counter() - started
    auc = None
    if len(valid_rows) and matrix is not None:
        score = trimmed.predict(matrix[valid_rows], raw_score=True)
        auc = roc_auc(y_valid, np.asarray(score))
    return Fit(trimmed, best, auc, seconds, full, constraints)
