"""Candidate choice: the additive model wins on a signal it can express, the trees where it
cannot; ties go to the simpler; the registered bundle is the chosen kind."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from features.model_bundle import FeatureColumn
from training import splits
from training.candidates import TIE, choose, fit_candidates, refit_candidates
from training.dataset import LabelSpec, ModelData
from training.options import TrainOptions
from training.recipe import FitData, Recipe
from training.train import train_models


def temporal_data(signal: str, accounts: int = 600, months: int = 20, seed: int = 0) -> ModelData:
    """Accounts x monthly snapshots; churn drawn from ``signal``: "linear" (a sum of two
    features, many noise columns) or "interaction" (the sign of a product: no additive
    model can express it)."""
    rng = np.random.default_rng(seed)
    n = accounts * months
    acc = np.repeat(np.arange(accounts), months)
    month = np.tile(np.arange(months), accounts)
    x = rng.normal(size=(n, 12))
    if signal == "linear":
        z = -2.0 + 1.2 * x[:, 0] - 1.0 * x[:, 1]
    else:
        z = -1.5 + 3.0 * np.sign(x[:, 0] * x[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    y[month >= months - 7] = np.nan
    snapshot = (np.datetime64("2022-01", "M") + month.astype("timedelta64[M]")).astype(
        "datetime64[D]"
    )
    columns = [FeatureColumn(f"f{j}") for j in range(12)]
    raw = pa.table({f"f{j}": x[:, j] for j in range(12)})
    return ModelData(
        matrix=x,
        columns=columns,
        labels={"churn_180d": y},
        label_specs=[LabelSpec("churn_180d", "churn", 210)],
        raw=raw,
        ids=np.array([f"a{i:04d}" for i in range(accounts)], dtype=object)[acc],
        snapshot_date=snapshot,
        facts={"as_of": "2023-09-01", "horizon_days": 180, "grace_days": 30},
    )


OPTIONS = TrainOptions(
    backtests=2, labels=("churn_180d",), with_baselines=False, top_accounts=0, threads=1
)


@pytest.mark.parametrize(
    ("signal", "expected"), [("linear", {"additive"}), ("interaction", {"lightgbm", "blend"})]
)
def test_the_candidate_the_data_calls_for_is_chosen(signal, expected) -> None:
    result = train_models(temporal_data(signal), OPTIONS)

    outcome = result.labels["churn_180d"]
    facts = outcome.facts["candidates"]
    assert facts["chosen"] in expected, facts
    assert outcome.bundle.kind == facts["chosen"]
    assert outcome.bundle.metadata["recipe"]["kind"] == facts["chosen"]
    means = facts["mean_roc_auc"]
    if signal == "interaction":
        assert means["lightgbm"] > means["additive"] + 0.1
    # the registered model scores like the window's chosen candidate would
    assert outcome.last.metrics["model"] == outcome.last.metrics[facts["chosen"]]


def test_the_registered_model_is_refit_on_every_labelled_row() -> None:
    data = temporal_data("linear", accounts=300, months=20, seed=1)
    result = train_models(data, OPTIONS)

    rows = result.labels["churn_180d"].facts["rows"]
    assert rows["refit"] == int(data.labeled("churn_180d").sum())
    assert rows["refit"] > rows["fit"] + rows["valid"]  # the holdout accounts' early rows too


def test_a_backtest_window_scores_the_recipe_refit_on_every_row_before_its_cutoff() -> None:
    """A window's candidates are fit and validated as the final model is, then refit on every
    labelled row whose label had closed by the cutoff (the holdout accounts' purged rows and
    every account at the validation dates included): the model a user would have registered
    then, not the fit-fold model."""
    data = temporal_data("interaction", accounts=300, months=20, seed=3)
    result = train_models(data, OPTIONS)
    outcome = result.labels["churn_180d"]
    fold = outcome.last_fold
    assert fold is not None and fold.cutoff is not None
    labeled = data.labeled("churn_180d")
    before_cutoff = np.isin(data.snapshot_date, np.array(fold.train_dates, dtype="datetime64[D]"))
    refit_rows = np.flatnonzero(before_cutoff & labeled)
    y = data.labels["churn_180d"]
    assert all(
        t + np.timedelta64(fold.span_days, "D") <= np.datetime64(fold.cutoff)
        for t in np.array(fold.train_dates, dtype="datetime64[D]")
    )
    assert outcome.last.rows["refit"] == len(refit_rows)
    assert outcome.last.rows["refit"] > outcome.last.rows["fit"] + outcome.last.rows["valid"]

    recipe = Recipe.from_dict(outcome.bundle.metadata["recipe"])
    fits = FitData(result.base, y, data.columns, data.matrix, threads=1)
    holdout = splits.holdout_accounts(data.ids, recipe.holdout_share, recipe.seed)
    fit, valid, test = fold.masks(data.snapshot_date, holdout)
    # the only window is the earliest: it chooses the additive strength on its own path
    assert [w.name for w in outcome.windows] == ["backtest_0"]
    every_valid = fold.masks(data.snapshot_date)[1]  # every account at the validation dates
    fold_fit = fit_candidates(
        recipe,
        fits,
        np.flatnonzero(fit & labeled),
        np.flatnonzero(valid & labeled),
        level_rows=np.flatnonzero(every_valid & labeled),  # where the calibrations' level is set
    )
    refit = refit_candidates(fold_fit, recipe, fits, refit_rows)
    x_test = data.matrix[np.flatnonzero(test & labeled)]
    for kind in ("lightgbm", "additive", "blend"):
        scored = outcome.curves["predictions"][kind]
        np.testing.assert_allclose(scored, refit.predict(kind, x_test), rtol=1e-12)
        assert not np.allclose(scored, fold_fit.predict(kind, x_test))
    assert refit.tree.best_iteration == fold_fit.tree.best_iteration  # the validated count


def test_ties_go_to_the_simpler_candidate() -> None:
    kind, facts = choose(
        {"additive": [0.80, 0.787], "lightgbm": [0.80, 0.7815], "blend": [0.81, 0.78]}
    )
    assert kind == "additive"  # the blend leads by 0.0015 < TIE
    assert facts["mean_roc_auc"]["blend"] == pytest.approx(0.795)
    assert "simpler" in facts["reason"]

    kind, _ = choose({"additive": [0.70], "lightgbm": [0.70 + 2 * TIE], "blend": [0.70 + 2 * TIE]})
    assert kind == "lightgbm"
    kind, facts = choose({"additive": [None], "lightgbm": [None], "blend": [None]})
    assert kind == "lightgbm" and facts["reason"] == "no score"


def test_eight_labelled_months_train_with_a_grouped_evaluation_that_says_it_is_weaker() -> None:
    data = temporal_data("linear", accounts=600, months=15, seed=2)  # 8 labelled months
    assert len(np.unique(data.snapshot_date[data.labeled("churn_180d")])) == 8

    outcome = train_models(data, OPTIONS).labels["churn_180d"]

    assert outcome.facts["evaluation"] == "grouped-by-account"
    assert any("weaker evidence than an out-of-time backtest" in n for n in outcome.notes)
    assert [w.name for w in outcome.windows] == ["grouped_0", "grouped_1"]
    # every labelled row is tested exactly once, in its account's group
    assert sum(w.rows["test"] for w in outcome.windows) == int(data.labeled("churn_180d").sum())
    assert outcome.last.metrics["model"]["roc_auc"] > 0.75
    assert outcome.facts["rows"]["refit"] == int(data.labeled("churn_180d").sum())


def test_the_choice_keeps_to_the_allowed_candidates() -> None:
    from dataclasses import replace

    outcome = train_models(
        temporal_data("interaction", accounts=300, seed=3),
        replace(OPTIONS, candidates=("additive",)),
    ).labels["churn_180d"]

    assert outcome.bundle.kind == "additive"  # although the trees rank this signal far better
    means = outcome.facts["candidates"]["mean_roc_auc"]
    assert means["lightgbm"] is None and means["additive"] is not None
    assert outcome.last.metrics["lightgbm"]["roc_auc"] > outcome.last.metrics["model"]["roc_auc"]
