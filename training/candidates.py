"""The candidates of a label, fitted on the same rows and chosen honestly.

For one split (fit rows, validation rows) the candidates are:
- ``lightgbm``: the recipe's booster, early-stopped on the validation rows;
- ``additive``: a regularised logistic regression on binned numbers and one-hot categories
  (``training.additive``), its strength chosen on the validation rows;
- ``blend``: the two stacked in log-odds, ``a * z_tree + b * z_additive + c``, the weights
  a logistic regression of the validation labels on the two validation scores (stacked on
  predictions neither model fitted on).
Each is calibrated on the validation rows (``training.calibration``).

``choose`` takes each candidate's ROC-AUC on the out-of-time backtest windows (or the
out-of-fold test rows when the history allows no window) and keeps the best mean; a
candidate within ``TIE`` of the best that is simpler wins (additive, then LightGBM, then the
blend), so a simpler model is never passed over for noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from features.additive import Blend
from features.model_bundle import Calibration
from training import model
from training.additive import AdditiveFit, fit_additive
from training.calibration import fit_calibration
from training.recipe import FitData, Recipe

Kind = Literal["additive", "lightgbm", "blend"]
KINDS: tuple[Kind, ...] = ("additive", "lightgbm", "blend")
"""Simplest first: the order ties are broken in."""
TIE = 0.002
"""ROC-AUC within which a simpler candidate is preferred."""


@dataclass
class Candidates:
    """The three candidates fitted on one split, each with its calibration."""

    tree: model.Fit
    additive: AdditiveFit
    blend: Blend
    calibrations: dict[str, Calibration]
    facts: dict[str, Any]

    def raw_score(self, kind: str, matrix: np.ndarray) -> np.ndarray:
        if kind == "lightgbm":
            return self.tree.raw_score(matrix)
        if kind == "additive":
            return self.additive.raw_score(matrix)
        return self.blend.combine(self.tree.raw_score(matrix), self.additive.raw_score(matrix))

    def predict(self, kind: str, matrix: np.ndarray) -> np.ndarray:
        return self.calibrations[kind].apply(self.raw_score(kind, matrix))

    def bundle_parts(self, kind: str) -> dict[str, Any]:
        """The booster / additive / blend arguments of a ``ModelBundle`` of ``kind``."""
        return {
            "booster": None if kind == "additive" else self.tree.booster,
            "additive": None if kind == "lightgbm" else self.additive.model,
            "blend": self.blend if kind == "blend" else None,
        }


def fit_candidates(
    recipe: Recipe,
    fits: FitData,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    tree: model.Fit | None = None,
    additive_c: float | None = None,
    level_rows: np.ndarray | None = None,
) -> Candidates:
    """The three candidates on ``fit_rows``, validated on ``valid_rows`` (``tree``: the
    booster when it is already fitted on these rows; ``additive_c``: a fixed strength;
    ``level_rows``: every account's rows at the validation dates, where the calibrations
    take their level when the recipe says so)."""
    tree = tree or recipe.fit(fits, fit_rows, valid_rows)
    additive = fit_additive(
        fits.matrix, fits.y, fit_rows, valid_rows, fits.columns, recipe.seed, additive_c
    )
    x_valid, y_valid = fits.matrix[valid_rows], fits.y[valid_rows]
    z_tree, z_additive = tree.raw_score(x_valid), additive.raw_score(x_valid)
    blend = stack(z_tree, z_additive, y_valid)
    calibrations: dict[str, Calibration] = {}
    facts: dict[str, Any] = {
        "additive_c": additive.c,
        "additive_converged": additive.converged,
        "blend": blend.to_dict(),
        "calibration": {},
    }
    for kind, z in (
        ("lightgbm", z_tree),
        ("additive", z_additive),
        ("blend", blend.combine(z_tree, z_additive)),
    ):
        calibrations[kind], facts["calibration"][kind] = fit_calibration(
            z, y_valid, recipe.calibration, recipe.seed
        )
    fitted = Candidates(tree, additive, blend, calibrations, facts)
    for kind in KINDS:
        calibrations[kind] = recipe.level(
            calibrations[kind],
            facts["calibration"][kind],
            lambda x, k=kind: fitted.raw_score(k, x),  # type: ignore[misc]
            fits,
            level_rows,
        )
    return fitted


def stack(z_tree: np.ndarray, z_additive: np.ndarray, y: np.ndarray) -> Blend:
    """Blend weights: a lightly regularised logistic regression of ``y`` on the two raw
    scores (weights kept non-negative: a negative weight would explain a model backwards)."""
    from sklearn.linear_model import LogisticRegression

    x = np.column_stack([z_tree, z_additive])
    fitted = LogisticRegression(C=10.0, max_iter=500).fit(x, y.astype(int))
    a, b = (float(w) for w in fitted.coef_[0])
    if a < 0 or b < 0:  # one model adds nothing beyond the other: lean on the better alone
        a, b = (max(a, 0.0), max(b, 0.0))
        if a == b == 0.0:
            a = 1.0
        keep = np.column_stack([a * z_tree + b * z_additive])
        refit = LogisticRegression(C=10.0, max_iter=500).fit(keep, y.astype(int))
        scale = float(refit.coef_[0][0])
        return Blend(a * scale, b * scale, float(refit.intercept_[0]))
    return Blend(a, b, float(fitted.intercept_[0]))


def choose(aucs: Mapping[str, Sequence[float | None]]) -> tuple[Kind, dict[str, Any]]:
    """The candidate to register, from each candidate's ROC-AUC per evaluated window, and the
    facts of the choice (mean ROC-AUC per candidate, the best, the tie rule)."""
    means = {
        kind: float(np.mean([a for a in aucs.get(kind, []) if a is not None]))
        if any(a is not None for a in aucs.get(kind, []))
        else None
        for kind in KINDS
    }
    scored = {k: v for k, v in means.items() if v is not None}
    if not scored:
        return "lightgbm", {"mean_roc_auc": means, "chosen": "lightgbm", "reason": "no score"}
    best = max(scored.values())
    chosen = next(k for k in KINDS if k in scored and scored[k] >= best - TIE)
    leader = max(scored, key=lambda k: scored[k])
    reason = (
        "best mean ROC-AUC"
        if chosen == leader
        else f"within {TIE} of {leader}'s {best:.4f} and simpler"
    )
    return chosen, {"mean_roc_auc": means, "chosen": chosen, "reason": reason, "tie": TIE}


def refit_on_all(
    candidates: Candidates,
    kind: Kind,
    recipe: Recipe,
    fits: FitData,
    rows: np.ndarray,
) -> dict[str, Any]:
    """The bundle parts of ``kind`` refit on every labelled row ``rows`` with what the
    validation rows chose (trees: the early-stopped count; additive: the strength; the blend
    weights as stacked), keeping the calibration fitted on the validation rows. The additive
    refit keeps the fold fit's knots and starts lbfgs from its coefficients."""
    tree = None if kind == "additive" else refit_tree(candidates.tree, recipe, fits, rows)
    additive = None if kind == "lightgbm" else _refit_additive(candidates, recipe, fits, rows)
    return {
        "booster": None if tree is None else tree.booster,
        "additive": None if additive is None else additive.model,
        "blend": candidates.blend if kind == "blend" else None,
        "fit": tree or candidates.tree,
    }


