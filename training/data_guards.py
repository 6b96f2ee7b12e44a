"""The gate's data guards: is the challenger's training data broken, judged against the
champion's training profile (``monitoring.guards``)?

Read on the latest snapshot of the challenger's feature table (the rows that changed since
the champion was trained): an informative feature all null or constant, and drift beyond
threshold on features that together carry at least half of the champion's gain. A champion
without a profile (trained before profiles existed) is not compared; the caller notes it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from features.model_bundle import ModelBundle
from monitoring.drift import feature_drift, gain_shares
from monitoring.guards import Finding, broken_features, drift_on_gain
from monitoring.profile import ReferenceProfile, column_values
from training.dataset import ModelData

MAX_DRIFTED_GAIN = 0.5


def data_findings(data: ModelData, champion: ModelBundle) -> list[Finding]:
    """What is broken in ``data``'s latest snapshot against ``champion``'s profile (empty:
    nothing found, or nothing to compare with)."""
    profile = ReferenceProfile.from_dict(champion.metadata.get("profile"))
    if profile is None or data.snapshot_date is None or len(data.snapshot_date) == 0:
        return []
    latest = data.snapshot_date == data.snapshot_date.max()
    rows = data.raw.filter(pa.array(latest))
    columns = [c for c in champion.columns if c.name in profile.features]
    values = column_values(rows, columns)
    references = {c.name: profile.features[c.name] for c in columns}
    shares = gain_shares({champion.label: champion})[champion.label]
    findings = broken_features(references, values, shares)
    broken = {f.subject for f in findings}
    drift = feature_drift(
        {k: v for k, v in references.items() if k not in broken},
        {k: np.asarray(v) for k, v in values.items() if k not in broken},
        shares,
    )
    return findings + drift_on_gain(drift, MAX_DRIFTED_GAIN)
