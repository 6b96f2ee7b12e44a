"""Prescription: the plays that fit an account, with their estimated effect on it, ranked by
the revenue they are expected to save.

The YAML rules (``serving.playbooks``) decide which plays fit; the registered play-effects
model (``features.effects_bundle``, from ``churnlight plays``) adds to each fitting play:

- ``churn_effect`` / ``expand_effect``: the estimated change in this account's probability
  of churning / expanding within the horizon if the play is run (the play's per-account
  uplift model; -0.04 = four points less likely to churn); null when the play has no uplift
  model (too few runs, or no comparable accounts);
- ``expected_arr_saved``: ARR at risk x uplift, minus the play's cost:
  ``12 * mrr * -churn_effect - cost`` (cost from the library, 0 when it gives none); null
  when churn_effect or mrr is.

The plays are ranked by ``expected_arr_saved`` (highest first), plays without one after, in
library order. Without a registered effects model the records are exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from features.effects_bundle import EffectsBundle
from features.model_bundle import encode

ColumnGetter = Callable[[str], np.ndarray | None]


def label_pair(effects: EffectsBundle) -> tuple[str | None, str | None]:
    """The churn and the expansion label names of the effects (``churn_180d``, ...)."""
    labels = [str(r["label"]) for r in effects.effects]
    churn = next((lb for lb in labels if lb.startswith("churn")), None)
    expand = next((lb for lb in labels if lb.startswith("expand")), None)
    return churn, expand


def prescribe(
    hits: Sequence[Sequence[dict[str, Any]]],
    column: ColumnGetter,
    mrr: np.ndarray,
    effects: EffectsBundle,
    costs: Mapping[str, float | None],
) -> list[list[dict[str, Any]]]:
    """``hits`` (per account, the fitting plays' dicts) with the effects added and re-ranked.
    ``column`` gives the accounts' feature values by name (the effects model encodes them)."""
    n = len(hits)
    wanted = {hit["id"] for row in hits for hit in row}
    churn_label, expand_label = label_pair(effects)
    uplift: dict[tuple[str, str | None], np.ndarray | None] = {}
    matrix: np.ndarray | None = None
    for play in sorted(wanted):
        for label in (churn_label, expand_label):
            if label is None or not effects.has_uplift(play, label):
                uplift[(play, label)] = None
                continue
            if matrix is None:
                inputs = {c for col in effects.columns for c in col.source_columns}
                frame = {name: v for name in inputs if (v := column(name)) is not None}
                matrix = (
                    encode(frame, effects.columns)
                    if frame
                    else np.full((n, len(effects.columns)), np.nan)
                )
            uplift[(play, label)] = effects.uplift_of(play, label, matrix)
    out: list[list[dict[str, Any]]] = []
    for i, row in enumerate(hits):
        enriched = []
        for hit in row:
            churn = uplift.get((hit["id"], churn_label))
            expand = uplift.get((hit["id"], expand_label))
            churn_effect = None if churn is None else round(float(churn[i]), 4)
            expand_effect = None if expand is None else round(float(expand[i]), 4)
            saved = None
            if churn_effect is not None and np.isfinite(mrr[i]):
                cost = costs.get(hit["id"]) or 0.0
                saved = round(12.0 * float(mrr[i]) * -churn_effect - cost, 2)
            enriched.append(
                {
                    **hit,
                    "churn_effect": churn_effect,
                    "expand_effect": expand_effect,
                    "expected_arr_saved": saved,
                }
            )
        order = sorted(
            range(len(enriched)),
            key=lambda j: (
                enriched[j]["expected_arr_saved"] is None,
                -(enriched[j]["expected_arr_saved"] or 0.0),
                j,
            ),
        )
        out.append([enriched[j] for j in order])
    return out
