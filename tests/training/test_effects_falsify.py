"""The negative-control check on data with a known confounded null effect and a known real one.

A book of 900 accounts x 8 monthly snapshots. Each account has a hidden trouble level h (a
persistent AR(1) over months); churn depends on h; the one feature is h seen through noise,
so last month's feature still says something about h that this month's does not.

- ``hunch`` (inert, true effect 0): CSMs run it on accounts that *look* risky (high feature)
  but that they know to be fine (low h) — the check-in that goes where nothing is wrong. Given
  the feature, its accounts churn less: the estimate credits the play with a saving it did
  not make, and its interval excludes 0.
- ``rule`` (churn log-odds -1.5 on the treated): run on what the feature shows, nothing else;
  the adjustment is right.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from features.model_bundle import FeatureColumn
from training.dataset import LabelSpec, ModelData
from training.effects.falsify import CONFOUNDED, previous_rows
from training.effects.fit import EffectsOptions, fit_effects
from training.effects.treatment import PlayRuns

ACCOUNTS, MONTHS = 900, 8


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _book(seed: int = 3) -> tuple[ModelData, PlayRuns, float]:
    """The book, its play runs and the true effect on the treated of ``rule``."""
    rng = np.random.default_rng(seed)
    h = np.empty((ACCOUNTS, MONTHS))
    h[:, 0] = rng.standard_normal(ACCOUNTS)
    for m in range(1, MONTHS):
        h[:, m] = 0.9 * h[:, m - 1] + np.sqrt(1 - 0.81) * rng.standard_normal(ACCOUNTS)
    feature = h + 0.8 * rng.standard_normal(h.shape)
    h, feature = h.ravel(), feature.ravel()
    n = len(h)
    rule = rng.random(n) < _sigmoid(-2.2 + 1.2 * feature)
    hunch = ~rule & (rng.random(n) < _sigmoid(-3.0 + 1.5 * feature - 2.5 * h))
    base = -1.6 + 1.0 * h
    p0, p1 = _sigmoid(base), _sigmoid(base - 1.5)
    churn = (rng.random(n) < np.where(rule, p1, p0)).astype(float)
    ids = np.repeat([f"a{i:04d}" for i in range(ACCOUNTS)], MONTHS).astype(object)
    months = np.asarray([date(2024, m + 1, 1) for m in range(MONTHS)], dtype="datetime64[D]")
    snaps = np.tile(months, ACCOUNTS)
    data = ModelData(
        matrix=np.column_stack([feature, rng.standard_normal(n)]),
        columns=[FeatureColumn("trouble_seen"), FeatureColumn("noise")],
        labels={"churn_180d": churn},
        label_specs=[LabelSpec("churn_180d", "churn", 210)],
        raw=None,  # type: ignore[arg-type]  # not read by fit_effects
        ids=ids,
        snapshot_date=snaps,
        groups={"segment": np.full(n, "smb", dtype=object)},
    )
    day = np.timedelta64(4, "D")
    runs = PlayRuns(
        np.concatenate([ids[rule], ids[hunch]]),
        np.concatenate([snaps[rule] + day, snaps[hunch] + day]),
        np.asarray(["rule"] * int(rule.sum()) + ["hunch"] * int(hunch.sum()), dtype=object),
    )
    return data, runs, float((p1 - p0)[rule].mean())


def _cell(rows: list[dict], play: str) -> dict:
    return next(r for r in rows if (r["play"], r["segment"]) == (play, "all"))


@pytest.fixture(scope="module")
def fitted() -> tuple[list[dict], list[dict], float]:
    data, runs, true_att = _book()
    checked = fit_effects(data, runs, ["rule", "hunch"]).rows
    unchecked = fit_effects(
        data, runs, ["rule", "hunch"], EffectsOptions(negative_control=False)
    ).rows
    return checked, unchecked, true_att


def test_previous_rows_link_each_snapshot_to_the_account_s_month_before() -> None:
    ids = np.asarray(["b", "a", "a", "b", "a"], dtype=object)
    days = np.asarray(
        ["2024-02-01", "2024-03-01", "2024-01-01", "2024-01-01", "2024-05-01"],
        dtype="datetime64[D]",
    )
    # a: Jan (2) -> Mar (1) is 60 days, too far; Mar -> May too; b: Jan (3) -> Feb (0)
    assert previous_rows(ids, days).tolist() == [3, -1, -1, -1, -1]
    days[1] = np.datetime64("2024-02-01")
    assert previous_rows(ids, days).tolist() == [3, 2, -1, -1, -1]


@pytest.mark.slow
def test_a_confounded_inert_play_fails_the_negative_control(fitted) -> None:
    checked, unchecked, _ = fitted
    plain = _cell(unchecked, "hunch")
    # without the check, the inert play shows a saving, and its interval excludes 0
    assert plain["evidence"] == "ok"
    assert plain["ci_high"] < 0.0
    cell = _cell(checked, "hunch")
    assert cell["evidence"] == CONFOUNDED
    assert "negative control failed" in cell["reason"]
    # a month before the play, its accounts already looked less risky than their comparison
    assert cell["nc_ci_high"] < 0.0
    assert cell["effect"] == pytest.approx(plain["effect"])  # kept for reference


@pytest.mark.slow
def test_a_play_run_on_what_the_data_shows_passes_and_covers_its_true_effect(fitted) -> None:
    checked, _, true_att = fitted
    cell = _cell(checked, "rule")
    assert cell["evidence"] == "ok"
    assert cell["nc_ci_low"] <= 0.0 <= cell["nc_ci_high"]
    assert cell["ci_high"] < 0.0
    assert cell["ci_low"] <= true_att <= cell["ci_high"]


def test_the_plot_draws_a_confounded_cell_apart(tmp_path) -> None:
    from matplotlib.image import imread

    from training.effects.plot import effects_plot

    cell = {"play": "a", "label": "churn_180d", "segment": "all", "effect": -0.05,
            "ci_low": -0.08, "ci_high": -0.02}  # fmt: skip
    ok = effects_plot([{**cell, "evidence": "ok"}], tmp_path / "ok.png")
    bad = effects_plot([{**cell, "evidence": CONFOUNDED}], tmp_path / "confounded.png")
    ok_px, bad_px = imread(ok), imread(bad)
    assert ok_px.shape == bad_px.shape
    blue = (np.abs(ok_px[..., :3] - np.array([0x1F, 0x5F, 0xA8]) / 255).sum(axis=2) < 0.05).sum()
    assert blue > 50  # the point and interval of a cell with evidence are blue
    still_blue = np.abs(bad_px[..., :3] - np.array([0x1F, 0x5F, 0xA8]) / 255).sum(axis=2) < 0.05
    assert still_blue.sum() < blue / 10  # a confounded one is not
