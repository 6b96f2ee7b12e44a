"""A negative-control check of a play's effect: did the accounts that got it already differ,
before the play, from the comparison the estimate weighs them against?

The estimate compares treated rows with untreated rows that look alike in the snapshot's
features. If CSMs chose accounts for something the features miss (how a call went, what
they know of the customer), the comparison is confounded and no interval shows it. The check
applies the same doubly-robust comparison (same propensity, same weights, same clustered
interval) to an outcome the play cannot change because it is fixed before the play: the
**risk the account showed at its previous snapshot** (a cross-fitted prognostic model of the
label, applied to the features one month before; the play runs after the current snapshot).
Given today's features, a play cannot move last month's risk, so a true effect on it is 0.

A 95% interval of this check that excludes 0 means the treated accounts differ from their
comparison in something the adjustment misses: the cell is ``confounded`` and serves no
effect and no saving. The test is two-sided: on the simulated sources the sign of the
control's difference did not tell the sign of the effect's bias (a trajectory that is
getting worse and a level that is better look alike one month back), so a difference either
way refutes the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.effects.estimate import Z95, att
from training.effects.nuisance import CrossFitOptions, fit_predict

MAX_GAP_DAYS = 45
"""The previous snapshot of an account counts when it is at most this many days earlier."""
CONFOUNDED = "confounded"


@dataclass(frozen=True)
class Check:
    """The negative control of one cell: the doubly-robust 'effect' of the play on the
    treated rows' risk one snapshot before it (probability; 0 when the adjustment holds)."""

    effect: float
    ci_low: float
    ci_high: float
    n_treated: int
    label: str
    """The label whose prior risk is the control: churn_180d, expand_180d."""

    @property
    def passed(self) -> bool:
        """The interval holds 0: no sign that the comparison is confounded."""
        return self.ci_low <= 0.0 <= self.ci_high


def previous_rows(ids: np.ndarray, snapshot_date: np.ndarray) -> np.ndarray:
    """Index of each row's previous snapshot row of the same account (at most
    ``MAX_GAP_DAYS`` earlier), -1 when there is none."""
    n = len(ids)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    acc = np.asarray(ids).astype(str)
    day = np.asarray(snapshot_date, dtype="datetime64[D]").astype(np.int64)
    order = np.lexsort((day, acc))
    same = acc[order][1:] == acc[order][:-1]
    close = (day[order][1:] - day[order][:-1]) <= MAX_GAP_DAYS
    ok = same & close
    out[order[1:][ok]] = order[:-1][ok]
    return out


def prior_risk(
    x: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    previous: np.ndarray,
    folds: np.ndarray,
    options: CrossFitOptions,
) -> np.ndarray:
    """Per row, the cross-fitted P(label | features) of its previous snapshot row (NaN when
    it has none): a prognostic model fitted on the labelled rows of the other folds (all of
    an account's rows share a fold, so the previous row is out of fold too)."""
    out = np.full(len(y), np.nan)
    has = previous >= 0
    for k in np.unique(folds):
        rows = (folds == k) & has
        if not rows.any():
            continue
        fit = (folds != k) & known
        out[rows] = fit_predict(x[fit], y[fit], x[previous[rows]], options)
    return out


def control_model(
    x: np.ndarray,
    nc: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    folds: np.ndarray,
    trim: float,
    options: CrossFitOptions,
) -> np.ndarray:
    """The outcome model of the negative control: per row, a cross-fitted regression of
    ``nc`` on the features, fitted on the untreated rows of the other folds (NaN where
    ``nc`` is NaN or the row is outside the overlap)."""
    use = ~np.isnan(nc) & (e <= 1.0 - trim)
    m0 = np.full(len(nc), np.nan)
    for k in np.unique(folds[use]):
        out = use & (folds == k)
        fit = use & (folds != k) & (t == 0)
        m0[out] = fit_predict(x[fit], nc[fit], x[out], options, "regression")
    return m0


def negative_control(
    nc: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    m0: np.ndarray,
    groups: np.ndarray,
    label: str,
    min_treated: int = 10,
) -> Check | None:
    """The doubly-robust ATT of the play on the negative-control outcome ``nc`` with the
    propensity ``e`` of the effect's own estimate and ``m0`` from ``control_model`` (rows
    where it is NaN leave: no previous snapshot, or outside the overlap). ``label`` names
    the label whose prior risk ``nc`` is. None when fewer than ``min_treated`` treated rows
    (or untreated rows) are left."""
    use = ~np.isnan(m0)
    if int((use & (t == 1)).sum()) < min_treated or int((use & (t == 0)).sum()) < min_treated:
        return None
    effect, se = att(nc[use], t[use], e[use], m0[use], groups[use])
    return Check(effect, effect - Z95 * se, effect + Z95 * se, int((use & (t == 1)).sum()), label)
