"""Fitting the additive candidate: a regularised logistic regression on linear splines of the
numbers and one-hot categories, kept as one function per column
(``features.additive.AdditiveModel``: exact SHAP values, scored without scikit-learn).

- Numeric columns get knots at up to ``KNOTS`` quantiles of their training values (observed
  values only; ties merge knots) and a linear spline through them (the value, then a hinge
  per interior knot: the penalty shrinks the term towards a straight line), flat beyond the
  first and last knot; the fitted term is stored as its values at the knots, with its own
  value for a missing value; a column with one value adds nothing.
- Categorical columns (codes of ``features.model_bundle``) get one indicator per category
  seen in training, and one for missing or unseen, held harder by the penalty
  (``CATEGORY_SCALE``).
- L2-regularised logistic regression (lbfgs) on that design; the strength is chosen on the
  validation rows by log loss along ``C_GRID``, strongest penalty first, each fit warm-started
  from the last, stopping once the loss has risen twice past its low.

Cost: the design has at most ``KNOTS + 1`` columns per feature; fits on at most
``MAX_ROWS`` rows (a seeded sample) take a few seconds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.additive import AdditiveModel, AdditiveTerm, term_means
from features.model_bundle import FeatureColumn
from training.calibration import log_loss
from training.errors import TrainingError

KNOTS = 6
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
MAX_ROWS = 30_000
MAX_ITER = 1000
CATEGORY_SCALE = 0.3
"""Category indicators enter the design at this value, not 1: the same L2 penalty then holds
a category's effects 1 / 0.3^2 = 11 times harder than a spline's, a prior that each value
is like the others (partial pooling). A value seen on many rows keeps its effect; the
values of a high-cardinality column, each seen on few rows, shrink towards none."""


@dataclass
class AdditiveFit:
    model: AdditiveModel
    c: float
    valid_log_loss: float | None
    seconds: float
    converged: bool = True
    """Whether lbfgs converged at every strength tried (within ``MAX_ITER``)."""
    layout: _Layout | None = None
    coef: np.ndarray | None = None
    """The design's layout and the fitted coefficients (the intercept last): a refit on more
    rows (``fit_additive(start=...)``) keeps the layout and starts from them."""

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return self.model.raw_score(matrix)


@dataclass(frozen=True)
class _Layout:
    """Where each column's indicators sit in the design: per column its first design index
    (-1: a numeric column without any training value, which gets no indicator), its edges
    (numeric) or number of categories (categorical)."""

    starts: tuple[int, ...]
    edges: tuple[tuple[float, ...] | None, ...]
    categories: tuple[int, ...]
    width: int


def _layout(matrix: np.ndarray, columns: Sequence[FeatureColumn]) -> _Layout:
    starts: list[int] = []
    edges: list[tuple[float, ...] | None] = []
    categories: list[int] = []
    width = 0
    for j, column in enumerate(columns):
        starts.append(width)
        if column.kind == "categorical":
            edges.append(None)
            categories.append(len(column.categories))
            width += len(column.categories) + 1  # + missing or unseen
            continue
        values = matrix[:, j]
        values = values[~np.isnan(values)]
        if len(values) == 0:
            starts[-1] = -1
            edges.append(())
            categories.append(0)
            continue
        knots = np.unique(np.quantile(values, np.linspace(0, 1, KNOTS)))
        edges.append(tuple(float(k) for k in knots))
        categories.append(0)
        width += len(knots) + 1  # the spline's columns (as many as knots) + missing
    return _Layout(tuple(starts), tuple(edges), tuple(categories), width)


def _design(matrix: np.ndarray, layout: _Layout) -> Any:
    """The sparse design of ``matrix``: per categorical column one indicator on; per numeric
    column its spline basis (``_spline_basis``), or its missing indicator."""
    from scipy import sparse

    n = len(matrix)
    rows_parts, cols_parts, data_parts = [], [], []
    every = np.arange(n)
    for j, start in enumerate(layout.starts):
        if start < 0:
            continue
        x = matrix[:, j]
        missing = np.isnan(x)
        knots = layout.edges[j]
        if knots is None:  # categorical: codes 0..k-1, then missing or unseen
            k = layout.categories[j]
            code = np.where(missing, k, np.nan_to_num(x, nan=k)).astype(np.int64)
            code[(code < 0) | (code > k)] = k
            rows_parts.append(every)
            cols_parts.append(start + code)
            data_parts.append(np.full(n, CATEGORY_SCALE))
            continue
        grid = np.asarray(knots)
        basis = _spline_basis(np.where(missing, grid[0], x), grid)
        present = ~missing
        for k in range(basis.shape[1]):
            rows_parts.append(every[present])
            cols_parts.append(np.full(int(present.sum()), start + k))
            data_parts.append(basis[present, k])
        rows_parts.append(every[missing])
        cols_parts.append(np.full(int(missing.sum()), start + len(grid)))
        data_parts.append(np.ones(int(missing.sum())))
    rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols_parts) if cols_parts else np.zeros(0, dtype=np.int64)
    data = np.concatenate(data_parts) if data_parts else np.zeros(0)
    # only the nonzeros: a hinge is 0 below its knot and the basis's last column always is,
    # so about half the spline entries; stored, they would double every product of lbfgs
    nonzero = data != 0
    return sparse.csr_matrix(
        (data[nonzero], (rows[nonzero], cols[nonzero])), shape=(n, layout.width)
    )


def fit_additive(
    matrix: np.ndarray,
    y: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    columns: Sequence[FeatureColumn],
    seed: int = 0,
    c: float | None = None,
    start: AdditiveFit | None = None,
) -> AdditiveFit:
    """Fit on ``fit_rows``; choose the strength on ``valid_rows`` (unless ``c`` is given).
    ``start``: a fit of the same columns to refit (on more rows, at its strength unless
    ``c`` is given): its knots are kept and lbfgs starts from its coefficients, so the refit
    takes a fraction of the iterations."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    fit_rows = np.asarray(fit_rows)
    if len(fit_rows) > MAX_ROWS:
        fit_rows = np.sort(np.random.default_rng(seed).choice(fit_rows, MAX_ROWS, replace=False))
    y_fit = y[fit_rows]
    if y_fit.sum() in (0, len(y_fit)):
        raise TrainingError(f"the fit fold ({len(y_fit)} rows) has a single class")
    if start is not None and start.layout is not None and start.coef is not None:
        layout = start.layout
        c = start.c if c is None else c
    else:
        start = None
        layout = _layout(matrix[fit_rows], columns)
    x_fit = _design(matrix[fit_rows], layout)
    x_valid = _design(matrix[valid_rows], layout) if len(valid_rows) else None
    grid = (c,) if c is not None else C_GRID
    best: tuple[float, np.ndarray, float, float | None] | None = None
    # strongest penalty first, each fit started from the previous one's coefficients: the
    # path converges in a fraction of the iterations of cold starts
    model = LogisticRegression(C=grid[0], max_iter=MAX_ITER, warm_start=True)
    if start is not None and start.coef is not None:
        model.coef_ = start.coef[None, :-1].copy()
        model.intercept_ = start.coef[-1:].copy()
        model.classes_ = np.array([0, 1])
    converged = True
    worse = 0
    for strength in grid:
        model.set_params(C=strength)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x_fit, y_fit.astype(int))
        converged &= not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        loss = None
        if x_valid is not None:
            loss = log_loss(y[valid_rows], model.predict_proba(x_valid)[:, 1])
        if best is None or (loss is not None and best[3] is not None and loss < best[3]):
            best = (strength, model.coef_[0].copy(), float(model.intercept_[0]), loss)
            worse = 0
        else:
            worse += 1
            if worse == 2:  # the loss rose twice past its low: weaker penalties overfit more
                break
    assert best is not None
    strength, coef, intercept, loss = best
    terms = []
    for j in range(len(columns)):
        first = layout.starts[j]
        cut = layout.edges[j]
        if first < 0:  # no training value: the column adds nothing
            terms.append(AdditiveTerm("bins", (0.0,), 0.0))
        elif cut is None:
            k = layout.categories[j]
            values = coef[first : first + k] * CATEGORY_SCALE
            missing = float(coef[first + k]) * CATEGORY_SCALE
            terms.append(AdditiveTerm("categories", tuple(map(float, values)), missing))
        else:
            knots = np.asarray(cut)
            m = len(knots)
            at_knots = _spline_basis(knots, knots) @ coef[first : first + m]
            terms.append(
                AdditiveTerm("knots", tuple(map(float, at_knots)), float(coef[first + m]), cut)
            )
    fitted = AdditiveModel(intercept, term_means(terms, matrix[fit_rows]))
    seconds = time.perf_counter() - started
    return AdditiveFit(
        fitted, strength, loss, seconds, converged, layout, np.append(coef, intercept)
    )


def _spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """(n, len(knots)) columns of a linear spline through ``knots``, flat beyond the ends:
    the standardised value and one hinge per interior knot (its change of slope), then a
    zero column (the missing indicator's place keeps the layout simple). An L2 penalty on
    these coefficients shrinks the term towards a straight line, not towards flat bins."""
    n = len(x)
    m = len(knots)
    out = np.zeros((n, m))
    if m == 1:
        return out
    scale = (knots[-1] - knots[0]) / 4.0 or 1.0
    z = (np.clip(x, knots[0], knots[-1]) - knots[0]) / scale
    out[:, 0] = z
    for i, knot in enumerate(knots[1:-1], start=1):
        out[:, i] = np.maximum(z - (knot - knots[0]) / scale, 0.0)
    return out
