"""Calibration fixes a miscalibrated score and travels as plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.model_bundle import Calibration
from training.calibration import (
    ISOTONIC_MIN_POSITIVES,
    LOSS_TIE,
    fit_calibration,
    fit_isotonic,
    fit_platt,
    shift_level,
)
from training.errors import TrainingError
from training.metrics import ece, roc_auc


def _miscalibrated(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores whose sigmoid overstates the truth: true log-odds are z / 2 - 1."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(z / 2 - 1)))).astype(float)
    return z, y


@pytest.mark.parametrize("method", ["platt", "isotonic", "auto"])
def test_calibration_reduces_ece_out_of_sample(method: str) -> None:
    z_fit, y_fit = _miscalibrated(seed=1)
    z_test, y_test = _miscalibrated(seed=2)
    raw = Calibration("identity").apply(z_test)

    calibration, _ = fit_calibration(z_fit, y_fit, method)  # type: ignore[arg-type]
    calibrated = calibration.apply(z_test)

    assert ece(y_test, raw) > 0.1
    assert ece(y_test, calibrated) < 0.04  # 4,000 rows: the noise floor is about 0.025


def test_platt_recovers_the_true_map_and_keeps_the_ranking() -> None:
    z, y = _miscalibrated(n=20000, seed=3)

    platt = fit_platt(z, y)

    assert platt.a == pytest.approx(0.5, abs=0.05)
    assert platt.b == pytest.approx(-1.0, abs=0.08)
    assert roc_auc(y, platt.apply(z)) == pytest.approx(roc_auc(y, z))


def test_isotonic_is_non_decreasing_and_clipped() -> None:
    z, y = _miscalibrated(seed=4)

    iso = fit_isotonic(z, y)
    grid = np.linspace(-20, 20, 200)
    p = iso.apply(grid)

    assert np.all(np.diff(p) >= 0)
    assert p.min() >= 0.5 / len(y) and p.max() <= 1 - 0.5 / len(y)


def test_isotonic_never_says_never() -> None:
    # The lowest scores have no positive at all: a plain isotonic fit says 0 there.
    z = np.arange(1000.0)
    y = (z >= 900).astype(float)

    p = fit_isotonic(z, y).apply(np.array([-5.0, 0.0, 500.0, 999.0, 2000.0]))

    assert p[0] == pytest.approx(0.5 / 1000) and p[-1] == pytest.approx(1 - 0.5 / 1000)


def test_auto_keeps_platt_on_a_fold_with_few_positives() -> None:
    z, y = _miscalibrated(n=600, seed=6)
    assert y.sum() < ISOTONIC_MIN_POSITIVES

    calibration, facts = fit_calibration(z, y, "auto")

    assert calibration.method == "platt"
    assert facts["isotonic_skipped_positives"] == y.sum()
    assert "cv_log_loss_isotonic" not in facts


def test_calibration_round_trips_through_json() -> None:
    z, y = _miscalibrated(seed=5)
    for calibration in (fit_platt(z, y), fit_isotonic(z, y)):
        again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
        np.testing.assert_array_equal(again.apply(z), calibration.apply(z))


def test_a_one_class_fold_cannot_be_calibrated() -> None:
    with pytest.raises(TrainingError, match="needs both classes"):
        fit_calibration(np.arange(10.0), np.zeros(10))


def test_auto_keeps_a_calibrated_model_as_it_is_and_fixes_a_weighted_one() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(-1.5, 1.2, 8000)
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-z))).astype(float)

    kept, facts = fit_calibration(z, y, "auto")  # z is already the true log-odds
    assert kept.method == "identity"
    assert facts["cv_log_loss_none"] <= facts["cv_log_loss_platt"] * (1 + LOSS_TIE)
    # a class-weighted model's log-odds are shifted up: Platt brings them back
    fixed, _ = fit_calibration(z + 1.0, y, "auto")
    assert fixed.method in ("platt", "isotonic")
    assert abs(fixed.apply(z + 1.0).mean() - y.mean()) < 0.01
    assert fit_calibration(z, y, "none")[0].method == "identity"


@pytest.mark.parametrize("method", ["platt", "isotonic", "identity"])
def test_shift_level_meets_the_rate_and_keeps_the_ranking(method: str) -> None:
    """A map fit on a sample whose rate is off (positives kept twice as often as in the
    population) is moved to the population's rate without reordering anyone."""
    z, y = _miscalibrated(n=20000, seed=5)
    rng = np.random.default_rng(6)
    sample = (y == 1) | (rng.random(len(y)) < 0.5)  # positives over-represented
    fitted = {
        "platt": fit_platt(z[sample], y[sample]),
        "isotonic": fit_isotonic(z[sample], y[sample]),
        "identity": Calibration("identity"),
    }[method]
    assert abs(fitted.apply(z).mean() - y.mean()) > 0.03  # the sample's level is off

    moved = shift_level(fitted, z, y)

    assert moved.apply(z).mean() == pytest.approx(y.mean(), abs=1e-6)
    grid = np.linspace(-8, 8, 400)
    assert np.all(np.diff(moved.apply(grid)) >= 0)
    before, after = fitted.apply(grid), moved.apply(grid)
    assert np.all((after < before) | (before == after))  # one offset, all one way (down)
    assert ece(y, moved.apply(z)) < ece(y, fitted.apply(z))


def test_shift_level_leaves_a_one_class_or_empty_level_alone() -> None:
    platt = Calibration("platt", a=0.5, b=-1.0)
    z = np.linspace(-2, 2, 50)
    assert shift_level(platt, z, np.zeros(50)) == platt
    assert shift_level(platt, z[:0], np.zeros(0)) == platt
