"""The model-health plots (PNG, matplotlib ``Figure``, never pyplot: see ``training.plots``).

Each takes a ``ModelHealth`` and a path, draws one figure and returns the path."""

from __future__ import annotations

from pathlib import Path

from monitoring.health import ModelHealth
from training.plots import _figure, _save

DRIFTED = "#c0392b"
STEADY = "#1f5fa8"


def drift_bars(health: ModelHealth, path: Path, top: int = 20) -> Path:
    """PSI over its threshold for the ``top`` features in rank order (drifted first, then by
    drift x gain share), with the gain share in the label; 1.0 is the threshold."""
    rows = [r for r in health.drift if r.statistic == "psi"][:top]
    fig = _figure(8, 0.32 * max(len(rows), 1) + 1.6)
    ax = fig.subplots()
    names = [
        f"{r.feature} ({'-' if r.gain_share is None else f'{r.gain_share:.0%}'} gain)" for r in rows
    ]
    ratios = [r.value / r.threshold if r.threshold > 0 else 0.0 for r in rows]
    colours = [DRIFTED if r.drifted else STEADY for r in rows]
    ax.barh(range(len(rows)), ratios, color=colours)
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8, label="threshold")
    ax.set_xlabel("PSI / its sample-size threshold (>1: drifted)")
    ax.set_title(f"feature drift, snapshot {health.snapshot_date} (drifted in red)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def performance_lines(health: ModelHealth, path: Path) -> Path:
    """Per label, the realised ROC-AUC of each matured snapshot beside its label-free
    estimate (interval as a bar), the current snapshot's estimate, and the backtest."""
    labels = list(health.estimated)
    fig = _figure(6 * max(len(labels), 1), 4.5)
    axes = fig.subplots(1, max(len(labels), 1), squeeze=False)[0]
    for ax, label in zip(axes, labels, strict=False):
        matured = sorted(
            (r for r in health.realised if r.label == label and r.group == "all"),
            key=lambda r: r.snapshot_date,
        )
        dates = [r.snapshot_date for r in matured]
        est = [r.estimated.metrics.get("roc_auc") for r in matured]
        xs = list(range(len(dates)))
        shown = [(x, e) for x, e in zip(xs, est, strict=True) if e is not None]
        if shown:
            ax.errorbar(
                [x for x, _ in shown],
                [e.value for _, e in shown],
                yerr=[
                    [e.value - e.low for _, e in shown],
                    [e.high - e.value for _, e in shown],
                ],
                fmt="o",
                color=STEADY,
                capsize=3,
                label="estimated (no labels)",
            )
        real = [(x, r.roc_auc) for x, r in zip(xs, matured, strict=True) if r.roc_auc is not None]
        if real:
            xs_real, values = [x for x, _ in real], [v for _, v in real]
            ax.plot(xs_real, values, "s-", color=DRIFTED, label="realised")
        current = health.estimated[label].metrics.get("roc_auc")
        if current is not None:
            x = len(dates)
            ax.errorbar(
                [x],
                [current.value],
                yerr=[[current.value - current.low], [current.high - current.value]],
                fmt="D",
                color="#7f8c8d",
                capsize=3,
                label="estimated, current snapshot",
            )
            dates.append(f"{health.snapshot_date} (now)")
        backtest = health.reference.get(label, {}).get("roc_auc")
        if backtest is not None:
            ax.axhline(backtest, color="black", linestyle="--", linewidth=0.8, label="backtest")
        ax.set_xticks(range(len(dates)), dates, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel("snapshot")
        ax.set_ylabel("ROC-AUC")
        ax.set_title(label)
        ax.legend(loc="best", fontsize=7)
        ax.grid(alpha=0.3)
    return _save(fig, path)
