"""Realised performance of past snapshots whose labels have matured, beside the estimate.

A churn label of snapshot t is known at t + horizon + grace (180 + 30 days), an expansion
label at t + horizon. Once a scored snapshot's labels are known, ``realised_performance``
measures its ROC-AUC, lift in the top 10%, Brier score and ECE, overall, per segment and per
lifecycle stage, and puts the label-free estimate made from the same scores
(``monitoring.estimate``) beside each: ``outside`` says the realised ROC-AUC left the
estimate's sampling interval, i.e. the estimate can no longer be trusted (concept shift, or a
model that lost its calibration); ``miscalibrated`` says the realised ECE is above what a
calibrated model shows by chance on these rows.

The scores must be ones the model produced without having trained on the snapshot's labels
(the history's scores, or a model whose training data ended before the snapshot); the caller
chooses them and says where they came from (``scores_from``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from features.stats import brier, ece, roc_auc, top_decile_lift
from monitoring.estimate import Estimate, estimate_performance

MIN_GROUP_ROWS = 30
"""A segment or stage with fewer labeled rows is not reported on its own."""
ALL = "all"


@dataclass(frozen=True)
class RealisedRow:
    """One snapshot's realised metrics for one label and group, beside the estimate."""

    snapshot_date: str
    label: str
    model_version: str | None
    group: str
    """``all``, ``segment`` or ``lifecycle_stage``."""
    value: str
    """``all`` or the segment / stage."""
    rows: int
    positives: int
    roc_auc: float | None
    lift_top_decile: float | None
    brier: float | None
    ece: float | None
    estimated: Estimate
    scores_from: str

    @property
    def gap(self) -> float | None:
        """Realised minus estimated ROC-AUC."""
        interval = self.estimated.metrics.get("roc_auc")
        if self.roc_auc is None or interval is None:
            return None
        return self.roc_auc - interval.value

    @property
    def outside(self) -> bool:
        """The realised ROC-AUC lies outside the estimate's sampling interval."""
        interval = self.estimated.metrics.get("roc_auc")
        if self.roc_auc is None or interval is None:
            return False
        return not interval.contains(self.roc_auc)

    @property
    def miscalibrated(self) -> bool:
        interval = self.estimated.metrics.get("ece")
        return bool(self.ece is not None and interval is not None and self.ece > interval.high)

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 6)

        estimated = self.estimated.metrics
        return {
            "snapshot_date": self.snapshot_date,
            "label": self.label,
            "model_version": self.model_version,
            "group": self.group,
            "value": self.value,
            "rows": self.rows,
            "positives": self.positives,
            "roc_auc": r(self.roc_auc),
            "lift_top_decile": r(self.lift_top_decile),
            "brier": r(self.brier),
            "ece": r(self.ece),
            "estimated": {k: v.to_dict() for k, v in estimated.items()},
            "gap": r(self.gap),
            "outside": self.outside,
            "miscalibrated": self.miscalibrated,
            "scores_from": self.scores_from,
        }


def realised_performance(
    snapshot_date: str,
    label: str,
    y: np.ndarray,
    p: np.ndarray,
    groups: Mapping[str, np.ndarray] | None = None,
    model_version: str | None = None,
    scores_from: str = "history",
    draws: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> list[RealisedRow]:
    """Realised metrics of one snapshot's labeled rows (``y`` 0/1, NaN = not matured,
    dropped) and their probabilities ``p``: overall, then per value of each of ``groups``
    (e.g. segment, lifecycle_stage; values None are left out) with at least
    ``MIN_GROUP_ROWS`` rows."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    keep = ~np.isnan(y) & ~np.isnan(p)
    parts: list[tuple[str, str, np.ndarray]] = [(ALL, ALL, keep)]
    for group, values in (groups or {}).items():
        column = np.asarray(values, dtype=object)
        for value in sorted({v for v in column[keep].tolist() if v is not None}, key=str):
            mask = keep & (column == value)
            if mask.sum() >= MIN_GROUP_ROWS:
                parts.append((group, str(value), mask))
    out = []
    for group, value, mask in parts:
        if not mask.any():
            continue
        yy, pp = y[mask], p[mask]
        out.append(
            RealisedRow(
                snapshot_date=snapshot_date,
                label=label,
                model_version=model_version,
                group=group,
                value=value,
                rows=int(mask.sum()),
                positives=int(yy.sum()),
                roc_auc=roc_auc(yy, pp),
                lift_top_decile=top_decile_lift(yy, pp),
                brier=brier(yy, pp),
                ece=ece(yy, pp),
                estimated=estimate_performance(pp, draws, level, seed),
                scores_from=scores_from,
            )
        )
    return out


def last_training_snapshot(metadata: Mapping[str, Any]) -> date | None:
    """The latest snapshot whose label a model trained on: its bundle's ``labels_through``
    minus the label's ``span_days`` (None: unknown, e.g. a tabular model). Every later
    snapshot is out of sample for it."""
    through = metadata.get("labels_through")
    span = metadata.get("span_days")
    if not through or span is None:
        return None
    return date.fromisoformat(str(through)) - timedelta(days=int(span))
