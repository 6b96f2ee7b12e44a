"""Drift of a snapshot against a reference profile, with thresholds that know the sample size.

For every column (feature or score) three statistics (``monitoring.divergence``): PSI,
Jensen-Shannon distance and the change of the null share. A statistic's threshold is

    max(floor, chance quantile at this snapshot's size + natural excess)

- **chance**: the ``1 - alpha`` quantile of the statistic when the snapshot and the
  reference are drawn from the same distribution at their sizes (a multinomial parametric
  bootstrap, ``draws`` pairs; the reference's size is its distinct accounts, since pooled
  snapshots repeat each account). It shrinks as the snapshot grows, which is what makes a
  threshold fit both a 300-account and a 30,000-account book;
- **natural excess**: how far the book moves by itself: a book ages, prices rise, customers
  arrive, and a snapshot that moves no more than training snapshots did is not flagged.
  With the snapshot's distance to the latest training snapshot known (``lag``, in monthly
  snapshots), the snapshot is compared with the pool of the latest 12 training snapshots
  and the excess is the largest one a training snapshot showed against the 12 snapshots
  ending ``lag`` before it (``Histogram.natural_lag``); otherwise with the whole reference
  and the latest snapshots' excess over it (``Histogram.natural``);
- **floor**: a change too small to matter is never flagged, however many rows show it.

``alpha`` is the nominal false-alarm rate of one statistic of one column when the snapshot
is drawn like the training snapshots. Rows are ranked by ``value / threshold`` times the
feature's share of the model's gain: what drifted and matters comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from features.model_bundle import ModelBundle
from monitoring import divergence
from monitoring.profile import Histogram

FLOORS: dict[str, float] = {"psi": 0.02, "js": 0.05, "null_share": 0.01}
"""The smallest value flagged per statistic (PSI 0.02 ~ JS distance 0.05 for small
shifts; one row in a hundred for the null share)."""


@dataclass(frozen=True)
class DriftSettings:
    alpha: float = 0.01
    """Nominal false-alarm rate of one statistic of one column."""
    draws: int = 400
    floors: dict[str, float] = field(default_factory=lambda: dict(FLOORS))
    seed: int = 0


@dataclass(frozen=True)
class DriftRow:
    """One statistic of one column of a snapshot against its reference."""

    feature: str
    statistic: str
    value: float
    threshold: float
    drifted: bool
    gain_share: float | None
    rows: int
    reference_null_share: float
    null_share: float
    chance: float
    """The chance part of the threshold (the 1 - alpha quantile at this size)."""
    natural: float
    """The natural-excess part of the threshold."""

    @property
    def severity(self) -> float:
        """value / threshold, times the gain share when the column has one."""
        ratio = self.value / self.threshold if self.threshold > 0 else 0.0
        return ratio * (1.0 if self.gain_share is None else self.gain_share)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("value", "threshold", "reference_null_share", "null_share", "chance"):
            out[key] = round(float(out[key]), 6)
        out["natural"] = round(float(out["natural"]), 6)
        if self.gain_share is not None:
            out["gain_share"] = round(float(self.gain_share), 6)
        return out


def column_drift(
    name: str,
    reference: Histogram,
    values: np.ndarray,
    settings: DriftSettings,
    gain_share: float | None = None,
    rng: np.random.Generator | None = None,
    lag: int | None = None,
) -> list[DriftRow]:
    """The three statistics of ``values`` against ``reference`` (one row each). With ``lag``
    (snapshots since the latest training snapshot) and a reference with dates, the
    comparison is with the pool of the latest training snapshots and the natural excess is
    the one of that lag; else with the whole reference and its natural excess."""
    rng = rng or np.random.default_rng(settings.seed)
    counts = reference.counts(values)
    rows = int(counts.sum())
    if lag is not None and reference.recent:
        base = np.asarray(reference.recent) * reference.recent_rows
        base_shares, base_rows = reference.recent, reference.recent_sample_rows
        natural_by = reference.natural_at(lag)
    else:
        base = reference.reference_counts()
        base_shares, base_rows = reference.shares, reference.sample_rows
        natural_by = reference.natural
    observed = divergence.statistics(base, counts)
    chance = divergence.sampling_quantiles(
        base_shares, base_rows, rows, [1.0 - settings.alpha], settings.draws, rng
    )
    current_null = float(counts[-1] / rows) if rows else 0.0
    out = []
    for statistic in divergence.STATISTICS:
        by_chance = float(chance[statistic][0])
        natural = float(natural_by.get(statistic, 0.0))
        threshold = max(settings.floors.get(statistic, 0.0), by_chance + natural)
        value = observed[statistic]
        out.append(
            DriftRow(
                feature=name,
                statistic=statistic,
                value=value,
                threshold=threshold,
                drifted=bool(rows > 0 and value > threshold),
                gain_share=gain_share,
                rows=rows,
                reference_null_share=reference.null_share,
                null_share=current_null,
                chance=by_chance,
                natural=natural,
            )
        )
    return out


def feature_drift(
    references: Mapping[str, Histogram],
    values: Mapping[str, np.ndarray],
    gain_shares: Mapping[str, float],
    settings: DriftSettings | None = None,
) -> list[DriftRow]:
    """Drift of every feature of ``references`` that ``values`` holds, ranked (module docs)."""
    settings = settings or DriftSettings()
    rng = np.random.default_rng(settings.seed)
    rows = []
    for name, reference in references.items():
        if name in values:
            rows += column_drift(
                name, reference, values[name], settings, gain_shares.get(name, 0.0), rng
            )
    return rank(rows)


def rank(rows: list[DriftRow]) -> list[DriftRow]:
    """Drifted rows first, then by severity; a feature's rows stay in statistic order."""
    worst: dict[str, tuple[bool, float]] = {}
    for row in rows:
        was = worst.get(row.feature, (False, 0.0))
        worst[row.feature] = (was[0] or row.drifted, max(was[1], row.severity))
    order = {s: i for i, s in enumerate(divergence.STATISTICS)}
    return sorted(
        rows,
        key=lambda r: (
            not worst[r.feature][0],
            -worst[r.feature][1],
            r.feature,
            order.get(r.statistic, 9),
        ),
    )


def gain_shares(bundles: Mapping[str, ModelBundle]) -> dict[str, dict[str, float]]:
    """Per label, each feature's share of its model's importance (sums to 1): the split gain
    of a booster, the mean absolute contribution of an additive model or a blend."""
    out = {}
    for label, bundle in bundles.items():
        gains = np.asarray(bundle.importance(), float)
        total = float(gains.sum()) or 1.0
        out[label] = {
            name: float(g) / total for name, g in zip(bundle.feature_names, gains, strict=True)
        }
    return out


def drifted_features(rows: list[DriftRow]) -> dict[str, float]:
    """Feature -> gain share of each feature with at least one drifted statistic."""
    return {r.feature: r.gain_share or 0.0 for r in rows if r.drifted}
