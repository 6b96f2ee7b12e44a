"""What the metric tables of `train` and `evaluate` show, declared once."""

from __future__ import annotations

METRIC_COLUMNS = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("top_decile_lift", "lift@10%"),
    ("mrr_capture_top_decile", "MRR@10%"),
    ("brier", "Brier"),
    ("ece", "ECE"),
)
"""(metric key, column header) in the order the tables show them."""


def fmt_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
