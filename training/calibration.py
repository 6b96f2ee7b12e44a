"""Probability calibration, fit on an out-of-time fold the booster did not train on.

The booster is trained with class weights (see ``training.model``), so its raw probabilities
overstate the rare class; calibration maps its raw score (log-odds) to a probability:

- Platt: p = sigmoid(a * z + b), by maximum likelihood (Newton's method, two parameters). It
  is strictly increasing, so it leaves every ranking metric unchanged.
- isotonic: the non-decreasing step fit of sklearn's ``IsotonicRegression`` on z, stored as
  its points and applied by linear interpolation (what sklearn's ``predict`` does). It can fix
  any monotone distortion but flattens ranges into ties.
- none (stored as ``identity``): p = sigmoid(z), the model's own probability; right for a
  model fit without class weights (the additive candidate), wrong for the weighted booster.
- auto: the method with the lowest log loss when fit on one half of the fold and scored on
  the other (both ways, averaged; ``none`` fits nothing and is scored on the whole fold);
  a simpler method within ``LOSS_TIE`` of the lowest wins; then refit on the whole fold.
  Isotonic is a candidate only
  with ``ISOTONIC_MIN_POSITIVES`` positives in the fold and wins only when it beats Platt out
  of sample: on a small fold its steps are few and wide, and every account in a step gets the
  same probability (what-ifs inside a step then show no change at all).

**The level from every account** (``shift_level``). The validation fold holds a seeded 30% of
the accounts, so its positive rate is a sample's: on the simulated sources it sits up to 0.06
above or below the rate of every account at the same dates, and a map fit on it carries that
error into every served probability (the largest part of the expansion ECE). The map's shape
needs scores the booster did not fit on, which only the holdout accounts give; its level does
not: every account's rows at the validation dates (none of them a fit row) set it. After the
map is fit on the holdout rows, one offset in log-odds is added so that the mean calibrated
probability over every account's rows at the validation dates equals their positive rate.

Isotonic steps are kept within [floor, 1 - floor], floor = 0.5 / rows of the fold: a step
without positives would otherwise report a churn probability of exactly 0, which no finite
sample supports.

The result is a ``features.model_bundle.Calibration`` that serving applies as is.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import expit

from features.model_bundle import Calibration
from training.errors import TrainingError

Method = Literal["auto", "platt", "isotonic", "none"]
EPS = 1e-6
ISOTONIC_MIN_POSITIVES = 200
LOSS_TIE = 0.002
"""Relative held-out log loss within which the simpler method wins (none, Platt, isotonic):
a fitted map must earn its parameters."""


def fit_platt(z: np.ndarray, y: np.ndarray, iterations: int = 100) -> Calibration:
    """Maximum-likelihood Platt scaling of raw scores ``z`` against 0/1 labels ``y``.

    A tiny ridge (1e-6) keeps the Newton step defined when the fold is separable."""
    z = np.asarray(z, dtype=float)
    y = np.asarray(y, dtype=float)
    # Start from the constant model (a = 0, b = the base rate's log-odds): Newton's method on
    # this convex loss then converges without step control.
    a, b = 0.0, float(np.log((y.mean() + EPS) / (1 - y.mean() + EPS)))
    for _ in range(iterations):
        p = expit(a * z + b)
        w = p * (1 - p)
        grad = np.array([np.sum((p - y) * z) + 1e-6 * a, np.sum(p - y) + 1e-6 * b])
        hess = np.array(
            [[np.sum(w * z * z) + 1e-6, np.sum(w * z)], [np.sum(w * z), np.sum(w) + 1e-6]]
        )
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return Calibration("platt", a=float(a), b=float(b))


def fit_isotonic(z: np.ndarray, y: np.ndarray) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    floor = 0.5 / max(len(y), 1)
    model = IsotonicRegression(
        y_min=floor, y_max=1.0 - floor, increasing=True, out_of_bounds="clip"
    )
    model.fit(np.asarray(z, dtype=float), np.asarray(y, dtype=float))
    return Calibration(
        "isotonic",
        x=tuple(float(v) for v in model.X_thresholds_),
        y=tuple(float(v) for v in model.y_thresholds_),
    )


def shift_level(calibration: Calibration, z: np.ndarray, y: np.ndarray) -> Calibration:
    """``calibration`` moved by one log-odds offset so that its mean probability over raw
    scores ``z`` equals the positive rate of ``y`` (the map's shape is kept; a rate of 0 or
    1, or no rows, leaves it as it is)."""
    z = np.asarray(z, dtype=float)
    rate = float(np.mean(y)) if len(y) else 0.0
    if not 0.0 < rate < 1.0:
        return calibration
    p = np.clip(calibration.apply(z), EPS, 1 - EPS)
    base = np.log(p / (1 - p))
    offset = 0.0
    for _ in range(50):  # Newton on a monotone function of one variable
        q = expit(base + offset)
        gap = float(q.mean()) - rate
        slope = float(np.mean(q * (1 - q)))
        if abs(gap) < 1e-12 or slope <= 0:
            break
        offset -= gap / slope
    if calibration.method == "isotonic":
        ys = np.clip(np.asarray(calibration.y, dtype=float), EPS, 1 - EPS)
        moved = expit(np.log(ys / (1 - ys)) + offset)
        return Calibration("isotonic", x=calibration.x, y=tuple(float(v) for v in moved))
    if calibration.method == "platt":
        return Calibration("platt", a=calibration.a, b=calibration.b + offset)
    return Calibration("platt", a=1.0, b=offset)  # identity: sigmoid(z + offset)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    y = np.asarray(y, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_calibration(
    z: np.ndarray, y: np.ndarray, method: Method = "auto", seed: int = 0
) -> tuple[Calibration, dict[str, float]]:
    """The calibration of raw scores ``z`` for labels ``y``, and the facts of the choice."""
    z = np.asarray(z, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or y.sum() == 0 or y.sum() == len(y):
        raise TrainingError(
            f"cannot calibrate on a validation fold of {len(y)} row(s) with "
            f"{int(y.sum())} positive(s): it needs both classes; use a longer history"
        )
    facts: dict[str, float] = {}
    if method == "none":
        return Calibration("identity"), facts
    isotonic_allowed = y.sum() >= ISOTONIC_MIN_POSITIVES
    if method == "auto" and not isotonic_allowed:
        facts["isotonic_skipped_positives"] = float(y.sum())
    if method == "auto":
        rng = np.random.default_rng(seed)
        half = rng.permutation(len(y)) < len(y) // 2
        losses = {"none": log_loss(y, Calibration("identity").apply(z)), "platt": 0.0}
        if isotonic_allowed:
            losses["isotonic"] = 0.0
        for a, b in ((half, ~half), (~half, half)):
            if y[a].sum() in (0, len(y[a])) or len(y[b]) == 0:  # too few rows to compare
                losses = {"platt": 0.0}
                break
            losses["platt"] += log_loss(y[b], fit_platt(z[a], y[a]).apply(z[b])) / 2
            if isotonic_allowed:
                losses["isotonic"] += log_loss(y[b], fit_isotonic(z[a], y[a]).apply(z[b])) / 2
        facts.update({f"cv_log_loss_{k}": float(v) for k, v in losses.items()})
        lowest = min(losses.values())
        best = next(k for k in losses if losses[k] <= lowest * (1 + LOSS_TIE))
        if best == "none":
            return Calibration("identity"), facts
        method = "isotonic" if best == "isotonic" else "platt"
    calibration = fit_platt(z, y) if method == "platt" else fit_isotonic(z, y)
    return calibration, facts
