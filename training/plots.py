"""Plots logged with every training run (matplotlib figures written as PNG files).

Each function takes arrays and a path, draws one figure with a title, labelled axes and units,
writes it and returns the path. No plot reads a store or a table. Figures are made with
``matplotlib.figure.Figure``, never pyplot: pyplot would need a process-wide backend switch,
which silently turned off inline plots in the notebooks that train.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.metrics import calibration_bins, cumulative_gains

COLOURS = {"model": "#1f5fa8", "scorecard": "#c0392b", "logreg": "#7f8c8d", "oracle": "#27ae60"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def calibration_curve(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    path: Path,
    title: str,
    bins: int = 10,
) -> Path:
    """Reliability diagram: mean predicted probability vs observed rate, equal-frequency bins."""
    fig = _figure(6, 5)
    ax = fig.subplots()
    top = 0.0
    for name, p in predictions.items():
        table = calibration_bins(y, p, bins)
        xs = [mp for _, mp, _ in table]
        ys = [rate for _, _, rate in table]
        top = max(top, *xs, *ys)
        ax.plot(xs, ys, marker="o", label=name, color=COLOURS.get(name))
    top = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, top], [0, top], linestyle="--", color="black", linewidth=0.8, label="perfect")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability (per bin of equal size)")
    ax.set_ylabel("observed positive rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def gains_and_lift(
    y: np.ndarray, predictions: Mapping[str, np.ndarray], path: Path, title: str
) -> Path:
    """Cumulative gains (share of positives captured) and lift, accounts ranked by score."""
    fig = _figure(11, 4.5)
    left, right = fig.subplots(1, 2)
    base_rate = max(float(np.mean(y)), 1e-12)
    for name, p in predictions.items():
        targeted, captured = cumulative_gains(y, p)
        left.plot(targeted * 100, captured * 100, label=name, color=COLOURS.get(name))
        keep = targeted >= 0.01
        lift = captured[keep] / targeted[keep]
        right.plot(targeted[keep] * 100, lift, label=name, color=COLOURS.get(name))
    left.plot([0, 100], [0, 100], linestyle="--", color="black", linewidth=0.8, label="random")
    left.axvline(10, color="grey", linewidth=0.6)
    left.set_xlabel("accounts targeted, riskiest first (%)")
    left.set_ylabel("positives captured (%)")
    left.set_title("cumulative gains")
    left.legend(loc="lower right")
    right.axhline(1.0, linestyle="--", color="black", linewidth=0.8)
    right.axvline(10, color="grey", linewidth=0.6)
    right.set_xlabel("accounts targeted, riskiest first (%)")
    right.set_ylabel(f"lift over the base rate ({base_rate:.1%})")
    right.set_title("lift")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


def shap_beeswarm(
    contributions: np.ndarray,
    matrix: np.ndarray,
    names: Sequence[str],
    path: Path,
    title: str,
    max_display: int = 15,
) -> Path:
    """SHAP beeswarm of the features with the largest mean |contribution| (log-odds)."""
    import shap

    explanation = shap.Explanation(values=contributions, data=matrix, feature_names=list(names))
    fig = _figure(8, 6)
    ax = fig.subplots()
    with warnings.catch_warnings():
        # A column null on every row (a source that lost it) is drawn grey by shap, which
        # still asks numpy for its colour range first; the plot is right, the warning is noise.
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        shap.plots.beeswarm(explanation, max_display=max_display, show=False, ax=ax, plot_size=None)
    ax.set_xlabel("SHAP contribution to the score (log-odds)")
    ax.set_ylabel("feature (largest mean |contribution| first)")
    ax.set_title(title)
    return _save(fig, path)


def group_table_png(rows: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """The per-segment / lifecycle-stage metrics as a table image."""
    headers = [
        "group",
        "value",
        "rows",
        "positives",
        "roc_auc",
        "pr_auc",
        "lift@10%",
        "ece",
        "scorecard auc",
        "logreg auc",
    ]
    keys = [
        "group",
        "value",
        "rows",
        "positives",
        "roc_auc",
        "pr_auc",
        "top_decile_lift",
        "ece",
        "scorecard_roc_auc",
        "logreg_roc_auc",
    ]
    cells = [[_cell(row.get(k)) for k in keys] for row in rows]
    fig = _figure(12, 0.4 * len(cells) + 1.2)
    ax = fig.subplots()
    ax.axis("off")
    table = ax.table(cellText=cells or [["-"] * len(headers)], colLabels=headers, loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.3)
    ax.set_title(title)
    return _save(fig, path)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
