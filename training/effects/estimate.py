"""The doubly-robust effect of a play, with its interval and the evidence behind it.

Given cross-fitted nuisances (``nuisance``), for rows i with outcome y (0/1), treatment t,
propensity e and outcome models m0, m1:

- ATT (the effect on the rows where the play was run; the headline): with residuals
  r = y - m0 and control weights w = e / (1 - e),
  ATT = sum_t r / n_t  -  sum_c w r / sum_c w
  (the normalised doubly-robust ATT: right when either the propensity or m0 is right);
- ATE (the effect had every row been treated, reported beside it):
  mean(m1 - m0 + t (y - m1) / e - (1 - t) (y - m0) / (1 - e)).

Intervals: 95%, estimate +- 1.96 se, the se from the influence function of each estimator
summed per account (monthly rows of one account are not independent), sum_g (sum_{i in g}
phi_i)^2 / n^2, with the small-sample factor G / (G - 1).

Overlap: rows whose propensity is above 1 - trim (the untreated rows that look like them are
too rare) leave the ATT; the ATE also drops rows below trim. A cell is "not enough evidence",
never an effect, when it has too few treated rows, when too large a share of its treated rows
has no overlap, when the treated rows hold too few outcomes (events, or non-events) for a
normal interval, or when the untreated rows resembling the treated are too few (the
effective number of weighted controls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class EvidenceRules:
    min_treated: int = 30
    """Treated rows a cell needs, after trimming."""
    min_controls: int = 30
    """Effective number of weighted untreated rows a cell needs."""
    trim: float = 0.02
    """Propensity bound of overlap: ATT keeps e <= 1 - trim, ATE trim <= e <= 1 - trim."""
    max_trimmed_share: float = 0.5
    """A cell whose treated rows lose more than this share to trimming has no overlap."""
    min_events: int = 5
    """Treated rows inside the overlap with the outcome, and without it, a cell needs: the
    interval rests on a normal approximation that a handful of events does not support (0
    churners among 36 treated rows give a spuriously tight interval)."""


@dataclass(frozen=True)
class Estimate:
    """One cell's estimate. ``effect`` is None when ``reason`` says why there is not enough
    evidence; differences are in probability (-0.05: five points less likely)."""

    effect: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    n_treated: int
    n_control: int
    n_trimmed_treated: int
    ate: float | None = None
    ate_low: float | None = None
    ate_high: float | None = None
    naive: float | None = None
    """Treated mean minus untreated mean of y: the comparison the confounding biases."""
    reason: str | None = None
    treated_rate: float | None = None
    """Mean of y on the treated rows inside the overlap (the rows the ATT is about); minus
    the ATT it is their rate without the play, the base of the play's relative effect."""

    @property
    def evidence(self) -> str:
        return "ok" if self.reason is None else "not enough evidence"


def clustered_se(phi: np.ndarray, groups: np.ndarray) -> float:
    """Standard error of a mean-zero influence function ``phi`` with rows clustered by
    ``groups`` (integer codes): sqrt(G / (G - 1) * sum_g (sum phi_g)^2) / n."""
    n = len(phi)
    if n == 0:
        return float("nan")
    _, codes = np.unique(groups, return_inverse=True)
    sums = np.bincount(codes, weights=phi)
    g = len(sums)
    factor = g / (g - 1) if g > 1 else 1.0
    return float(np.sqrt(factor * np.sum(sums**2)) / n)


def att(
    y: np.ndarray, t: np.ndarray, e: np.ndarray, m0: np.ndarray, groups: np.ndarray
) -> tuple[float, float]:
    """Normalised doubly-robust ATT and its clustered standard error (rows already trimmed)."""
    n = len(y)
    treated = t == 1
    r = y - m0
    w = np.where(treated, 0.0, e / (1.0 - e))
    p1 = treated.mean()
    q = w.mean()
    a = r[treated].mean()
    b = np.sum(w * r) / np.sum(w)
    phi = treated * (r - a) / p1 - w * (r - b) / q
    return float(a - b), clustered_se(phi, groups) if n else float("nan")


