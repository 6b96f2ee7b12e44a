"""Plots of the survival model's backtest, logged with the training run (matplotlib
figures written as PNG files, never pyplot; see ``training.plots``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from features.survival_stats import kaplan_meier
from training.plots import _figure


def mean_curves(curves: dict[str, Any], path: Path) -> Path:
    """The test rows' mean predicted P(churn by d) against the Kaplan-Meier estimate of what
    happened to them, and the training rows' Kaplan-Meier curve (the baseline)."""
    grid = np.asarray(curves["grid"], dtype=float)
    observed = 1.0 - kaplan_meier(curves["time"], curves["event"]).at(grid)
    fig = _figure(6, 4.5)
    ax = fig.subplots()
    ax.plot(grid, curves["survival"].mean(axis=0), label="survival model (mean of rows)")
    ax.plot(grid, curves["kaplan_meier"], label="Kaplan-Meier of the training rows", ls="--")
    ax.plot(grid, observed, label="observed (Kaplan-Meier of the test rows)", color="black")
    ax.set_xlabel("time after the snapshot (days)")
    ax.set_ylabel("P(churned by day)")
    ax.set_title("churn_time: mean curve on the backtest's test rows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def calibration_per_horizon(metrics: dict[str, Any], path: Path) -> Path:
    """Predicted vs observed (Kaplan-Meier) P(churn by d) per risk decile, one line per
    horizon of ``metrics['calibration']`` (decile, predicted, observed)."""
    fig = _figure(5.5, 5)
    ax = fig.subplots()
    top = 0.0
    for day, table in (metrics.get("calibration") or {}).items():
        if not table:
            continue
        predicted = [row[1] for row in table]
        observed = [row[2] for row in table]
        ax.plot(predicted, observed, marker="o", label=f"{day} days")
        top = max(top, *predicted, *observed)
    ax.plot([0, top or 1], [0, top or 1], color="grey", ls=":", label="perfect")
    ax.set_xlabel("predicted P(churn by day), decile mean (probability)")
    ax.set_ylabel("observed (Kaplan-Meier of the decile)")
    ax.set_title("churn_time: calibration per risk decile")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
