"""Churn probabilities put on the revenue scale: the forecast sums MRR x P(churn), so it needs
probabilities that are right where the MRR is, while a classifier is calibrated over all
accounts together. When one segment's accounts (enterprise, the large ones) churn more than
the model says and another's less, the sum runs off however well the book's logo count is
calibrated.

The shortfall is measured on rows out of the model's fit, pooled (``experience``,
``pooled``, ``credible_ratios``), **per segment and counted in accounts**: per paying row
(MRR above 0), its probability of churning inside a window whose outcome is known is what
was expected, a churn in that window (1) what happened (``paying_counts``). The backtest
pools its validation dates (the 180-day label, closed) with the snapshots of the last
months (labels still open, churns known up to the last confirmed month; the window ends
there: ``churned_between``). Each segment's ratio is shrunk towards the pooled ratio of all
rows by its number of churns (credibility n / (n + k)): a segment with few churns keeps
mostly the book's ratio, one with many its own.

Why accounts and not MRR: weighted by MRR, a ratio over a few months' rows is decided by
the few large accounts that happened to churn or not (on the calm bench book the realised
churn of the longer terms' renewals, by MRR, ran from 0.4% to 31% a month), and that noise
went straight into every forecast. Inside a segment accounts are of a like size, so the
count carries the segment's level with a fraction of the noise; the MRR differences between
segments stay with the per-segment ratios. Measured in docs/forecast.md.

``rescaled``: each account's probability times its segment's ratio, capped at 1. Pure
functions: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

ALL = "*"
CREDIBILITY_CHURNS = 20
"""``credible_ratios``' k: a segment with k churns weighs its own ratio and the book's equally."""


@dataclass(frozen=True)
class Experience:
    """Expected and realised churned MRR, and the churns behind it, of one group of rows."""

    expected: float
    realised: float
    churns: int

    def __add__(self, other: Experience) -> Experience:
        return Experience(
            self.expected + other.expected,
            self.realised + other.realised,
            self.churns + other.churns,
        )


def churned_between(
    per_account: pd.DataFrame, accounts: Iterable[str], start: date, end: date
) -> np.ndarray:
    """Each account's churned MRR over the whole months [``start``, ``end``) (firsts of a
    month), from ``forecast.movements.account_movements`` rows; 0 for an account that did
    not churn or has no rows."""
    month = pd.to_datetime(per_account["month"]).dt.date
    inside = per_account[(month >= start) & (month < end)]
    churned = inside.groupby("account_id")["churned"].sum()
    return pd.Series(list(accounts), dtype=object).map(churned).fillna(0.0).to_numpy(float)


def paying_counts(mrr: np.ndarray, churned_mrr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows as ``experience`` counts them in accounts: weight 1 for a paying row (MRR
    above 0, else 0), and 1 for a paying row that lost MRR to a churn (else 0)."""
    paying = np.nan_to_num(np.asarray(mrr, dtype=float)) > 0
    lost = np.nan_to_num(np.asarray(churned_mrr, dtype=float)) > 0
    return paying.astype(float), (paying & lost).astype(float)


def experience(
    mrr: np.ndarray,
    p_within: np.ndarray,
    churned_mrr: np.ndarray,
    segments: np.ndarray,
) -> dict[str, Experience]:
    """Per segment and for all (``"*"``): the expected churned MRR (``mrr`` x ``p_within``,
    the probability of churning inside the rows' known window), the realised one
    (``churned_mrr``) and the number of rows that churned. With ``paying_counts``' weights
    and churns, the same in accounts."""
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float))
    p = np.nan_to_num(np.asarray(p_within, dtype=float))
    lost = np.nan_to_num(np.asarray(churned_mrr, dtype=float))
    names = np.asarray(segments, dtype=object).astype(str)

    def sums(rows: np.ndarray) -> Experience:
        return Experience(
            float((mrr[rows] * p[rows]).sum()), float(lost[rows].sum()), int((lost[rows] > 0).sum())
        )

    out = {ALL: sums(np.ones(len(names), dtype=bool))}
    for name in sorted(set(names.tolist())):
        out[name] = sums(names == name)
    return out


def pooled(experiences: Iterable[Mapping[str, Experience]]) -> dict[str, Experience]:
    """The sum of several groups of rows' ``experience`` (snapshot dates), per segment."""
    out: dict[str, Experience] = {}
    for one in experiences:
        for name, value in one.items():
            out[name] = out[name] + value if name in out else value
    return out


def credible_ratios(
    experience: Mapping[str, Experience], k: float = CREDIBILITY_CHURNS
) -> dict[str, float]:
    """Realised over expected churned MRR for all rows (``"*"``; 1.0 when nothing was expected
    or nothing is known) and per segment, each segment's own ratio weighted n / (n + k) (n its
    churns) against the book's."""
    book = experience.get(ALL)
    overall = book.realised / book.expected if book and book.expected > 0 else 1.0
    out = {ALL: overall}
    for name, value in experience.items():
        if name == ALL:
            continue
        own = value.realised / value.expected if value.expected > 0 else overall
        weight = value.churns / (value.churns + k) if value.churns + k > 0 else 0.0
        out[name] = weight * own + (1.0 - weight) * overall
    return out


def rescaled(
    probability: np.ndarray, segments: np.ndarray, ratios: Mapping[str, float]
) -> np.ndarray:
    """Each probability times its segment's ratio (the ``"*"`` one for a segment without its
    own; 1 without either), capped at 1."""
    names = np.asarray(segments, dtype=object).astype(str)
    fallback = ratios.get(ALL, 1.0)
    factor = np.array([ratios.get(n, fallback) for n in names], dtype=float)
    return np.asarray(np.minimum(np.asarray(probability, dtype=float) * factor, 1.0))
