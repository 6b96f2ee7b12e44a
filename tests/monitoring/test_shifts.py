"""Monitoring against known shifts of the synthetic book (``tests.monitoring.helpers``):
drift is flagged on the shifted feature and not on the others, the control is flagged no
more often than the nominal level, the label-free estimate tracks the realised ROC-AUC
without concept shift, and a concept shift is reported as an estimate no longer trusted."""

from __future__ import annotations

import numpy as np
import pytest

from features.model_bundle import ModelBundle
from features.stats import roc_auc
from monitoring.health import HealthSettings, ModelView, assess
from monitoring.realised import realised_performance
from tests.monitoring.helpers import snapshot

LABEL = "churn_180d"
ACCOUNTS = 3000
UNSHIFTED = {
    "mrr",
    "seats",
    "days_to_renewal",
    "lifecycle_stage",
    "champion_departures_90d",
    "nps_last",
    "open_high_tickets",
    "noise",
    "segment",
}


def _view(bundle: ModelBundle) -> list[ModelView]:
    return [ModelView(LABEL, bundle, "1")]


def test_the_bundle_carries_a_profile_of_every_feature_and_its_score(
    churn_bundle: ModelBundle,
) -> None:
    profile = ModelView(LABEL, churn_bundle, "1").profile
    assert profile is not None
    assert set(profile.features) == set(churn_bundle.feature_names)
    assert set(profile.scores) == {LABEL}
    # seats never change per account: the reference is worth one row per account, while
    # the noise column, redrawn every snapshot, is worth one per row
    assert profile.features["seats"].sample_rows == 300
    assert profile.features["noise"].sample_rows > 0.8 * profile.rows


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_a_usage_drop_is_flagged_on_utilisation_and_nothing_unshifted(
    churn_bundle: ModelBundle, seed: int
) -> None:
    frame, _ = snapshot(ACCOUNTS, seed, usage_drop=0.2, segment="smb")
    health = assess(_view(churn_bundle), frame, "2024-06-01")
    assert "seat_utilization_30d" in health.drifted
    assert health.drifted[0] == "seat_utilization_30d"  # it carries the most gain of those
    assert not set(health.drifted) & UNSHIFTED
    assert any("seat_utilization_30d drifted" in c for c in health.concerns)


def test_the_unshifted_control_false_alarms_at_most_at_the_nominal_level(
    churn_bundle: ModelBundle,
) -> None:
    settings = HealthSettings()
    flagged = tested = 0
    for seed in range(200, 212):
        frame, _ = snapshot(ACCOUNTS, seed)
        health = assess(_view(churn_bundle), frame, "2024-06-01", settings=settings)
        rows = health.drift + health.score_drift
        flagged += sum(r.drifted for r in rows)
        tested += len(rows)
    assert tested >= 12 * 3 * 11
    assert flagged / tested <= settings.drift.alpha


@pytest.mark.parametrize(("seed", "drop"), [(301, 0.0), (302, 0.0), (303, 0.2), (304, 0.2)])
def test_without_concept_shift_the_estimate_lands_near_the_realised_auc(
    churn_bundle: ModelBundle, seed: int, drop: float
) -> None:
    frame, y = snapshot(ACCOUNTS, seed, usage_drop=drop)
    p = churn_bundle.predict_proba(frame)
    health = assess(_view(churn_bundle), frame, "2024-06-01", scores={LABEL: p})
    estimated = health.estimated[LABEL].metrics["roc_auc"]
    realised = roc_auc(y, p)
    assert realised is not None
    assert abs(estimated.value - realised) <= 0.03
    rows = realised_performance("2024-06-01", LABEL, y, p)
    assert not rows[0].outside


def test_a_concept_shift_drops_the_realised_auc_and_distrusts_the_estimate(
    churn_bundle: ModelBundle,
) -> None:
    frame, y = snapshot(ACCOUNTS, 401, concept=True)
    p = churn_bundle.predict_proba(frame)
    realised = realised_performance(
        "2024-06-01",
        LABEL,
        y,
        p,
        groups={"segment": np.asarray(frame.column("segment").to_pylist(), dtype=object)},
    )
    overall = realised[0]
    assert overall.group == "all"
    assert overall.roc_auc is not None and overall.roc_auc < 0.6
    assert overall.outside and overall.gap is not None and overall.gap < -0.1
    assert {r.value for r in realised if r.group == "segment"} == {
        "enterprise",
        "mid_market",
        "smb",
    }
    # the features did not move: nothing drifts, yet the monitor says the estimate failed
    current, _ = snapshot(ACCOUNTS, 402)
    health = assess(_view(churn_bundle), current, "2024-12-01", realised=realised)
    assert health.drifted == []
    assert any("can no longer be trusted" in c for c in health.concerns)
    assert health.to_dict()["healthy"] is False
