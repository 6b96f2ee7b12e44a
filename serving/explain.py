"""The one module that computes SHAP explanations.

Fast path: LightGBM's native TreeSHAP, ``Booster.predict(matrix, pred_contrib=True)``, which
returns one column per feature plus the expected value (the base value) in log-odds. The
result always comes back as an ``(n_rows, n_features)`` matrix and an ``(n_rows,)`` base value,
whatever the number of rows, and the contributions plus the base value equal the booster's raw
score (TreeSHAP additivity; tested against ``predict(raw_score=True)``).

``treeshap_reference`` runs ``shap.TreeExplainer`` on the same booster; the tests use it to
prove the fast path agrees to 1e-6. Serving never imports shap at run time.

Cost: TreeSHAP grows with trees x leaves x depth^2 (1-3 ms per row for 300 trees of 31
leaves). Batches use every core; a single what-if row uses one thread (better tails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a matrix in log-odds."""

    contributions: np.ndarray
    """(n_rows, n_features): each feature's contribution to the raw score."""
    base_value: np.ndarray
    """(n_rows,): the expected raw score over the training data (the same for every row)."""

    @property
    def raw_score(self) -> np.ndarray:
        """The booster's raw score (log-odds): contributions plus base value."""
        return self.contributions.sum(axis=1) + self.base_value


def explain(booster: lightgbm.Booster, matrix: np.ndarray, num_threads: int = 1) -> Explanation:
    """Native TreeSHAP of the rows of ``matrix`` (float64, features in model order)."""
    n_features = booster.num_feature()
    matrix = np.ascontiguousarray(matrix, dtype=np.float64).reshape(-1, n_features)
    if matrix.shape[0] == 0:
        return Explanation(np.zeros((0, n_features)), np.zeros(0))
    out = np.asarray(
        booster.predict(matrix, pred_contrib=True, num_threads=num_threads), dtype=np.float64
    ).reshape(matrix.shape[0], n_features + 1)
    return Explanation(out[:, :-1], out[:, -1].copy())


def treeshap_reference(booster: lightgbm.Booster, matrix: np.ndarray) -> Explanation:
    """``shap.TreeExplainer`` on the same booster (path-dependent, raw output). Tests only."""
    import warnings

    with warnings.catch_warnings():
        # shap warns that binary LightGBM output "changed to a list"; it returns one array
        warnings.filterwarnings("ignore", message=".*changed to a list of ndarray")
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        import shap

        explainer = shap.TreeExplainer(booster)
        values: Any = explainer.shap_values(np.asarray(matrix, dtype=np.float64))
    if isinstance(values, list):  # older shap: one array per class of a binary model
        values = values[-1]
    values = np.asarray(values, dtype=np.float64).reshape(len(matrix), booster.num_feature())
    expected = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))[-1]
    return Explanation(values, np.full(len(matrix), expected))
