"""Explanations at training time: the final model's SHAP contributions on the rows serving
will explain, the signal scale recorded in its bundle, and the bundle's reason book."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from features.metadata import FeatureSpec
from features.model_bundle import ModelBundle
from features.reasons import PeerReference, ReasonBook
from training.dataset import ModelData

EXPLAIN_ROWS = 1000
"""Rows timed for the explanation cost per row."""
SHAP_PLOT_ROWS = 2000
"""At most this many rows (a seeded sample) are explained for the plots and the scale."""


def explain_final_model(bundle: ModelBundle, data: ModelData) -> dict[str, Any]:
    """SHAP contributions of the final model on the latest snapshot's rows (what serving will
    explain), and the cost per row. Records in the bundle how much each signal's push varies
    over those rows (``signal_scale``) and each actionable family's median push and its
    standard deviation (``family_spread``: what the main reason's family is measured
    against)."""
    matrix = data.matrix[explained_rows(data)]
    timed = matrix[:EXPLAIN_ROWS]
    started = time.perf_counter()
    bundle.contributions(timed)
    per_row = (time.perf_counter() - started) * 1000 / max(len(timed), 1)
    contributions, base_value = bundle.contributions(matrix)
    book = reason_book(bundle)
    bundle.metadata["signal_scale"] = book.signal_scale(contributions)
    bundle.metadata["family_spread"] = book.family_spread_of(contributions)
    # the importance an additive model or a blend shows (a booster shows its split gain)
    bundle.metadata["importance"] = {
        name: round(float(v), 6)
        for name, v in zip(bundle.feature_names, np.abs(contributions).mean(axis=0), strict=True)
    }
    return {
        "shap": contributions,
        "shap_base": base_value,
        "shap_matrix": matrix,
        "explain_ms_per_row": round(per_row, 4),
    }


def explained_rows(data: ModelData) -> np.ndarray:
    """Indices of the rows the final model is explained on: the latest snapshot's (every row
    without snapshots), at most ``SHAP_PLOT_ROWS`` of them (a seeded sample)."""
    if data.snapshot_date is not None:
        rows = np.flatnonzero(data.snapshot_date == data.snapshot_date.max())
    else:
        rows = np.arange(len(data.matrix))
    if len(rows) > SHAP_PLOT_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, SHAP_PLOT_ROWS, replace=False))
    return rows


def reason_book(bundle: ModelBundle) -> ReasonBook:
    """The bundle's reasons: its feature specs, categories and peer quantiles."""
    by_name = {s["name"]: FeatureSpec.from_dict(s) for s in bundle.feature_specs if "name" in s}
    return ReasonBook(
        bundle.feature_names,
        [by_name.get(name) for name in bundle.feature_names],
        [c.categories if c.kind == "categorical" else None for c in bundle.columns],
        PeerReference.from_dict(bundle.metadata.get("reference")),
        scale=bundle.metadata.get("signal_scale"),
        family_scale=bundle.metadata.get("family_scale"),
        family_spread=bundle.metadata.get("family_spread"),
    )
