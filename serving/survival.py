"""Churn curves of scored accounts: the survival champion's P(churn by d), made to agree with
the served 180-day score, the probability of being gone by the next renewal, and the top
drivers of the 365-day risk.

Agreement with ``churn_probability``. The API's ``churn_probability`` is the calibrated
``churn_180d`` classifier (it carries the promotion gate, the calibration check and the SHAP
reasons). Each curve is anchored to it (``features.survival_bundle.anchor_curve``: the
curve's cumulative hazard is scaled so that its 180-day point equals the served score), so
``churn_curve``'s 180-day point and ``churn_by_180d`` are ``churn_probability`` exactly and
the curve stays monotone. The survival model decides the curve's shape: how the risk spreads
before and after 180 days.

``churn_by_renewal``: P(gone by the next renewal date), the renewal day included (the curve
at ``days_to_renewal`` + 1 days; a churn dated on the renewal day counts); null when the
days to renewal are unknown.

Drivers: ``SurvivalBundle.drivers`` (per-period SHAP contributions of the hazard, weighted
by each period's share of the 365-day risk), the ``DRIVER_COUNT`` largest positive ones. They
cost one SHAP row per period (13) per account, more than the rest of the account's scoring:
the served portfolio finds them lazily (``SurvivalView.lazy``): scoring keeps the encoded rows,
a record's drivers are computed the first time it is asked for
(``SurvivalScores.drivers_at``), and the portfolio keeps the finished record."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.metadata import FeatureSpec
from features.model_bundle import FeatureColumn
from features.survival_bundle import HORIZONS_DAYS, SurvivalBundle, anchor_curve, churn_by

ANCHOR_DAYS = 180
DRIVER_COUNT = 3


@dataclass
class SurvivalView:
    """A survival bundle prepared for scoring, with its registered version."""

    bundle: SurvivalBundle
    version: str
    families: list[str | None]
    drivers: bool = True
    """Whether scoring a table also finds the drivers (the API's records do; batch files
    carry the curve only)."""
    lazy: bool = False
    """With ``drivers``: find them when a record asks (``SurvivalScores.drivers_at``), not
    when the table is scored."""

    @classmethod
    def of(
        cls,
        bundle: SurvivalBundle,
        version: str,
        fallback_specs: Mapping[str, FeatureSpec] | None = None,
        drivers: bool = True,
        lazy: bool = False,
    ) -> SurvivalView:
        specs = bundle.metadata.get("features", [])
        own = {s["name"]: s.get("family") for s in specs if "name" in s}
        fallback = dict(fallback_specs or {})
        families = [
            own.get(n) or (fallback[n].family if n in fallback else None)
            for n in bundle.feature_names
        ]
        return cls(bundle, version, families, drivers, lazy)


@dataclass
class LazyDrivers:
    """The drivers of a scored table, found per row on demand. Not kept here: the served
    portfolio keeps each finished record (``serving.cache.Portfolio.responses_at``)."""

    view: SurvivalView
    matrix: np.ndarray

    def rows(self, rows: Sequence[int]) -> list[list[dict[str, Any]]]:
        """The drivers of ``rows``, computed together (one SHAP call)."""
        at = np.asarray([int(i) for i in rows], dtype=np.int64)
        if not len(at):
            return []
        contributions, _ = self.view.bundle.drivers(self.matrix[at])
        return top_drivers(
            contributions, self.matrix[at], self.view.bundle.columns, self.view.families
        )


@dataclass
class SurvivalScores:
    """Curves of n rows: P(churn by d) at ``HORIZONS_DAYS`` (anchored), by the renewal, and
    the drivers of the 365-day risk (None when not computed)."""

    curve: np.ndarray
    """(n, len(HORIZONS_DAYS))."""
    by_renewal: np.ndarray
    """(n,), NaN when the renewal is unknown."""
    drivers: list[list[dict[str, Any]]] | None
    version: str
    lazy: LazyDrivers | None = None
    """When the drivers are found on demand (``drivers`` is then None)."""

    def drivers_at(self, rows: Sequence[int]) -> list[list[dict[str, Any]] | None]:
        """The drivers of ``rows``: computed ones, found on demand, or None per row."""
        if self.drivers is not None:
            return [self.drivers[i] for i in rows]
        if self.lazy is not None:
            return list(self.lazy.rows(rows))
        return [None for _ in rows]

    def driver_record(self, i: int) -> list[dict[str, Any]] | None:
        """Row i's drivers of the 365-day risk (None when not computed)."""
        return self.drivers_at([i])[0]

    def curve_record(self, i: int) -> list[dict[str, Any]]:
        return [
            {"days": d, "probability": float(self.curve[i, j])} for j, d in enumerate(HORIZONS_DAYS)
        ]

    def renewal(self, i: int) -> float | None:
        value = float(self.by_renewal[i])
        return None if math.isnan(value) else value

    def columns(self) -> dict[str, np.ndarray]:
        """The batch columns ``churn_by_<d>d`` and ``churn_by_renewal``."""
        out = {f"churn_by_{d}d": self.curve[:, j] for j, d in enumerate(HORIZONS_DAYS)}
        out["churn_by_renewal"] = self.by_renewal
        return out


def score_curves(
    view: SurvivalView,
    matrix: np.ndarray,
    churn_probability: np.ndarray,
    days_to_renewal: np.ndarray,
    drivers: bool = True,
    threads: int = 0,
) -> SurvivalScores:
    """Anchored curves of the rows of ``matrix`` (encoded for ``view.bundle``); see the
    module docs. With ``drivers``, their drivers now, or on demand with ``view.lazy``,
    keeping ``matrix``. ``threads``: LightGBM's for the hazards (0: its default)."""
    bundle = view.bundle
    hazards = bundle.hazards(matrix, threads)
    renewal_day = np.where(np.isnan(days_to_renewal), 0.0, np.maximum(days_to_renewal, 0) + 1)
    raw = np.column_stack(
        [churn_by(hazards, HORIZONS_DAYS, bundle.period_days), churn_by(hazards, renewal_day)]
    )
    anchored = anchor_curve(raw, HORIZONS_DAYS, churn_probability, ANCHOR_DAYS)
    by_renewal = np.where(np.isnan(days_to_renewal), np.nan, anchored[:, -1])
    found, pending = None, None
    if drivers and view.lazy:
        pending = LazyDrivers(view, matrix)
    elif drivers and len(matrix):
        contributions, _ = bundle.drivers(matrix)
        found = top_drivers(contributions, matrix, bundle.columns, view.families)
    return SurvivalScores(anchored[:, :-1], by_renewal, found, view.version, pending)


def top_drivers(
    contributions: np.ndarray,
    matrix: np.ndarray,
    columns: Sequence[FeatureColumn],
    families: Sequence[str | None],
    count: int = DRIVER_COUNT,
) -> list[list[dict[str, Any]]]:
    """Per row, the ``count`` features raising the 365-day risk most (positive contributions,
    largest first): feature, family, value (null when missing; a categorical column's
    category) and contribution (log-odds of the hazard)."""
    out = []
    for i in range(len(contributions)):
        row = contributions[i]
        order = [j for j in np.argsort(-row, kind="stable")[:count] if row[j] > 0]
        out.append(
            [
                {
                    "feature": columns[j].name,
                    "family": families[j],
                    "value": _value(columns[j], matrix[i, j]),
                    "contribution": float(row[j]),
                }
                for j in order
            ]
        )
    return out


def _value(column: FeatureColumn, code: float) -> float | str | None:
    if math.isnan(code):
        return None
    if column.kind == "categorical":
        return column.categories[int(code)]
    return float(code)
