"""Reference profiles: the training distribution of every model feature and of the scores.

A profile is written into each registered model's bundle (``metadata["profile"]``) and
logged as the MLflow artifact ``monitoring/profile-<label>.json``. Per column it holds a
``Histogram``:

- numbers: bins cut at the training quantiles every 5% (``features.reasons.peer_reference``,
  the quantiles the reasons' peer comparisons use; equal cuts merge, so an atom such as a
  count of 0 is one bin), the share of training rows in each bin and the null share;
- text (categorical features): the share of each of the ``MAX_CATEGORIES`` most frequent
  categories, of every other value (``(other)``) and of null;
- ``natural``: per drift statistic, the largest excess over chance that the latest
  ``RECENT_SNAPSHOTS`` training snapshots showed against the pooled reference (see
  ``monitoring.drift``): how much the book moves from month to month by itself.

The scores' histograms are built the same way from the calibrated probabilities of the
training rows.

The rows are the model's labeled training rows (every snapshot it learned from); nothing
here reads a label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from features.model_bundle import FeatureColumn, encode
from features.reasons import ALL, peer_reference
from monitoring import divergence

PROFILE_FORMAT = 1
MAX_CATEGORIES = 20
RECENT_SNAPSHOTS = 12
MAX_LAG = 9
"""The longest gap (in snapshots) whose natural movement a profile measures; a snapshot
further from training is held to the movement of this gap."""
NULL = "(null)"
OTHER = "(other)"
ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Histogram:
    """One column's reference distribution: bins, the share of rows in each (the null bin
    last), the rows it was measured on and the natural month-to-month excess per statistic."""

    kind: ColumnKind
    shares: tuple[float, ...]
    rows: int
    edges: tuple[float, ...] = ()
    """Numbers: the cuts; bin i holds edges[i-1] < v <= edges[i] (the first bin v <= edges[0],
    the last non-null bin v > edges[-1])."""
    categories: tuple[str, ...] = ()
    """Text: one bin per category, then ``(other)``."""
    natural: dict[str, float] = field(default_factory=dict)
    recent: tuple[float, ...] = ()
    """The shares of the latest ``RECENT_SNAPSHOTS`` training snapshots pooled, in the same
    bins (empty without dates): what a served snapshot is compared with."""
    recent_rows: int = 0
    natural_lag: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per lag in snapshots ("0" .. ``MAX_LAG``), per statistic: the largest excess over
    chance of a training snapshot against the pool of the ``RECENT_SNAPSHOTS`` snapshots
    ending that many snapshots before it (how far the book moves by itself in that time)."""
    effective_rows: int = 0
    """The independent rows the shares rest on, for the chance threshold, when the reference
    pools snapshots of the same accounts (``effective_rows()``: a seat count that never
    changes is one observation per account, not one per snapshot); 0 = ``rows``."""

    @property
    def sample_rows(self) -> int:
        """``effective_rows`` when known, else ``rows``."""
        return self.effective_rows or self.rows

    @property
    def recent_sample_rows(self) -> int:
        """The independent rows of the recent pool (its rows times the profile's ratio of
        effective to actual rows)."""
        ratio = self.sample_rows / self.rows if self.rows else 1.0
        return max(1, round(self.recent_rows * ratio))

    @property
    def null_share(self) -> float:
        return self.shares[-1]

    @property
    def bins(self) -> int:
        return len(self.shares)

    def labels(self) -> list[str]:
        """A readable name of each bin (for reports)."""
        if self.kind == "categorical":
            return [*self.categories, OTHER, NULL]
        edges = [f"{e:.4g}" for e in self.edges]
        if not edges:
            return ["all", NULL]
        middle = [f"({a}, {b}]" for a, b in pairwise(edges)]
        return [f"<= {edges[0]}", *middle, f"> {edges[-1]}", NULL]

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The bin of each of ``values`` (numbers: floats with NaN for null; text: objects
        with None for null); the null bin is the last."""
        if self.kind == "categorical":
            return _category_codes(values, self.categories)
        return _numeric_codes(np.asarray(values, dtype=np.float64), np.asarray(self.edges))

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Rows of ``values`` in each bin."""
        bins = len(self.categories) + 2 if self.kind == "categorical" else len(self.edges) + 2
        return np.bincount(self.codes(values), minlength=bins).astype(np.float64)

    def reference_counts(self) -> np.ndarray:
        return np.asarray(self.shares) * self.rows

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "rows": self.rows}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        else:
            out["edges"] = [float(e) for e in self.edges]
        out["shares"] = [round(float(s), 8) for s in self.shares]
        out["natural"] = {k: round(float(v), 8) for k, v in self.natural.items()}
        if self.effective_rows:
            out["effective_rows"] = self.effective_rows
        if self.recent:
            out["recent"] = [round(float(v), 8) for v in self.recent]
            out["recent_rows"] = self.recent_rows
            out["natural_lag"] = {
                lag: {k: round(float(v), 8) for k, v in stats.items()}
                for lag, stats in self.natural_lag.items()
            }
        return out

    def natural_at(self, lag: int) -> dict[str, float]:
        """The natural excess per statistic at ``lag`` snapshots (the largest lag measured
        beyond it)."""
        if not self.natural_lag:
            return {}
        known = sorted(int(k) for k in self.natural_lag)
        return self.natural_lag[str(min(max(lag, 0), known[-1]))]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            kind=data["kind"],
            shares=tuple(float(s) for s in data["shares"]),
            rows=int(data["rows"]),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(str(c) for c in data.get("categories", ())),
            natural={k: float(v) for k, v in (data.get("natural") or {}).items()},
            effective_rows=int(data.get("effective_rows", 0)),
            recent=tuple(float(v) for v in data.get("recent", ())),
            recent_rows=int(data.get("recent_rows", 0)),
            natural_lag={
                str(lag): {k: float(v) for k, v in stats.items()}
                for lag, stats in (data.get("natural_lag") or {}).items()
            },
        )


