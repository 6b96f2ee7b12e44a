"""A data-generating process with known confounding and a known effect (the effects bench and
the estimator tests).

Accounts have several monthly rows sharing an account-level shock (so rows are clustered).
Risky rows (high x0, x1) churn more AND get the play more often: the naive comparison of
treated and untreated rows is biased upwards. The play lowers the churn probability by
``effect_size`` where x3 > 0 and by a fifth of that elsewhere (a heterogeneous effect); with
``effect_size = 0`` it is inert. ``overlap=False`` gives the play to every row with x0 > 0.8
and to no other row (no comparable untreated rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dgp:
    x: np.ndarray
    t: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    tau: np.ndarray
    """Each row's true change in P(y) under the play."""
    segment: np.ndarray

    @property
    def true_att(self) -> float:
        return float(self.tau[self.t == 1].mean())


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def make_dgp(
    seed: int = 0,
    accounts: int = 1500,
    rows_per_account: int = 6,
    effect_size: float = 0.15,
    overlap: bool = True,
) -> Dgp:
    rng = np.random.default_rng(seed)
    n = accounts * rows_per_account
    groups = np.repeat(np.arange(accounts), rows_per_account)
    account_x = rng.normal(size=(accounts, 6))
    x = account_x[groups] * 0.8 + rng.normal(size=(n, 6)) * 0.6
    shock = rng.normal(scale=0.7, size=accounts)[groups]
    segment = np.where(account_x[:, 5] > 0.3, "enterprise", "smb")[groups]
    base = _sigmoid(-1.2 + 1.2 * x[:, 0] + 0.8 * x[:, 1] + 0.6 * np.sin(2 * x[:, 2]) + shock)
    if overlap:
        propensity = _sigmoid(-2.0 + 1.4 * x[:, 0] + 0.9 * x[:, 1])
        t = (rng.uniform(size=n) < propensity).astype(np.int64)
    else:
        t = (x[:, 0] > 0.8).astype(np.int64)
    reduction = np.where(x[:, 3] > 0, effect_size, effect_size / 5)
    treated_p = np.clip(base - reduction, 0.0, 1.0)
    tau = treated_p - base
    p = np.where(t == 1, treated_p, base)
    y = (rng.uniform(size=n) < p).astype(np.float64)
    return Dgp(x, t, y, groups.astype(str), tau, segment)
