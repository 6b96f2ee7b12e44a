"""The data guards of the promotion gate: is the challenger's training data broken?

Three checks, each a ``Finding`` that names the feature or the table:

- ``broken_features``: a feature the champion relies on (at least ``min_gain_share`` of its
  gain) is null on every row of the latest snapshot, or holds a single value there, while its
  reference was spread (a single value counts only when the reference makes it unlikely by
  chance at this size: the largest reference bin's share to the power of the rows is below
  ``chance``);
- ``volume_drops``: a dated table's rows per month fell sharply: the mean of the last
  ``recent`` complete months is below (1 - ``max_drop``) times the median of the
  ``baseline`` months before them, and the shortfall exceeds ``z`` Poisson standard
  deviations (so a small table's month-to-month noise is not a drop);
- ``drift_on_gain``: the features whose drift is over threshold (``monitoring.drift``)
  together carry at least ``max_share`` of the champion's gain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from monitoring.drift import DriftRow
from monitoring.profile import Histogram


@dataclass(frozen=True)
class Finding:
    kind: str
    """``feature_null``, ``feature_constant``, ``table_volume`` or ``drift_on_gain``."""
    subject: str
    """The feature or the table (for ``drift_on_gain``: the features, comma-separated)."""
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def broken_features(
    references: Mapping[str, Histogram],
    values: Mapping[str, np.ndarray],
    gain_share: Mapping[str, float],
    min_gain_share: float = 0.02,
    chance: float = 1e-3,
) -> list[Finding]:
    """Informative features all null or constant in ``values`` (module docs)."""
    out = []
    for name, reference in references.items():
        share = gain_share.get(name, 0.0)
        if share < min_gain_share or name not in values:
            continue
        counts = reference.counts(values[name])
        rows = int(counts.sum())
        present = rows - int(counts[-1])
        if rows == 0:
            continue
        if present == 0 and reference.null_share < 1.0:
            out.append(
                Finding(
                    "feature_null",
                    name,
                    f"feature {name} is null on all {rows} rows of the latest snapshot (in "
                    f"training {reference.null_share:.0%} null; {share:.0%} of the champion's "
                    "gain): check the column it is built from",
                )
            )
            continue
        distinct = _distinct(values[name])
        non_null = np.asarray(reference.shares[:-1])
        spread = non_null / non_null.sum() if non_null.sum() > 0 else non_null
        if distinct == 1 and len(spread) > 1 and float(spread.max()) ** present < chance:
            out.append(
                Finding(
                    "feature_constant",
                    name,
                    f"feature {name} holds one value on all {present} non-null rows of the "
                    f"latest snapshot (in training its most common bin held "
                    f"{float(spread.max()):.0%}; {share:.0%} of the champion's gain): check "
                    "the column it is built from",
                )
            )
    return out


def volume_drops(
    monthly_rows: Mapping[str, Sequence[tuple[str, int]]],
    recent: int = 3,
    baseline: int = 12,
    max_drop: float = 0.3,
    z: float = 4.0,
) -> list[Finding]:
    """Tables whose rows per month dropped sharply. ``monthly_rows``: per table, (month
    'YYYY-MM', rows) for complete months in time order."""
    out = []
    for table, series in monthly_rows.items():
        counts = [int(n) for _, n in series]
        if len(counts) < recent + 3:
            continue
        latest = counts[-recent:]
        before = counts[-recent - baseline : -recent]
        expected = float(np.median(before))
        if expected <= 0:
            continue
        mean = float(np.mean(latest))
        shortfall = expected - mean
        noise = math.sqrt(expected / recent)
        if mean < (1.0 - max_drop) * expected and shortfall > z * noise:
            months = ", ".join(f"{m}: {n:,}" for m, n in list(series)[-recent:])
            out.append(
                Finding(
                    "table_volume",
                    table,
                    f"table {table} has {mean:,.0f} rows a month over its last {recent} "
                    f"complete months ({months}), {shortfall / expected:.0%} below the "
                    f"{expected:,.0f} of the months before: check the pipeline that loads it",
                )
            )
    return out


def drift_on_gain(rows: Sequence[DriftRow], max_share: float = 0.5) -> list[Finding]:
    """One finding when the drifted features carry at least ``max_share`` of the gain."""
    drifted: dict[str, float] = {}
    for row in rows:
        if row.drifted:
            drifted[row.feature] = row.gain_share or 0.0
    total = sum(drifted.values())
    if total < max_share:
        return []
    names = sorted(drifted, key=lambda n: -drifted[n])
    listed = ", ".join(f"{n} ({drifted[n]:.0%})" for n in names[:8])
    return [
        Finding(
            "drift_on_gain",
            ",".join(names),
            f"features carrying {total:.0%} of the champion's gain drifted beyond threshold "
            f"in the latest snapshot: {listed}; check these sources before promoting",
        )
    ]


def _distinct(values: np.ndarray) -> int:
    array = np.asarray(values)
    if array.dtype == object:
        return len({v for v in array.tolist() if v is not None})
    numbers = array.astype(np.float64)
    return len(np.unique(numbers[~np.isnan(numbers)]))