def ate(
    y: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    m0: np.ndarray,
    m1: np.ndarray,
    groups: np.ndarray,
) -> tuple[float, float]:
    """AIPW ATE and its clustered standard error (rows already trimmed)."""
    psi = dr_pseudo_outcome(y, t, e, m0, m1)
    tau = float(psi.mean())
    return tau, clustered_se(psi - tau, groups)


def dr_pseudo_outcome(
    y: np.ndarray, t: np.ndarray, e: np.ndarray, m0: np.ndarray, m1: np.ndarray
) -> np.ndarray:
    """The doubly-robust score of each row: its mean is the ATE, its regression on x the
    per-account effect (the DR-learner)."""
    return m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1.0 - e)


def effective_controls(t: np.ndarray, e: np.ndarray) -> float:
    """Kish's effective number of untreated rows under the ATT weights e / (1 - e)."""
    w = (e / (1.0 - e))[t == 0]
    if len(w) == 0 or np.sum(w) <= 0:
        return 0.0
    return float(np.sum(w) ** 2 / np.sum(w**2))


def too_few_runs(
    n_treated: int, n_control: int, rules: EvidenceRules, naive: float | None = None
) -> Estimate:
    """The refusal of a cell with fewer treated rows than ``rules.min_treated``."""
    reason = f"too few runs: {n_treated} treated rows (at least {rules.min_treated})"
    return Estimate(None, None, None, None, n_treated, n_control, 0, naive=naive, reason=reason)


def estimate_cell(
    y: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    m0: np.ndarray,
    m1: np.ndarray,
    groups: np.ndarray,
    rules: EvidenceRules,
) -> Estimate:
    """The estimate of one (play, label, subgroup) cell from its rows' nuisances, or the
    reason it has not enough evidence. ``y`` is 0/1 on every row given (censored rows left
    out by the caller)."""
    t = t.astype(np.int64)
    treated = t == 1
    n_treated, n_control = int(treated.sum()), int((~treated).sum())
    naive = float(y[treated].mean() - y[~treated].mean()) if n_treated and n_control else None
    keep = e <= 1.0 - rules.trim
    n_trimmed = int((treated & ~keep).sum())
    kept_treated = int((treated & keep).sum())

    def refuse(reason: str) -> Estimate:
        return Estimate(
            None, None, None, None, n_treated, n_control, n_trimmed, naive=naive, reason=reason
        )

    if n_treated < rules.min_treated:
        return too_few_runs(n_treated, n_control, rules, naive)
    if n_treated and n_trimmed / n_treated > rules.max_trimmed_share:
        return refuse(
            f"no overlap: {n_trimmed} of {n_treated} treated rows have almost no comparable "
            f"untreated rows (propensity above {1 - rules.trim:.2f})"
        )
    if kept_treated < rules.min_treated:
        return refuse(
            f"too few comparable runs: {kept_treated} treated rows inside the overlap "
            f"(at least {rules.min_treated})"
        )
    events = int(y[treated & keep].sum())
    if min(events, kept_treated - events) < rules.min_events:
        return refuse(
            f"too few outcomes: {events} of {kept_treated} treated rows have the outcome "
            f"(at least {rules.min_events} with it and {rules.min_events} without)"
        )
    ess = effective_controls(t[keep], e[keep])
    if ess < rules.min_controls:
        return refuse(
            f"no overlap: the untreated rows resembling the treated ones weigh as {ess:.0f} "
            f"rows (at least {rules.min_controls})"
        )
    effect, se = att(y[keep], t[keep], e[keep], m0[keep], groups[keep])
    both = (e >= rules.trim) & keep
    ate_value: float | None = None
    ate_low = ate_high = None
    if int((treated & both).sum()) >= rules.min_treated and int((~treated & both).sum()):
        ate_value, ate_se = ate(y[both], t[both], e[both], m0[both], m1[both], groups[both])
        ate_low, ate_high = ate_value - Z95 * ate_se, ate_value + Z95 * ate_se
    return Estimate(
        effect,
        effect - Z95 * se,
        effect + Z95 * se,
        se,
        n_treated,
        n_control,
        n_trimmed,
        ate=ate_value,
        ate_low=ate_low,
        ate_high=ate_high,
        naive=naive,
        treated_rate=float(y[treated & keep].mean()),
    )