def refit_candidates(
    candidates: Candidates, recipe: Recipe, fits: FitData, rows: np.ndarray
) -> Candidates:
    """Every candidate refit on ``rows`` as ``refit_on_all`` refits the registered one (the
    tree count, strength, blend weights and calibrations the validation rows chose): how a
    backtest window scores the recipe that is registered, which trains on every row whose
    label has closed, the validation rows included."""
    return Candidates(
        refit_tree(candidates.tree, recipe, fits, rows),
        _refit_additive(candidates, recipe, fits, rows),
        candidates.blend,
        candidates.calibrations,
        candidates.facts,
    )


def refit_tree(tree: model.Fit, recipe: Recipe, fits: FitData, rows: np.ndarray) -> model.Fit:
    """The booster of ``recipe`` refit on ``rows`` with ``tree``'s early-stopped count."""
    return model.fit_booster(
        fits.base,
        fits.y,
        rows,
        np.zeros(0, dtype=np.int64),
        fits.columns,
        params=recipe.params,
        monotone=recipe.monotone,
        seed=recipe.seed,
        threads=fits.threads,
        imbalance=recipe.imbalance,
        max_rounds=max(tree.best_iteration, 1),
    )


def _refit_additive(
    candidates: Candidates, recipe: Recipe, fits: FitData, rows: np.ndarray
) -> AdditiveFit:
    return fit_additive(
        fits.matrix,
        fits.y,
        rows,
        np.zeros(0, dtype=np.int64),
        fits.columns,
        recipe.seed,
        candidates.additive.c,
        start=candidates.additive,
    )
