"""Conformal correction of the forecast's intervals, learned on out-of-time backtests.

The simulated intervals are the spread the model implies; they are right only if the model's
probabilities, sizes and shared shock are. The backtests measure how far the realised totals
fell from the forecast, in units of the interval: a window's *score* for one total is the
distance between the realised value and the expected value, divided by the interval's half
width on that side (``interval_score``: at most 1 exactly when the realised value is inside).

Per horizon and level, the correction factor is the split-conformal quantile of the scores:
the ⌈(n + 1) · level⌉-th smallest of n (``conformal_factor``). Multiplying both half widths
of a new interval by it (``widen``) makes it cover with probability at least ``level`` when
the new window is exchangeable with the backtested ones (the usual conformal guarantee; a
regime the backtests never saw is not covered by it). A factor above 1 widens the intervals,
below 1 narrows them. Pure functions: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TINY = 1e-9
ALL_GROUPS = "(all)"
"""The key, among a horizon's per-total factors, of a total's factor over every group's
scores (for a group the backtests did not have, such as a CSM)."""
TOTAL_OF = {"end_mrr": "nrr"}
"""A corrected total without scores of its own takes another's factor: ending MRR is NRR
times a known start."""


def interval_score(realised: float, expected: float, low: float, high: float) -> float:
    """|realised - expected| in units of the interval's half width on the realised value's
    side (high - expected above, expected - low below); <= 1 iff realised is in [low, high].
    A zero half width scores 0 for a realised value on the expected one, else infinity."""
    gap = abs(realised - expected)
    half = (high - expected) if realised >= expected else (expected - low)
    if half <= TINY:
        return 0.0 if gap <= TINY else math.inf
    return gap / half


def conformal_factor(scores: Sequence[float], level: float) -> float:
    """The split-conformal quantile of ``scores`` at ``level``: the ⌈(n + 1) · level⌉-th
    smallest score (the largest when that rank passes n: with fewer than
    level / (1 - level) scores the guarantee does not hold, and the factor says so only
    through ``IntervalCalibration.scores``)."""
    if not scores:
        raise ValueError("no backtest scores to calibrate on")
    ordered = sorted(scores)
    rank = min(math.ceil((len(ordered) + 1) * level), len(ordered))
    return float(ordered[rank - 1])


def empirical_quantile(scores: Sequence[float], level: float) -> float:
    """The ⌈n · level⌉-th smallest of the n ``scores``: the factor of one total in one group.
    Each such cell holds one score per backtest window (about 14), where split-conformal's
    (n + 1) rank alone puts the coverage 6 points above nominal (12 of 14 at 80%, whatever
    the data) and tied scores push it further; the plain rank expects ⌈n · level⌉ / (n + 1)
    (11 of 14 at 80%, 12 of 14 at 90%), a little under nominal instead."""
    if not scores:
        raise ValueError("no backtest scores to calibrate on")
    ordered = sorted(scores)
    rank = min(max(math.ceil(len(ordered) * level), 1), len(ordered))
    return float(ordered[rank - 1])


def widen(expected: float, low: float, high: float, factor: float) -> tuple[float, float]:
    """The interval [low, high] around ``expected`` with both half widths times ``factor``."""
    return expected - factor * (expected - low), expected + factor * (high - expected)


@dataclass(frozen=True)
class IntervalCalibration:
    """The correction factors per horizon (months) and level, and the backtests they come
    from (written by the backtest, read by the forecast)."""

    windows: int
    factors: Mapping[int, Mapping[str, float]]
    """horizon -> level ("0.8", "0.9") -> factor."""
    scores: Mapping[int, int] = field(default_factory=dict)
    """horizon -> how many scores the factors were taken from."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """Where the backtests ran: source, as-of dates, seed."""
    group_factors: Mapping[int, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    """horizon -> group (``"*"``: the book; ``"segment:smb"``) -> level -> factor, from that
    group's scores alone: a group whose simulated intervals run narrower than the book's gets
    its own stretch."""
    total_factors: Mapping[int, Mapping[str, Mapping[str, Mapping[str, float]]]] = field(
        default_factory=dict
    )
    """horizon -> group (as in ``group_factors``, and ``ALL_GROUPS``) -> total (churned,
    contraction, expansion, grr, nrr) -> level -> factor, from that total's scores alone
    (``empirical_quantile``): one factor for every total over-widens the steady ones and
    under-widens the others."""

    def factor(
        self, horizon: int, level: str, group: str | None = None, total: str | None = None
    ) -> float | None:
        """The factor of ``total`` in ``group`` at ``horizon`` and ``level``: the total's own
        in the group when the backtests had it, else the total's over all groups, else the
        group's over all its totals, else the pooled one; None when that horizon was not
        backtested."""
        if total is not None:
            per_group = self.total_factors.get(horizon, {})
            name = TOTAL_OF.get(total, total)
            for key in (group or "", ALL_GROUPS):
                own = per_group.get(key, {}).get(name, {}).get(level)
                if own is not None:
                    return own
        own = self.group_factors.get(horizon, {}).get(group or "", {}).get(level)
        return own if own is not None else self.factors.get(horizon, {}).get(level)

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "factors": {str(h): dict(levels) for h, levels in self.factors.items()},
            "scores": {str(h): n for h, n in self.scores.items()},
            "facts": dict(self.facts),
            "group_factors": {
                str(h): {g: dict(levels) for g, levels in groups.items()}
                for h, groups in self.group_factors.items()
            },
            "total_factors": {
                str(h): {
                    g: {t: dict(levels) for t, levels in totals.items()}
                    for g, totals in groups.items()
                }
                for h, groups in self.total_factors.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntervalCalibration:
        """The calibration ``to_dict`` wrote; ``KeyError`` / ``ValueError`` for another shape."""
        factors = {
            int(h): {str(level): float(f) for level, f in levels.items()}
            for h, levels in data["factors"].items()
        }
        scores = {int(h): int(n) for h, n in data.get("scores", {}).items()}
        groups = {
            int(h): {
                str(g): {str(level): float(f) for level, f in levels.items()}
                for g, levels in per_group.items()
            }
            for h, per_group in data.get("group_factors", {}).items()
        }
        totals = {
            int(h): {
                str(g): {
                    str(t): {str(level): float(f) for level, f in levels.items()}
                    for t, levels in per_total.items()
                }
                for g, per_total in per_group.items()
            }
            for h, per_group in data.get("total_factors", {}).items()
        }
        return cls(
            int(data["windows"]), factors, scores, dict(data.get("facts", {})), groups, totals
        )


def calibrate(
    scores: Mapping[int, Mapping[str, Sequence[float]]],
    windows: int,
    facts: Mapping[str, Any] | None = None,
    group_scores: Mapping[int, Mapping[str, Mapping[str, Sequence[float]]]] | None = None,
    total_scores: Mapping[int, Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]]]
    | None = None,
) -> IntervalCalibration:
    """The factors of every horizon and level from the backtests' scores (``scores[h][level]``:
    one score per window, total and group of that horizon, taken on the level's interval)."""
    factors = {
        h: {level: conformal_factor(values, float(level)) for level, values in per_level.items()}
        for h, per_level in scores.items()
    }
    counts = {h: min(len(v) for v in per_level.values()) for h, per_level in scores.items()}
    groups = {
        h: {
            g: {level: conformal_factor(v, float(level)) for level, v in per_level.items()}
            for g, per_level in per_group.items()
            if all(per_level.values())
        }
        for h, per_group in (group_scores or {}).items()
    }
    totals = {
        h: {
            g: {
                t: {level: empirical_quantile(v, float(level)) for level, v in per_level.items()}
                for t, per_level in per_total.items()
                if all(per_level.values())
            }
            for g, per_total in per_group.items()
        }
        for h, per_group in (total_scores or {}).items()
    }
    return IntervalCalibration(windows, factors, counts, dict(facts or {}), groups, totals)
