"""Prescription: fitting plays get their per-account effects and are ranked by ARR saved."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from features.effects_bundle import EffectsBundle, load_effects_bundle, save_effects_bundle
from features.model_bundle import FeatureColumn
from serving.prescription import prescribe

X = np.array([-1.0, -1.0, 1.0, 1.0])


def _step(low: float, high: float) -> lgb.Booster:
    """A one-split model: ``low`` where x < 0, ``high`` where x > 0 (exactly)."""
    params = {
        "objective": "regression",
        "learning_rate": 1.0,
        "num_leaves": 2,
        "min_data_in_leaf": 1,
        "min_data_in_bin": 1,
        "verbose": -1,
    }
    data = lgb.Dataset(X.reshape(-1, 1), label=np.where(X < 0, low, high), params={"verbose": -1})
    return lgb.train(params, data, num_boost_round=1)


def _bundle() -> EffectsBundle:
    rows = [
        {"play": p, "label": lb, "segment": "all"}
        for p in ("rescue", "review", "guides")
        for lb in ("churn_180d", "expand_180d")
    ]
    return EffectsBundle(
        columns=[FeatureColumn("x")],
        effects=rows,
        uplift={
            ("rescue", "churn_180d"): _step(-0.30, -0.02),
            ("review", "churn_180d"): _step(-0.05, -0.10),
            ("review", "expand_180d"): _step(0.0, 0.08),
        },
    )


def _hit(play: str) -> dict:
    return {"id": play, "title": play, "score": "churn", "actions": ["a"], "owner": "csm"}


def test_plays_are_ranked_by_expected_arr_saved_per_account(tmp_path: Path) -> None:
    bundle = load_effects_bundle(save_effects_bundle(_bundle(), tmp_path / "effects"))
    hits = [[_hit("guides"), _hit("review"), _hit("rescue")] for _ in range(2)]
    x = {"x": np.array([-1.0, 1.0])}
    out = prescribe(hits, x.get, np.array([1000.0, 1000.0]), bundle, {"review": 100.0})

    first, second = out
    # x < 0: rescue saves 12,000 x 0.30 = 3,600; review 12,000 x 0.05 - 100 = 500
    assert [p["id"] for p in first] == ["rescue", "review", "guides"]
    assert first[0]["churn_effect"] == pytest.approx(-0.30)
    assert first[0]["expected_arr_saved"] == pytest.approx(3600.0)
    assert first[0]["expand_effect"] is None
    assert first[1]["expected_arr_saved"] == pytest.approx(500.0)
    assert first[1]["expand_effect"] == pytest.approx(0.0)
    # x > 0: review saves 12,000 x 0.10 - 100 = 1,100, rescue only 240
    assert [p["id"] for p in second] == ["review", "rescue", "guides"]
    assert second[0]["expected_arr_saved"] == pytest.approx(1100.0)
    assert second[0]["expand_effect"] == pytest.approx(0.08)
    # a play without an uplift model keeps its place after the ranked ones, fields null
    assert second[2] == {**_hit("guides"), "churn_effect": None, "expand_effect": None,
                         "expected_arr_saved": None}  # fmt: skip


def test_an_account_without_mrr_has_effects_but_no_arr() -> None:
    out = prescribe(
        [[_hit("rescue")]], {"x": np.array([-1.0])}.get, np.array([np.nan]), _bundle(), {}
    )
    assert out[0][0]["churn_effect"] == pytest.approx(-0.30)
    assert out[0][0]["expected_arr_saved"] is None
