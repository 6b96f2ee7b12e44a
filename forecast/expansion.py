"""The level of the expansion hazard: the expansion score's monthly hazard, rescaled so that
its MRR-weighted mean lies halfway between the score's own and the book's recent rate of
expansions of +10% or more.

The 180-day expansion score ranks accounts well but its level drifts out of time (on the
bench's calm book its implied 3-month expansion MRR ran up to 40% above the simulator's
oracle in some windows and 10% below in others); the book's recent rate is an
independent reading of the same level that misses the other way (it lags the book's state).
Half of each cut the 3-month expansion error against the oracle on both bench seeds where
either alone helped one seed only (docs/forecast.md). The score keeps its ranking: every
account's hazard is multiplied by one factor per group. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from forecast.projection import EXPANSION_THRESHOLD, LABEL_MONTHS, MIN_EVENTS

RECENT_MONTHS = 12
"""How many whole months before the as-of date measure the book's expansion rate."""
HISTORY_WEIGHT = 0.5
"""The weight of the book's recent rate in the level (the score's own level has the rest)."""


def recent_expansion_rate(
    per_account: pd.DataFrame,
    as_of: date,
    groups: pd.Series | None = None,
    months: int = RECENT_MONTHS,
) -> dict[str, float]:
    """Per group (and ``"*"`` for the book): expansions of +10% or more per customer-month
    over the ``months`` whole months before ``as_of``, weighted by start MRR (from
    ``forecast.movements.account_movements`` rows). A group with fewer than ``MIN_EVENTS``
    such expansions is left out (it takes the book's)."""
    month = pd.to_datetime(per_account["month"])
    first = pd.Timestamp(as_of) - pd.DateOffset(months=months)
    frame = per_account[(month >= first) & (month < pd.Timestamp(as_of))]
    frame = frame[(frame["customer_start"] == 1) & (frame["start_mrr"] > 0)]
    grown = frame["expansion"] / frame["start_mrr"] >= EXPANSION_THRESHOLD * (1 - 1e-9)
    weight = frame["start_mrr"]
    total = float(weight.sum())
    out = {"*": float(weight[grown].sum()) / total if total > 0 else 0.0}
    if groups is None:
        return out
    label = frame["account_id"].map(groups).fillna("(none)").astype(str)
    for name in label.unique():
        mine = label == name
        if int((grown & mine).sum()) >= MIN_EVENTS:
            out[str(name)] = float(weight[grown & mine].sum()) / float(weight[mine].sum())
    return out


def leveled_expansion(
    mrr: np.ndarray,
    expand_180: np.ndarray,
    groups: np.ndarray,
    history_rate: Mapping[str, float],
    weight: float = HISTORY_WEIGHT,
) -> np.ndarray:
    """The 180-day expansion probabilities whose monthly hazards have, per group, the
    MRR-weighted mean (1 - ``weight``) x the score's own + ``weight`` x the group's
    ``history_rate`` (the book's, ``"*"``, for a group without one). A group without MRR or
    without any hazard keeps its scores."""
    p = np.clip(np.asarray(expand_180, dtype=float), 0.0, 1.0 - 1e-12)
    monthly = 1.0 - (1.0 - p) ** (1.0 / LABEL_MONTHS)
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float))
    groups = np.asarray(groups).astype(str)
    out = monthly.copy()
    for name in np.unique(groups):
        mine = groups == name
        total = float(mrr[mine].sum())
        own = float((mrr[mine] * monthly[mine]).sum()) / total if total > 0 else 0.0
        if own <= 0:
            continue
        rate = history_rate.get(str(name), history_rate.get("*", own))
        target = (1.0 - weight) * own + weight * rate
        out[mine] = np.clip(monthly[mine] * target / own, 0.0, 1.0 - 1e-12)
    return 1.0 - (1.0 - out) ** LABEL_MONTHS
