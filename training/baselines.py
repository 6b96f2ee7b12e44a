"""Baselines scored in the same run and report as the model.

1. A health scorecard of the kind CS platforms configure: each component is coloured green
   (100), yellow (50) or red (0) by fixed thresholds, and health is the weighted mean of the
   components that have data (weights renormalised over them; no data at all: 50). Risk of
   churn is 100 - health; the expansion baseline is health itself. A Platt map fit on the
   training rows turns the score into a probability so that Brier and ECE are comparable.
2. A logistic regression on the same features: numeric columns median-imputed with missing
   indicators, signed-log transformed (counts and money are heavy-tailed) and standardised;
   categorical codes one-hot encoded. Fit on at most ``LOGREG_MAX_ROWS`` training rows (a
   seeded sample) to bound its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.model_bundle import Calibration, FeatureColumn
from training.calibration import fit_platt

LOGREG_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Component:
    """One scorecard component: green when ``green(value)``, red when ``red(value)``."""

    feature: str
    weight: float
    green: tuple[str, float]
    red: tuple[str, float]
    description: str

    def colour(self, values: np.ndarray) -> np.ndarray:
        """100 / 50 / 0 per row, NaN where the value is missing."""
        out = np.full(len(values), 50.0)
        out[_compare(values, *self.green)] = 100.0
        out[_compare(values, *self.red)] = 0.0
        out[np.isnan(values)] = np.nan
        return out


SCORECARD: tuple[Component, ...] = (
    Component("seat_utilization_30d", 25, (">=", 0.8), ("<=", 0.6), "seat utilisation"),
    Component("core_breadth_30d", 15, (">=", 0.5), ("<", 0.25), "breadth of core features"),
    Component("events_trend_30_90", 15, (">=", 1.0), ("<", 0.8), "usage trend"),
    Component("open_high_tickets", 15, ("<=", 0), (">=", 2), "urgent/high tickets open"),
    Component("nps_last", 15, (">=", 9), ("<=", 6), "NPS"),
    Component("champion_departures_90d", 15, ("<=", 0), (">=", 1), "champion loss"),
)


def _compare(values: np.ndarray, op: str, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if op == ">=":
            return values >= threshold
        if op == "<=":
            return values <= threshold
        if op == "<":
            return values < threshold
        return values > threshold


def health_score(
    matrix: np.ndarray,
    columns: Sequence[FeatureColumn],
    components: Sequence[Component] = SCORECARD,
) -> np.ndarray:
    """Health 0-100 per row (higher is healthier)."""
    index = {c.name: i for i, c in enumerate(columns)}
    total = np.zeros(len(matrix))
    weights = np.zeros(len(matrix))
    for comp in components:
        if comp.feature not in index:
            continue
        colour = comp.colour(matrix[:, index[comp.feature]])
        present = ~np.isnan(colour)
        total[present] += comp.weight * colour[present]
        weights[present] += comp.weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, total / np.where(weights > 0, weights, 1), 50.0)


def scorecard_raw(health: np.ndarray, kind: str) -> np.ndarray:
    """A raw score (higher = more likely positive) from health: risk for churn, health else."""
    centred = (health - 50.0) / 10.0
    return -centred if kind == "churn" else centred


@dataclass
class Scorecard:
    """The scorecard with its probability map fit on training rows."""

    kind: str
    calibration: Calibration
    columns: list[FeatureColumn]

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        return scorecard_raw(health_score(matrix, self.columns), self.kind)

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibration.apply(self.raw(matrix))


def fit_scorecard(
    matrix: np.ndarray, y: np.ndarray, columns: Sequence[FeatureColumn], kind: str
) -> Scorecard:
    raw = scorecard_raw(health_score(matrix, columns), kind)
    return Scorecard(kind, fit_platt(raw, y), list(columns))


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def fit_logreg(
    matrix: np.ndarray,
    y: np.ndarray,
    columns: Sequence[FeatureColumn],
    seed: int = 0,
    max_rows: int = LOGREG_MAX_ROWS,
) -> Any:
    """A fitted sklearn pipeline; ``predict_proba(matrix)[:, 1]`` scores rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    rows = np.arange(len(y))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    x, target = matrix[rows], y[rows].astype(int)
    # Columns without a single value in the rows fit on carry nothing (features of an
    # optional table the source lacks are null throughout); leave them out.
    observed = ~np.all(np.isnan(x), axis=0)
    numeric = [i for i, c in enumerate(columns) if c.kind == "numeric" and observed[i]]
    categorical = [i for i, c in enumerate(columns) if c.kind == "categorical"]
    transformers = [
        (
            "numeric",
            Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                    ("log", FunctionTransformer(_signed_log)),
                    ("scale", StandardScaler()),
                ]
            ),
            numeric,
        )
    ]
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value=-1.0)),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            )
        )
    model = Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            ("logreg", LogisticRegression(C=0.1, max_iter=300)),
        ]
    )
    model.fit(x, target)
    return model
