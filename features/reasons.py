"""Reasons a CS manager can act on, from one model's SHAP contributions.

Shared by serving (every scored account) and training (the top-risk report), so it lives
with the feature metadata it reads. Pure: arrays in, lists of dicts out.

- **One reason per signal.** Features carrying one signal (``FeatureSpec.signal``, see
  ``features.signals``) are one driver whose contribution is the sum of its members' SHAP
  values, so the drivers of a row still add up to raw score minus base value. Its sentence
  names the member that pushes hardest in the driver's direction.
- **Context vs. actionable.** Context signals (renewal timing, size, tenure, segment: when
  and how much) are reported as ``context``; the ``main_reason`` is an actionable driver
  (usage, champions, consumption, support, voice of the customer, payments, CS engagement)
  raising the score.
- **The main reason is the cause family that is unusual.** A churn model leans on the
  usage measures it finds most predictive (per-seat consumption, core breadth), which push
  the risk of nearly every risky account up; a champion gone or payments late moves the
  score less but is what sets the account apart. So the main reason is chosen in two steps.
  First the *family* (usage depth, champions, consumption, support, voice of the customer,
  payments, engagement): each family's push is the sum of its actionable signals'
  contributions, measured against the training book with the model's ``family_spread``
  (per family: the median push and its standard deviation over the explained training
  rows): ``(push - median) / sd``, how many of its own spreads the family's push lies above
  an ordinary account's. The family with the largest such score among those whose push
  raises the score and which hold an eligible signal wins. Then, within it, the eligible
  signal raising the score most names the reason. Eligible: actionable, raising the score by
  at least ``min_contribution``, its named value present (or the contribution reaching
  ``missing_main_min``). The score has no constant in log-odds: a refit that moves a
  family's contributions by any factor moves its yardstick by the same factor, so which
  family is named does not depend on how widely one fit spreads a family. (Session 8's
  bundles hold a ``family_scale``, the median and 1.4826 x the median absolute deviation,
  read as ``(push - median) / (spread + scale_floor)``: for a family most accounts leave at
  one value, such as champions, the deviation is near 0, so the log-odds floor decided, and
  the champions' spread moving from 0.07 to 0.16 between two fits of one book halved their
  score.) Bundles with only a ``signal_scale`` (trained before families were scaled) keep
  the older rule: the eligible signal whose push is most unusual,
  ``(contribution - mean) / (spread + scale_floor)``, among those raising the score by at
  least ``main_share`` of the largest actionable push; without any scale, the largest
  actionable push.
- **Yardsticks.** An actionable reason says whether its value is unusual: against the
  account's own past (the signal's trend member: "down 40% on the previous 30 days") and
  against its peers (the training distribution of the same segment, ``PeerReference``:
  "lower than 85% of mid-market accounts").
- **No noise.** Drivers whose contribution is under ``min_contribution`` log-odds are not
  listed, nor features ``unavailable`` in the book (null for every account: a table or
  column the source lacks, which says nothing about one account); a missing value is
  phrased as what it means and is a main reason only when its contribution reaches
  ``missing_main_min``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.metadata import FeatureSpec, format_value, render_reason
from features.signals import TREND_WINDOWS, trend_clause

PEER_LEVELS: tuple[float, ...] = tuple(i / 20 for i in range(21))
"""Quantile levels stored per feature and peer group (every 5%)."""
MIN_PEERS = 30
"""A peer group with fewer training rows is not stored; its accounts compare with all."""
ALL = "all"
UNUSUAL = 0.75
"""A value is called unusual when at least this share of peers lies on one side of it."""
NO_YARDSTICK_UNITS = frozenset({"flag", "category"})
MAX_CACHED_TEXTS = 200_000


# ---- peers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerReference:
    """Training quantiles (``PEER_LEVELS``) of each numeric feature, over all rows and per
    peer group (the values of column ``by``, e.g. each segment)."""

    by: str | None
    quantiles: dict[str, dict[str, list[float]]]
    """feature -> peer group (or ``all``) -> quantiles at ``PEER_LEVELS``."""

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "levels": list(PEER_LEVELS), "quantiles": self.quantiles}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PeerReference | None:
        if not data or list(data.get("levels", [])) != list(PEER_LEVELS):
            return None
        return cls(data.get("by"), dict(data.get("quantiles", {})))

    def shares(self, feature: str, group: str | None, value: float) -> tuple[float, str] | None:
        """(share of peers below ``value``, share above it) as one signed number and the
        peer group used: positive = share above (the value is low), negative = share below
        (high). None without quantiles."""
        per_group = self.quantiles.get(feature)
        if not per_group:
            return None
        used = group if group is not None and group in per_group else ALL
        grid = per_group.get(used)
        if not grid:
            return None
        q = np.asarray(grid, dtype=np.float64)
        below = _share_below(q, value)
        above = 1.0 - _share_at_or_below(q, value)
        return (above if above >= below else -below), used


def _share_below(q: np.ndarray, value: float) -> float:
    """Share of the distribution strictly below ``value``: linear between two quantiles; at a
    value the grid holds (an atom, e.g. a count of 0), the share the grid guarantees."""
    i = int(np.searchsorted(q, value, "left"))
    if i == 0:
        return 0.0
    if i == len(q):
        return 1.0
    if q[i] == value:
        return PEER_LEVELS[i - 1]
    return _between(q, i, value)


def _share_at_or_below(q: np.ndarray, value: float) -> float:
    """Share at or below ``value``; at a value the grid holds, the largest share it allows
    (so the share above is the one the grid guarantees)."""
    i = int(np.searchsorted(q, value, "right"))
    if i == 0:
        return 0.0
    if i == len(q):
        return 1.0
    if q[i - 1] == value:
        return PEER_LEVELS[i]
    return _between(q, i, value)


def _between(q: np.ndarray, i: int, value: float) -> float:
    lo, hi = q[i - 1], q[i]
    return PEER_LEVELS[i - 1] + (PEER_LEVELS[i] - PEER_LEVELS[i - 1]) * (value - lo) / (hi - lo)


def peer_reference(
    matrix: np.ndarray,
    names: Sequence[str],
    numeric: Sequence[bool],
    groups: np.ndarray | None,
    by: str | None = "segment",
    max_rows: int = 200_000,
    seed: int = 0,
) -> PeerReference:
    """Quantiles of each numeric column of ``matrix`` over its non-null training values
    (observed values: the inverse of the empirical CDF), for all rows and per value of
    ``groups`` (groups under ``MIN_PEERS`` rows are left out). At
    most ``max_rows`` rows are read (a seeded sample)."""
    rows = np.arange(len(matrix))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    sample = matrix[rows]
    labels = None if groups is None else np.asarray(groups, dtype=object)[rows]
    peer_sets: dict[str, np.ndarray] = {ALL: np.ones(len(rows), dtype=bool)}
    if labels is not None:
        for value in sorted({v for v in labels.tolist() if v is not None}):
            mask = labels == value
            if mask.sum() >= MIN_PEERS:
                peer_sets[str(value)] = mask
    out: dict[str, dict[str, list[float]]] = {}
    for j, (name, is_number) in enumerate(zip(names, numeric, strict=True)):
        if not is_number:
            continue
        column = sample[:, j]
        per_group = {}
        for group, mask in peer_sets.items():
            values = column[mask]
            values = values[~np.isnan(values)]
            if len(values) >= MIN_PEERS:
                grid = np.quantile(values, PEER_LEVELS, method="inverted_cdf")
                per_group[group] = [float(v) for v in grid]
        if per_group:
            out[name] = per_group
    return PeerReference(by if labels is not None else None, out)


# ---- signals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonConfig:
    min_contribution: float = 0.02
    """Drivers under this many log-odds (absolute) are not listed."""
    missing_main_min: float = 0.25
    """A driver whose named value is missing is a main reason only from this contribution."""
    context_k: int = 2
    """Context facts reported beside the main reason."""
    scale_floor: float = 0.03
    """Older bundles (``family_scale`` or ``signal_scale``, no ``family_spread``): log-odds
    added to a family's (or signal's) spread, so one that almost never moves the score does
    not win on a tiny push. Chosen on ``bench reasons`` seed 11 in session 8."""
    main_share: float = 0.25
    """Older bundles (``signal_scale`` only): a main reason raises the score by at least this
    share of the largest actionable push."""


@dataclass(frozen=True)
class Signal:
    name: str
    members: tuple[int, ...]
    """Model column indices, in model order."""
    actionable: bool
    trend: int
    """Column index of the member that compares the account with its own past; -1: none."""


@dataclass
class Reasons:
    """Per row: the drivers up and down (signals), the main reason, the context facts, and
    the actionable signals raising the score (for playbooks)."""

    up: list[list[dict[str, Any]]]
    down: list[list[dict[str, Any]]]
    main: list[dict[str, Any] | None]
    context: list[list[dict[str, Any]]]
    actionable_up: list[list[dict[str, Any]]]
    actionable_columns: np.ndarray
    """(n, k) model column index of the named member of each of ``actionable_up``'s
    signals; -1 where fewer (for playbooks' array matching)."""
    signal_contributions: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    """(n, signals) summed contributions (noise included)."""
    named: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    """(n, signals) model column of the member naming each signal (``named_members``)."""
    values: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    """(n, signals) encoded value of that member (``decode`` reads it)."""


class ReasonBook:
    """How one model's columns group into signals, and how their values read."""

    def __init__(
        self,
        names: Sequence[str],
        specs: Sequence[FeatureSpec | None],
        categories: Sequence[tuple[str, ...] | None],
        reference: PeerReference | None = None,
        config: ReasonConfig | None = None,
        scale: Mapping[str, Sequence[float]] | None = None,
        family_scale: Mapping[str, Sequence[float]] | None = None,
        family_spread: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        """``scale``: per signal name, the mean and standard deviation of its contribution
        over the training book (``signal_scale``); missing signals count as (0, 0).
        ``family_scale`` (bundles of session 8): per family, the median and robust spread of
        its actionable push over the training book; missing families count as (0, 0).
        ``family_spread``: per family, the median and standard deviation of its push over the
        training book (``family_spread_of``); a missing family counts as (0, 0), a family
        that never moves, and is never credited as unusual."""
        self.names = list(names)
        self.specs = list(specs)
        self.categories = list(categories)
        self.reference = reference
        self.config = config or ReasonConfig()
        by_signal: dict[str, list[int]] = {}
        for j, (name, spec) in enumerate(zip(self.names, self.specs, strict=True)):
            by_signal.setdefault(spec.signal if spec else name, []).append(j)
        self.signals: list[Signal] = []
        for signal, members in by_signal.items():
            member_specs = [self.specs[j] for j in members]
            trend = next((j for j in members if self.names[j] in TREND_WINDOWS), -1)
            self.signals.append(
                Signal(
                    signal,
                    tuple(members),
                    all(s is None or s.actionable for s in member_specs),
                    trend,
                )
            )
        self.membership = np.zeros((len(self.names), len(self.signals)))
        for g, grouped in enumerate(self.signals):
            self.membership[list(grouped.members), g] = 1.0
        self.actionable = np.array([s.actionable for s in self.signals], dtype=bool)
        self.signal_family: list[str | None] = [
            _family(self.specs, s.members) for s in self.signals
        ]
        self.families: list[str] = sorted(
            {f for f, a in zip(self.signal_family, self.actionable, strict=True) if a and f}
        )
        """The actionable families, each a column of ``family_contributions``."""
        self.family_membership = np.zeros((len(self.signals), len(self.families)))
        for g, family in enumerate(self.signal_family):
            if self.actionable[g] and family in self.families:
                self.family_membership[g, self.families.index(family)] = 1.0
        self._multi = [
            (g, np.asarray(s.members)) for g, s in enumerate(self.signals) if len(s.members) > 1
        ]
        self._single = np.array(
            [s.members[0] if len(s.members) == 1 else -1 for s in self.signals], dtype=np.int64
        )
        self._texts: dict[tuple[Any, ...], str] = {}
        self.unavailable = np.zeros(len(self.names), dtype=bool)
        """Columns null on every row of the book (``mark_unavailable``): never named."""
        self.scale: tuple[np.ndarray, np.ndarray] | None = None
        if scale:
            pairs = [tuple(scale.get(s.name, (0.0, 0.0))) for s in self.signals]
            self.scale = (
                np.array([p[0] for p in pairs], dtype=np.float64),
                np.array([p[1] for p in pairs], dtype=np.float64),
            )
        self.family_scale = self._per_family(family_scale)
        self.family_spread = self._per_family(family_spread)

    def _per_family(
        self, stats: Mapping[str, Sequence[float]] | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(centre, spread) arrays in ``families`` order; (0, 0) for a family not given."""
        if not stats:
            return None
        pairs = [tuple(stats.get(f, (0.0, 0.0))) for f in self.families]
        return (
            np.array([p[0] for p in pairs], dtype=np.float64),
            np.array([p[1] for p in pairs], dtype=np.float64),
        )

    # -- arithmetic ------------------------------------------------------------------------

    def signal_contributions(self, contributions: np.ndarray) -> np.ndarray:
        """(n, signals): each signal's summed SHAP contribution (additivity kept)."""
        return contributions @ self.membership

    def signal_scale(self, contributions: np.ndarray) -> dict[str, list[float]]:
        """Per signal, the mean and standard deviation of its summed contribution over the
        rows of ``contributions`` (the model's book): stored as the bundle's
        ``signal_scale``."""
        summed = self.signal_contributions(contributions)
        mean, spread = summed.mean(axis=0), summed.std(axis=0)
        return {
            s.name: [round(float(m), 6), round(float(d), 6)]
            for s, m, d in zip(self.signals, mean, spread, strict=True)
        }

    def family_contributions(self, summed: np.ndarray) -> np.ndarray:
        """(n, families): each actionable family's push, the sum of its actionable signals'
        contributions (``summed``: ``signal_contributions``)."""
        return summed @ self.family_membership

    def family_spread_of(self, contributions: np.ndarray) -> dict[str, list[float]]:
        """Per actionable family, the median and standard deviation of its push over the
        rows of ``contributions`` (the model's book): stored as the bundle's
        ``family_spread``, the yardstick of ``standardised_pushes``."""
        pushes = self.family_contributions(self.signal_contributions(contributions))
        if not len(pushes):
            return {}
        median, spread = np.median(pushes, axis=0), pushes.std(axis=0)
        return {
            f: [round(float(m), 6), round(float(d), 6)]
            for f, m, d in zip(self.families, median, spread, strict=True)
        }

    def standardised_pushes(self, summed: np.ndarray) -> np.ndarray:
        """(n, families): how many of its book's standard deviations each family's push lies
        above the book's median push, ``(push - median) / sd`` (``family_spread``); -inf for
        a family whose push never moved on the book (sd 0). Unchanged when a refit scales a
        family's contributions by any factor: the push and its yardstick scale together."""
        assert self.family_spread is not None
        median, spread = self.family_spread
        pushes = self.family_contributions(summed)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = (pushes - median) / spread
        return np.where(spread > 0, score, -np.inf)

    def mark_unavailable(self, matrix: np.ndarray) -> None:
        """Remember the columns null on every row of ``matrix`` (a book of accounts): a
        feature nobody has a value for is never named, here or in later what-if rows."""
        self.unavailable = np.isnan(matrix).all(axis=0) if len(matrix) else self.unavailable

    def named_members(self, contributions: np.ndarray, summed: np.ndarray) -> np.ndarray:
        """(n, signals) column index of the member pushing hardest in the direction of its
        signal's sum (largest for a signal raising the score, most negative otherwise);
        unavailable members are passed over while another member is available."""
        n = len(contributions)
        out = np.broadcast_to(self._single, (n, len(self.signals))).copy()
        for g, members in self._multi:
            sub = contributions[:, members]
            away = self.unavailable[members]
            if away.any() and not away.all():
                up = members[np.argmax(np.where(away, -np.inf, sub), axis=1)]
                down = members[np.argmin(np.where(away, np.inf, sub), axis=1)]
            else:
                up = members[np.argmax(sub, axis=1)]
                down = members[np.argmin(sub, axis=1)]
            out[:, g] = np.where(summed[:, g] >= 0, up, down)
        return out

    # -- the reasons of rows ---------------------------------------------------------------

    def explain(
        self,
        contributions: np.ndarray,
        matrix: np.ndarray,
        top_k: int,
        peers: Sequence[Any] | np.ndarray | None = None,
        config: ReasonConfig | None = None,
    ) -> Reasons:
        """The reasons of every row: ``contributions`` (n, features) SHAP values in log-odds,
        ``matrix`` the encoded model matrix, ``peers`` each row's peer group (its segment);
        ``config`` overrides the book's."""
        cfg = config or self.config
        n = len(contributions)
        summed = self.signal_contributions(contributions)
        named = self.named_members(contributions, summed)
        strong = (np.abs(summed) >= cfg.min_contribution) & ~self._unavailable_signals()
        values = matrix[np.arange(n)[:, None], named]
        missing = np.isnan(values)
        listed = np.where(strong, summed, 0.0)
        up, down = top_columns(listed, top_k)
        raising = strong & (summed > 0)
        actionable_up, _ = top_columns(np.where(raising & self.actionable, summed, 0.0), top_k)
        context_up, _ = top_columns(
            np.where(raising & ~self.actionable, summed, 0.0), cfg.context_k
        )
        main = self._main(summed, raising, missing, cfg)

        peer_list = [None] * n if peers is None else list(peers)
        rows = _RowData(summed, named, values, matrix)
        out_up, out_down, out_main, out_context, out_act = [], [], [], [], []
        act_columns = np.full(actionable_up.shape, -1, dtype=np.int64)
        for i in range(n):
            peer = peer_list[i]
            out_up.append(self._drivers(rows, i, up[i], peer))
            out_down.append(self._drivers(rows, i, down[i], peer))
            out_context.append(self._drivers(rows, i, context_up[i], peer))
            acts = self._drivers(rows, i, actionable_up[i], peer)
            out_act.append(acts)
            for slot, g in enumerate(actionable_up[i].tolist()):
                if g >= 0:
                    act_columns[i, slot] = named[i, g]
            g = int(main[i])
            out_main.append(self._driver(rows, i, g, peer) if g >= 0 else None)
        return Reasons(
            out_up, out_down, out_main, out_context, out_act, act_columns, summed, named, values
        )

    def _unavailable_signals(self) -> np.ndarray:
        """(signals,) True for a signal all of whose members are unavailable."""
        return np.array([self.unavailable[list(s.members)].all() for s in self.signals])

    def _main(
        self, summed: np.ndarray, raising: np.ndarray, missing: np.ndarray, cfg: ReasonConfig
    ) -> np.ndarray:
        """Each row's main reason (signal index, -1: none); see the module docs."""
        eligible = raising & self.actionable & (~missing | (summed >= cfg.missing_main_min))
        if self.family_spread is not None and self.families:
            return self._main_by_family(summed, eligible, self.standardised_pushes(summed))
        if self.family_scale is not None and self.families:
            median, spread = self.family_scale
            score = (self.family_contributions(summed) - median) / (spread + cfg.scale_floor)
            return self._main_by_family(summed, eligible, score)
        largest = np.max(np.where(eligible, summed, 0.0), axis=1, keepdims=True)
        eligible &= summed >= cfg.main_share * largest
        if self.scale is None:
            score = summed
        else:
            mean, spread = self.scale
            score = (summed - mean) / (spread + cfg.scale_floor)
        candidates = np.where(eligible, score, -np.inf)
        return np.where(eligible.any(axis=1), np.argmax(candidates, axis=1), -1)

    def _main_by_family(
        self, summed: np.ndarray, eligible: np.ndarray, score: np.ndarray
    ) -> np.ndarray:
        """The family with the highest ``score`` (n, families: how unusual its push is)
        among those pushing the score up and holding an eligible signal, then its largest
        eligible signal (see the module docs)."""
        pushes = self.family_contributions(summed)
        holds = (eligible.astype(np.float64) @ self.family_membership) > 0
        candidates = np.where(holds & (pushes > 0), score, -np.inf)
        family = np.argmax(candidates, axis=1)
        found = np.isfinite(candidates[np.arange(len(summed)), family])
        in_family = self.family_membership[:, family].T > 0  # (n, signals)
        signal = np.argmax(np.where(eligible & in_family, summed, -np.inf), axis=1)
        # no family pushes up on balance: the largest eligible push, as without a scale
        largest = np.argmax(np.where(eligible, summed, -np.inf), axis=1)
        return np.where(found, signal, np.where(eligible.any(axis=1), largest, -1))

    def _drivers(
        self, rows: _RowData, i: int, signals: np.ndarray, peer: Any
    ) -> list[dict[str, Any]]:
        return [self._driver(rows, i, g, peer) for g in signals.tolist() if g >= 0]

    def _driver(self, rows: _RowData, i: int, g: int, peer: Any) -> dict[str, Any]:
        signal = self.signals[g]
        j = int(rows.named[i, g])
        value = self.decode(j, rows.values[i, g])
        trend_value = None
        if signal.trend >= 0 and signal.trend != j:
            raw = rows.matrix[i, signal.trend]
            trend_value = None if raw != raw else float(raw)
        spec = self.specs[j]
        return {
            "feature": self.names[j],
            "family": spec.family if spec else None,
            "signal": signal.name,
            "role": "actionable" if signal.actionable else "context",
            "value": value,
            "contribution": float(rows.summed[i, g]),
            "reason": self.reason(j, value, peer, signal.trend, trend_value),
        }

    def decode(self, j: int, encoded: float) -> float | str | None:
        """The value of column ``j`` as the model saw it: a number, a category, None."""
        if encoded != encoded:
            return None
        cats = self.categories[j]
        if cats is not None:
            return cats[int(encoded)]
        return float(encoded)

    def reason(
        self,
        j: int,
        value: float | str | None,
        peer: Any = None,
        trend: int = -1,
        trend_value: float | None = None,
    ) -> str:
        """The sentence of column ``j`` at ``value``, with its yardsticks (rendered once per
        distinct input)."""
        key = (j, value, peer, trend, trend_value)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= MAX_CACHED_TEXTS:  # what-if values are unbounded
                self._texts.clear()
            text = self._texts[key] = self._render(j, value, peer, trend, trend_value)
        return text

    def _render(
        self, j: int, value: float | str | None, peer: Any, trend: int, trend_value: float | None
    ) -> str:
        spec = self.specs[j]
        if spec is None:  # a column of a plain table (tabular mode): no metadata to word it
            unit = "category" if isinstance(value, str) else "score"
            shown = "not recorded" if value is None else format_value(value, unit)
            return f"{self.names[j]} is {shown}"
        base = render_reason(spec, value)
        if value is None or not spec.actionable:
            return base
        clauses = []
        if trend_value is not None:
            clause = trend_clause(self.names[trend], trend_value)
            if clause:
                clauses.append(clause)
        if (
            self.reference is not None
            and spec.unit not in NO_YARDSTICK_UNITS
            and isinstance(value, float)
        ):
            clause = peer_clause(self.reference, self.names[j], peer, value)
            if clause:
                clauses.append(clause)
        return f"{base} ({'; '.join(clauses)})" if clauses else base


def _family(specs: Sequence[FeatureSpec | None], members: Sequence[int]) -> str | None:
    """The family of a signal: its first member's with metadata."""
    for j in members:
        spec = specs[j]
        if spec is not None:
            return spec.family
    return None


@dataclass(frozen=True)
class _RowData:
    summed: np.ndarray
    named: np.ndarray
    values: np.ndarray
    matrix: np.ndarray


def peer_clause(reference: PeerReference, feature: str, peer: Any, value: float) -> str | None:
    """ "lower than 85% of mid-market accounts", "higher than 90% of accounts", "typical of
    smb accounts"; None without quantiles for the feature."""
    found = reference.shares(feature, None if peer is None else str(peer), value)
    if found is None:
        return None
    share, group = found
    who = "accounts" if group == ALL else f"{group.replace('_', '-')} accounts"
    if share >= UNUSUAL:
        return f"lower than {share:.0%} of {who}"
    if -share >= UNUSUAL:
        return f"higher than {-share:.0%} of {who}"
    return f"typical of {who}"


def top_columns(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) column indices of each row's k largest positive values (up, largest first)
    and k most negative ones (down, most negative first); -1 after the last one of the
    right sign. One sort serves both."""
    n, f = contributions.shape
    k = min(k, f)
    order = np.argsort(contributions, axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    down = order[:, :k].copy()
    up = order[:, ::-1][:, :k].copy()
    down[contributions[rows, down] >= 0] = -1
    up[contributions[rows, up] <= 0] = -1
    return up, down
