"""The effects plot: per label, each play's effect on the treated with its 95% interval."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def effects_plot(rows: Sequence[dict[str, Any]], path: Path, segment: str = "all") -> Path:
    """A forest plot of the ``segment`` cells: one panel per label, a point and an interval
    per play with evidence (hollow and grey, marked 'confounded', when the negative control
    failed), a grey 'not enough evidence' note for the others."""
    from matplotlib.figure import Figure

    cells = [r for r in rows if r["segment"] == segment]
    labels = sorted({r["label"] for r in cells})
    plays = sorted({r["play"] for r in cells})
    fig = Figure(figsize=(6 * max(len(labels), 1), 0.45 * len(plays) + 1.6))
    axes = fig.subplots(1, max(len(labels), 1), squeeze=False)[0]
    for ax, label in zip(axes, labels, strict=False):
        for y, play in enumerate(plays):
            row = next((r for r in cells if r["label"] == label and r["play"] == play), None)
            if row is None or row["effect"] is None:
                ax.text(0, y, "not enough evidence", color="#7f8c8d", va="center", ha="center")
                continue
            confounded = row["evidence"] == "confounded"
            ax.errorbar(
                row["effect"],
                y,
                xerr=[[row["effect"] - row["ci_low"]], [row["ci_high"] - row["effect"]]],
                fmt="o",
                color="#95a5a6" if confounded else "#1f5fa8",
                mfc="white" if confounded else None,
                capsize=3,
            )
            if confounded:
                ax.annotate("confounded", (row["ci_high"], y), xytext=(4, 0),
                            textcoords="offset points", va="center", color="#7f8c8d")  # fmt: skip
        ax.axvline(0.0, color="#c0392b", lw=1)
        ax.set_yticks(range(len(plays)), plays)
        ax.set_xlabel(f"change in P({label}) on the accounts that got the play")
        ax.set_title(f"{label}: effect on the treated, 95% interval ({segment})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