@dataclass(frozen=True)
class ReferenceProfile:
    """The training distribution of a model's features and of the scores."""

    features: dict[str, Histogram]
    scores: dict[str, Histogram]
    """label -> histogram of that model's calibrated probability."""
    rows: int
    snapshots: tuple[str, ...] = ()
    """The snapshot dates pooled (YYYY-MM-DD); empty for a table without dates."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "rows": self.rows,
            "snapshots": list(self.snapshots),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReferenceProfile | None:
        """The profile stored by ``to_dict``; None for a bundle without one (trained before
        profiles existed) or of another format."""
        if not data or data.get("format") != PROFILE_FORMAT:
            return None
        return cls(
            features={k: Histogram.from_dict(v) for k, v in data.get("features", {}).items()},
            scores={k: Histogram.from_dict(v) for k, v in data.get("scores", {}).items()},
            rows=int(data.get("rows", 0)),
            snapshots=tuple(data.get("snapshots", ())),
        )


# ---- values of a frame ------------------------------------------------------------------------


def column_values(frame: Any, columns: Sequence[FeatureColumn]) -> dict[str, np.ndarray]:
    """Per model column, the values a histogram reads: numbers and derived columns as the
    model encodes them (floats, NaN for null), categorical columns as their text (objects,
    None for null; a value the model never saw stays itself, so it lands in ``(other)``).

    ``frame``: a pyarrow Table or a pandas DataFrame of feature rows."""
    numeric = [c for c in columns if c.kind != "categorical"]
    out: dict[str, np.ndarray] = {}
    matrix = encode(frame, numeric)
    for j, column in enumerate(numeric):
        out[column.name] = matrix[:, j]
    for column in columns:
        if column.kind == "categorical":
            out[column.name] = text_values(frame, column.name)
    return {c.name: out[c.name] for c in columns}


def text_values(frame: Any, name: str) -> np.ndarray:
    """Column ``name`` of ``frame`` as text objects (None for null or a missing column)."""
    if hasattr(frame, "schema") and hasattr(frame, "num_rows"):
        if name not in frame.schema.names:
            return np.full(frame.num_rows, None, dtype=object)
        values = frame.column(name).to_pylist()
    else:
        if name not in frame.columns:
            return np.full(len(frame), None, dtype=object)
        values = list(frame[name])
    return np.asarray([None if v is None or v != v else str(v) for v in values], dtype=object)


# ---- building ---------------------------------------------------------------------------------


def build_histogram(
    values: np.ndarray,
    kind: ColumnKind,
    snapshot_date: np.ndarray | None = None,
    recent: int = RECENT_SNAPSHOTS,
    draws: int = 200,
    seed: int = 0,
    account: np.ndarray | None = None,
) -> Histogram:
    """The histogram of one column's training ``values`` (see the module docs), with the
    natural excess of the latest ``recent`` snapshots when ``snapshot_date`` is given;
    ``account``: the account of each row, when accounts repeat (``effective_rows``)."""
    if kind == "categorical":
        present = [v for v in values.tolist() if v is not None]
        names, counts = np.unique(np.asarray(present, dtype=str), return_counts=True)
        ranked = sorted(zip(names.tolist(), counts.tolist(), strict=True), key=lambda x: -x[1])
        bare = Histogram(
            "categorical",
            (),
            len(values),
            categories=tuple(name for name, _ in ranked[:MAX_CATEGORIES]),
        )
    else:
        numbers = np.asarray(values, dtype=np.float64)
        bare = Histogram("numeric", (), len(values), edges=_edges(numbers))
    codes = bare.codes(values)
    counts = np.bincount(
        codes, minlength=len(bare.edges) + 2 if bare.kind == "numeric" else len(bare.categories) + 2
    ).astype(np.float64)
    independent = 0 if account is None else effective_rows(codes, len(counts), account)
    hist = Histogram(
        bare.kind,
        tuple(float(s) for s in divergence.shares(counts)),
        len(values),
        bare.edges,
        bare.categories,
        effective_rows=independent,
    )
    if snapshot_date is None or len(values) == 0:
        return hist
    per_snapshot = snapshot_counts(codes, len(counts), snapshot_date)
    pooled = per_snapshot[-recent:].sum(axis=0)
    hist = replace(
        hist,
        natural=natural_excess(hist, per_snapshot, recent, draws, seed),
        recent=tuple(float(v) for v in divergence.shares(pooled)),
        recent_rows=int(pooled.sum()),
    )
    return replace(hist, natural_lag=lagged_excess(hist, per_snapshot, recent, draws, seed))


def lagged_excess(
    hist: Histogram, counts: np.ndarray, recent: int, draws: int, seed: int
) -> dict[str, dict[str, float]]:
    """Per lag 0..``MAX_LAG`` (in snapshots) and statistic: the largest (value - its median
    by chance) of snapshot t against the pool of the ``recent`` snapshots ending at t - lag
    (at lag 0 the pool holds t), over the latest ``recent`` snapshots t that have one
    snapshot or more before the lag."""
    rng = np.random.default_rng(seed + 1)
    days = counts.shape[0]
    cumulative = np.vstack([np.zeros(hist.bins), np.cumsum(counts, axis=0)])
    # The pools and the snapshots have about the same shares and sizes from pair to pair:
    # one chance level serves every pair (one bootstrap per column, not one per pair).
    size = max(int(np.median(counts[-recent:].sum(axis=1))), 1)
    chance = divergence.sampling_quantiles(
        list(hist.recent), hist.recent_sample_rows, size, [0.5], draws, rng
    )
    out: dict[str, dict[str, float]] = {}
    for lag in range(0, min(MAX_LAG, days - 1) + 1):
        later = np.arange(max(lag, days - recent), days)
        end = later - lag + 1  # the pool is snapshots [end - recent, end)
        pools = cumulative[end] - cumulative[np.maximum(end - recent, 0)]
        excess = {}
        for name, f in divergence.FUNCTIONS.items():
            values = f(pools, counts[later])
            excess[name] = max(0.0, float(np.max(values)) - float(chance[name][0]))
        out[str(lag)] = excess
    return out


def snapshot_counts(codes: np.ndarray, bins: int, snapshot_date: np.ndarray) -> np.ndarray:
    """Rows per (snapshot, bin), snapshots in date order: shape (snapshots, bins)."""
    days, index = np.unique(snapshot_date, return_inverse=True)
    flat = np.bincount(index.reshape(-1) * bins + codes, minlength=len(days) * bins)
    return flat.reshape(len(days), bins).astype(np.float64)


def natural_excess(
    hist: Histogram, counts: np.ndarray, recent: int, draws: int, seed: int
) -> dict[str, float]:
    """Per statistic, the largest (value - its median by chance at a snapshot's size) over
    the latest ``recent`` snapshots (``counts``: ``snapshot_counts``), each against the
    pooled reference; 0 when none exceeds chance."""
    rng = np.random.default_rng(seed)
    latest = counts[-recent:]
    size = max(int(np.median(latest.sum(axis=1))), 1)
    chance = divergence.sampling_quantiles(hist.shares, hist.sample_rows, size, [0.5], draws, rng)
    reference = hist.reference_counts()[None, :]
    return {
        name: max(0.0, float(np.max(f(reference, latest))) - float(chance[name][0]))
        for name, f in divergence.FUNCTIONS.items()
    }


def build_profile(
    values: Mapping[str, np.ndarray],
    kinds: Mapping[str, ColumnKind],
    scores: Mapping[str, np.ndarray],
    snapshot_date: np.ndarray | None = None,
    recent: int = RECENT_SNAPSHOTS,
    seed: int = 0,
    account: np.ndarray | None = None,
) -> ReferenceProfile:
    """The profile of training rows: ``values`` per feature (``column_values``), their
    ``kinds``, the calibrated probability per label in ``scores``, all row-aligned with
    ``snapshot_date`` (datetime64[D], or None for a table without dates) and ``account`` (the
    account of each row, or None when every row is its own account)."""
    features = {
        name: build_histogram(
            column, kinds[name], snapshot_date, recent, seed=seed, account=account
        )
        for name, column in values.items()
    }
    score_hists = {
        label: build_histogram(
            np.asarray(p, dtype=np.float64),
            "numeric",
            snapshot_date,
            recent,
            seed=seed,
            account=account,
        )
        for label, p in scores.items()
    }
    rows = len(next(iter(values.values()))) if values else 0
    dates = () if snapshot_date is None else tuple(str(d) for d in np.unique(snapshot_date))
    return ReferenceProfile(features, score_hists, rows, dates)


# ---- helpers ----------------------------------------------------------------------------------


def _edges(values: np.ndarray) -> tuple[float, ...]:
    """Cuts at the quantiles every 5% of the non-null values (``peer_reference``), equal
    cuts merged; the 0% and 100% quantiles are not cuts. Under 30 non-null values (``MIN_PEERS``)
    there are no cuts: every value is one bin."""
    reference = peer_reference(values.reshape(-1, 1), ["v"], [True], None)
    grid = reference.quantiles.get("v", {}).get(ALL)
    if not grid:
        return ()
    return tuple(float(v) for v in np.unique(np.asarray(grid[1:-1], dtype=np.float64)))


def _numeric_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    null = np.isnan(values)
    codes = np.searchsorted(edges, np.where(null, 0.0, values), side="left")
    return np.where(null, len(edges) + 1, codes).astype(np.int64)


def _category_codes(values: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    other, null = len(categories), len(categories) + 1
    return np.fromiter(
        (null if v is None else index.get(str(v), other) for v in values.tolist()),
        dtype=np.int64,
        count=len(values),
    )


def effective_rows(codes: np.ndarray, bins: int, account: np.ndarray) -> int:
    """The independent rows that bin ``codes`` of accounts seen several times are worth:
    rows / (1 + (m - 1) ICC), with m the mean rows per account and ICC the share of the
    bin indicators' variance that lies between accounts (one-way ANOVA estimate, summed over
    bins, clipped to [0, 1]). A value fixed per account (ICC 1) counts once per account; a
    value redrawn every snapshot (ICC 0) counts once per row."""
    n = len(codes)
    _, group = np.unique(account, return_inverse=True)
    groups = int(group.max()) + 1 if n else 0
    if n == 0 or groups == n:
        return n
    m = n / groups
    per_group = np.bincount(group).astype(np.float64)
    total = 0.0
    between = 0.0
    for b in range(bins):
        hit = (codes == b).astype(np.float64)
        p = hit.mean()
        if p in (0.0, 1.0):
            continue
        total += p * (1 - p)
        means = np.bincount(group, weights=hit, minlength=groups) / per_group
        between += float(np.sum(per_group * (means - p) ** 2)) / n
    if total == 0.0:
        return n
    icc = float(np.clip((between - total / m) / (total * (1 - 1 / m)), 0.0, 1.0))
    return max(groups, round(n / (1 + (m - 1) * icc)))
