"""The recipe: its stored form in a bundle, reading older bundles, and refits from it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from training import calibration, model
from training.champion_refit import score_champion_on_fold
from training.options import TrainOptions
from training.recipe import FitData, Recipe


def test_the_stored_form_is_the_bundle_recipe_dict() -> None:
    options = TrainOptions(
        seed=7, holdout_share=0.25, imbalance="balanced", calibration="platt", valid_snapshots=2
    )

    stored = Recipe.from_options(options, {"learning_rate": 0.1}, {"nps_last": -1}).to_dict()

    assert list(stored) == [
        "params",
        "monotone",
        "imbalance",
        "calibration",
        "valid_snapshots",
        "holdout_share",
        "seed",
        "kind",
        "additive_c",
        "calibration_level",
    ]
    assert stored == {
        "params": {"learning_rate": 0.1},
        "monotone": {"nps_last": -1},
        "imbalance": "balanced",
        "calibration": "platt",
        "valid_snapshots": 2,
        "holdout_share": 0.25,
        "seed": 7,
        "kind": "lightgbm",
        "additive_c": None,
        "calibration_level": "every_account",
    }
    assert Recipe.from_options(options, {}, None).monotone == {}


def test_a_bundle_recipe_round_trips(trained) -> None:
    for outcome in trained.labels.values():
        stored = outcome.bundle.metadata["recipe"]

        recipe = Recipe.from_dict(stored)

        assert recipe.to_dict() == stored
        assert Recipe.from_dict(recipe.to_dict()) == recipe
        assert recipe.params == outcome.params


def test_a_key_an_older_bundle_lacks_takes_the_default() -> None:
    fallback = Recipe(seed=5, holdout_share=0.4)

    recipe = Recipe.from_dict({"params": {"num_leaves": 7}}, fallback)

    assert recipe == Recipe(params={"num_leaves": 7}, seed=5, holdout_share=0.4)
    assert (recipe.monotone, recipe.imbalance, recipe.calibration) == ({}, "sqrt", "auto")
    assert Recipe.from_dict(None) == Recipe()
    assert Recipe.from_dict({"params": None, "monotone": None}) == Recipe()


def test_fit_and_calibrate_pass_every_ingredient_to_lightgbm(trained) -> None:
    data = trained.data
    y = data.labels["churn_180d"]
    labeled = np.flatnonzero(data.labeled("churn_180d"))
    fit_rows, valid_rows = labeled[: len(labeled) * 3 // 4], labeled[len(labeled) * 3 // 4 :]
    recipe = Recipe(
        params={"num_leaves": 7, "learning_rate": 0.1},
        monotone={"nps_last": -1},
        imbalance="balanced",
        calibration="isotonic",
        seed=3,
    )
    fits = FitData(trained.base, y, data.columns, data.matrix, threads=1)

    fitted = recipe.fit(fits, fit_rows, valid_rows)
    cal, _ = recipe.calibrate(fitted, fits, valid_rows)

    direct = model.fit_booster(
        trained.base,
        y,
        fit_rows,
        valid_rows,
        data.columns,
        params={"num_leaves": 7, "learning_rate": 0.1},
        monotone={"nps_last": -1},
        seed=3,
        threads=1,
        imbalance="balanced",
        matrix=data.matrix,
    )
    assert fitted.booster.model_to_string() == direct.booster.model_to_string()
    positives = y[fit_rows].sum()
    assert fitted.params["scale_pos_weight"] == pytest.approx(
        (len(fit_rows) - positives) / positives
    )
    assert fitted.params["seed"] == 3 and fitted.monotone == {"nps_last": -1}
    expected, _ = calibration.fit_calibration(
        direct.raw_score(data.matrix[valid_rows]), y[valid_rows], "isotonic", 3
    )
    assert cal.method == "isotonic" and cal.to_dict() == expected.to_dict()


def test_the_calibration_level_comes_from_every_account_when_the_recipe_says_so(trained) -> None:
    """Shape on the validation rows, level on the wider rows: the mean calibrated
    probability there equals their rate; a recipe of an older bundle ignores them."""
    data = trained.data
    y = data.labels["expand_180d"]
    labeled = np.flatnonzero(data.labeled("expand_180d"))
    fit_rows, rest = labeled[: len(labeled) * 3 // 4], labeled[len(labeled) * 3 // 4 :]
    valid_rows = rest[y[rest] == 1][:60].tolist() + rest[y[rest] == 0][:200].tolist()
    valid_rows = np.sort(np.asarray(valid_rows))  # a sample far richer in positives
    fits = FitData(trained.base, y, data.columns, data.matrix, threads=1)
    recipe = Recipe(calibration="platt", calibration_level="every_account")
    fitted = recipe.fit(fits, fit_rows, valid_rows)

    shifted, facts = recipe.calibrate(fitted, fits, valid_rows, level_rows=rest)
    plain, plain_facts = replace(recipe, calibration_level="validation").calibrate(
        fitted, fits, valid_rows, level_rows=rest
    )

    p_rest = shifted.apply(fitted.raw_score(data.matrix[rest]))
    assert p_rest.mean() == pytest.approx(y[rest].mean(), abs=1e-6)
    assert facts["level_rate"] == pytest.approx(y[rest].mean())
    assert plain.apply(fitted.raw_score(data.matrix[rest])).mean() > y[rest].mean() + 0.02
    assert "level_rate" not in plain_facts
    assert shifted.a == plain.a  # the shape is the validation rows'
    assert Recipe.from_dict({}).calibration_level == "validation"  # bundles before the level


def test_refitting_a_runs_own_recipe_reproduces_its_last_backtest(trained) -> None:
    """The gate's refit of a champion trained with the challenger's recipe gives exactly the
    challenger's predictions on the window (same rows, same seed, same binning)."""
    for label, outcome in trained.labels.items():
        p, rows, how = score_champion_on_fold(trained, label, outcome.bundle)

        assert how == "recipe refit"
        assert outcome.last.name == outcome.curves["window"] == "backtest_0"
        np.testing.assert_array_equal(trained.data.labels[label][rows], outcome.curves["y"])
        np.testing.assert_array_equal(p, outcome.curves["predictions"]["model"])


def test_a_champion_without_recipe_keys_is_refit_with_the_defaults(trained) -> None:
    label = "churn_180d"
    bundle = trained.labels[label].bundle
    stored = bundle.metadata["recipe"]
    assert stored["imbalance"] == "sqrt" and stored["calibration"] == "auto"

    def refit(recipe: dict) -> np.ndarray:
        champion = replace(bundle, metadata={**bundle.metadata, "recipe": recipe})
        return score_champion_on_fold(trained, label, champion)[0]

    full = refit(stored)
    chosen = {
        k: stored[k] for k in ("params", "monotone", "kind", "additive_c", "calibration_level")
    }
    older = refit(chosen)
    other_seed = refit({**stored, "seed": stored["seed"] + 1})
    # (a bundle that old also predates the calibration's level from every account)
    as_lightgbm = refit({**stored, "kind": "lightgbm", "calibration_level": "validation"})
    before_candidates = refit({"params": stored["params"], "monotone": stored["monotone"]})

    np.testing.assert_array_equal(older, full)
    assert not np.array_equal(other_seed, full)
    # a bundle from before the candidates (no kind) is refit as the booster it is
    np.testing.assert_array_equal(before_candidates, as_lightgbm)
