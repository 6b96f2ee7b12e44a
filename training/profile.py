"""The reference profile a model's bundle carries (``metadata["profile"]``): the training
table's distribution of every feature the model reads and of its calibrated probability
(``monitoring.profile`` says what a profile holds).

Every row of the table counts, labeled or not: features are known up to the table's as-of
date, labels only 6-7 months earlier. A book trends (tenure grows, contacts accumulate), so
a reference that stopped at the last labeled snapshot would see months of ordinary ageing
as drift the day the model is served; with every snapshot, the reference and its natural
month-to-month excess reach the newest snapshot the model was trained beside.

The scores are the final model's calibrated probabilities of those rows. They are
in-sample for the rows the model was fit on, so their spread is a little wider than on a
new snapshot; the score-drift threshold's natural excess (measured snapshot by snapshot on
the same in-sample scores) absorbs that shared offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.model_bundle import ModelBundle
from monitoring.profile import ColumnKind, build_profile, text_values
from training.dataset import ModelData


def training_profile(data: ModelData, bundle: ModelBundle, seed: int = 0) -> dict[str, Any]:
    """The profile of every row of ``data`` for ``bundle``, as a JSON dict."""
    rows = np.arange(len(data.matrix))
    values: dict[str, np.ndarray] = {}
    kinds: dict[str, ColumnKind] = {}
    raw = data.raw.take(rows) if any(c.kind == "categorical" for c in data.columns) else None
    for j, column in enumerate(data.columns):
        if column.kind == "categorical" and raw is not None:
            values[column.name] = text_values(raw, column.name)
            kinds[column.name] = "categorical"
        else:
            values[column.name] = data.matrix[rows, j]
            kinds[column.name] = "numeric"
    scores = {bundle.label: bundle.predict_proba(data.matrix[rows])}
    dates = None if data.snapshot_date is None else data.snapshot_date[rows]
    return build_profile(values, kinds, scores, dates, seed=seed, account=data.ids[rows]).to_dict()
