"""The metric tables of `train` and `evaluate`: their columns declared once, one renderer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table

METRIC_COLUMNS = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("top_decile_lift", "lift@10%"),
    ("mrr_capture_top_decile", "MRR@10%"),
    ("brier", "Brier"),
    ("ece", "ECE"),
)
"""(metric key, column header) in the order the tables show them."""
ORACLE_RATIO = ("auc_oracle_ratio", "AUC / oracle")
"""The extra column of tables on simulated sources: the model's ROC-AUC over the oracle's."""


def fmt_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def metric_table(
    title: str,
    leading: Sequence[str],
    rows: Iterable[tuple[Sequence[str], Mapping[str, Any]]],
    oracle_ratio: bool = True,
) -> Table:
    """A table of ``leading`` text columns, then every metric of ``METRIC_COLUMNS`` (and the
    oracle ratio): one row per (leading cells, metrics by key)."""
    table = Table(title=title, title_justify="left")
    for column in leading:
        table.add_column(column)
    metrics = [*METRIC_COLUMNS, ORACLE_RATIO] if oracle_ratio else list(METRIC_COLUMNS)
    for _, header in metrics:
        table.add_column(header, justify="right")
    for cells, values in rows:
        table.add_row(*cells, *[fmt_metric(values.get(key)) for key, _ in metrics])
    return table
