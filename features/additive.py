"""Additive models and blends: the two model kinds a bundle holds besides a LightGBM booster.

An **additive model** is a regularised logistic regression on binned numbers and one-hot
categories, kept as one function per model column: the raw score (log-odds) is

    z = intercept + sum_j f_j(x_j)

where f_j is piecewise linear in a numeric column (``knots``: straight lines between the
values at its knots, flat beyond the first and last; a linear effect is one of them) or
piecewise constant (``bins``: cut at ``edges``, ``(-inf, e0), [e0, e1), ..., [e_last,
inf)``), and a categorical column's code picks its category's value; a missing value (NaN:
null, unseen category) has its own value. Its
SHAP values are exact: ``f_j(x_j) - mean_j``, with ``mean_j`` the mean of f_j over the
training rows, and the base value ``intercept + sum_j mean_j``.

A **blend** stacks a booster and an additive model in log-odds,
``z = tree_weight * z_tree + additive_weight * z_additive + intercept``, so its SHAP values
are the same weighted sum of the two models' (additivity kept).

Pure NumPy: serving scores and explains both without scikit-learn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

TermKind = Literal["knots", "bins", "categories"]


@dataclass(frozen=True)
class AdditiveTerm:
    """f_j of one model column."""

    kind: TermKind
    values: tuple[float, ...]
    """knots: the value at each knot; bins: one value per bin (len(edges) + 1); categories:
    one value per category code."""
    missing: float = 0.0
    """f_j of a missing value (NaN, an unseen category)."""
    edges: tuple[float, ...] = ()
    """knots: the ascending knots; bins: the ascending cut points."""
    mean: float = 0.0
    """The mean of f_j over the training rows: the baseline of its SHAP value."""

    def __call__(self, column: np.ndarray) -> np.ndarray:
        """f_j of every value of ``column`` (float64, NaN for missing)."""
        values = np.asarray(self.values, dtype=np.float64)
        present = ~np.isnan(column)
        out = np.full(len(column), self.missing, dtype=np.float64)
        if self.kind == "knots":
            out[present] = np.interp(column[present], np.asarray(self.edges), values)
        elif self.kind == "bins":
            index = np.searchsorted(np.asarray(self.edges), column[present], side="right")
            out[present] = values[index]
        else:
            codes = column[present].astype(np.int64)
            known = (codes >= 0) & (codes < len(values))
            picked = np.full(len(codes), self.missing)
            picked[known] = values[codes[known]]
            out[present] = picked
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "values": list(self.values)}
        if self.kind != "categories":
            out["edges"] = list(self.edges)
        out["missing"] = self.missing
        out["mean"] = self.mean
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdditiveTerm:
        return cls(
            data["kind"],
            tuple(float(v) for v in data["values"]),
            float(data.get("missing", 0.0)),
            tuple(float(v) for v in data.get("edges", ())),
            float(data.get("mean", 0.0)),
        )


@dataclass(frozen=True)
class AdditiveModel:
    intercept: float
    terms: tuple[AdditiveTerm, ...]
    """One per model column, in model order."""

    def term_values(self, matrix: np.ndarray) -> np.ndarray:
        """(n, features): f_j(x_j) of every row and column."""
        matrix = np.asarray(matrix, dtype=np.float64).reshape(-1, len(self.terms))
        out = np.empty(matrix.shape, dtype=np.float64)
        for j, term in enumerate(self.terms):
            out[:, j] = term(matrix[:, j])
        return out

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return self.intercept + self.term_values(matrix).sum(axis=1)

    def contributions(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact SHAP values (n, features) and the base value (n,)."""
        values = self.term_values(matrix)
        means = np.array([t.mean for t in self.terms])
        base = self.intercept + float(means.sum())
        return values - means, np.full(len(values), base)

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "terms": [t.to_dict() for t in self.terms]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdditiveModel:
        return cls(
            float(data["intercept"]),
            tuple(AdditiveTerm.from_dict(t) for t in data["terms"]),
        )


@dataclass(frozen=True)
class Blend:
    """z = tree_weight * z_tree + additive_weight * z_additive + intercept."""

    tree_weight: float
    additive_weight: float
    intercept: float = 0.0

    def combine(self, tree: np.ndarray, additive: np.ndarray) -> np.ndarray:
        return self.tree_weight * tree + self.additive_weight * additive + self.intercept

    def combine_contributions(
        self,
        tree: tuple[np.ndarray, np.ndarray],
        additive: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        contributions = self.tree_weight * tree[0] + self.additive_weight * additive[0]
        base = self.combine(tree[1], additive[1])
        return contributions, base

    def to_dict(self) -> dict[str, float]:
        return {
            "tree_weight": self.tree_weight,
            "additive_weight": self.additive_weight,
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Blend:
        return cls(
            float(data["tree_weight"]), float(data["additive_weight"]), float(data["intercept"])
        )


def term_means(terms: Sequence[AdditiveTerm], matrix: np.ndarray) -> tuple[AdditiveTerm, ...]:
    """``terms`` with ``mean`` set to the mean of each f_j over the rows of ``matrix``."""
    from dataclasses import replace

    model = AdditiveModel(0.0, tuple(terms))
    means = model.term_values(matrix).mean(axis=0) if len(matrix) else np.zeros(len(terms))
    return tuple(replace(t, mean=float(m)) for t, m in zip(terms, means, strict=True))
