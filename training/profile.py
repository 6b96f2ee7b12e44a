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

The features' histograms are the same for every label of one table: they are built once
per ``ModelData`` (``ModelData.derived_cache``) and only the score's histogram per model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.model_bundle import ModelBundle
from monitoring.profile import ColumnKind, ReferenceProfile, build_profile, text_values
from training.dataset import ModelData


def training_profile(data: ModelData, bundle: ModelBundle, seed: int = 0) -> dict[str, Any]:
    """The profile of every row of ``data`` for ``bundle``, as a JSON dict."""
    features = feature_profile(data, seed)
    scores = {bundle.label: bundle.predict_proba(data.matrix)}
    scored = build_profile({}, {}, scores, data.snapshot_date, seed=seed, account=data.ids).scores
    return ReferenceProfile(features.features, scored, features.rows, features.snapshots).to_dict()


def feature_profile(data: ModelData, seed: int = 0) -> ReferenceProfile:
    """The histograms of every feature of ``data`` (no scores), built once per table."""
    key = ("feature_profile", tuple(c.name for c in data.columns), len(data.matrix), seed)
    cached = data.derived_cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    values: dict[str, np.ndarray] = {}
    kinds: dict[str, ColumnKind] = {}
    for j, column in enumerate(data.columns):
        if column.kind == "categorical":
            values[column.name] = text_values(data.raw, column.name)
            kinds[column.name] = "categorical"
        else:
            values[column.name] = data.matrix[:, j]
            kinds[column.name] = "numeric"
    profile = build_profile(
        values, kinds, {}, data.snapshot_date, seed=seed, account=account_codes(data)
    )
    data.derived_cache[key] = profile
    return profile


def account_codes(data: ModelData) -> np.ndarray:
    """Each row's account as an integer code (the same groups as the ids): every histogram
    groups rows by account, and grouping integers is many times faster than id strings."""
    key = "account_codes"
    if key not in data.derived_cache:
        data.derived_cache[key] = np.unique(data.ids, return_inverse=True)[1]
    return data.derived_cache[key]  # type: ignore[no-any-return]
