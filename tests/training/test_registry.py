"""MLflow store, registry, promotion gate, rollback, kill and lock behaviour.

Each test has its own SQLite store in tmp_path. Tests that log models or start processes
take more than a few seconds and are marked slow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.helpers import registry_state
from training import registry
from training.errors import LockedError, RegistryError
from training.train import TrainOptions, train_models

REPO = Path(__file__).resolve().parents[2]


# ---- the gate rule (pure) -----------------------------------------------------------------


def test_the_first_version_becomes_champion() -> None:
    promote, reason = registry.decide(0.6, 0.2, None, False, 0.01, 0.03)

    assert promote and "first version" in reason


def test_a_challenger_within_tolerance_is_promoted() -> None:
    promote, _ = registry.decide(0.795, 0.02, 0.80, True, 0.01, 0.03)

    assert promote


def test_a_worse_challenger_is_kept_with_the_reason() -> None:
    promote, reason = registry.decide(0.78, 0.02, 0.80, True, 0.01, 0.03)

    assert not promote
    assert reason == (
        "ROC-AUC 0.7800 is below the champion's 0.8000 minus the tolerance 0.0100 on the "
        "same window"
    )


def test_a_miscalibrated_challenger_is_kept() -> None:
    promote, reason = registry.decide(0.9, 0.05, 0.80, True, 0.01, 0.03)

    assert not promote
    assert reason == "expected calibration error 0.0500 is above the bound 0.0300"


# ---- the lock -----------------------------------------------------------------------------


def test_a_second_holder_of_the_lock_is_refused(settings) -> None:
    with (
        registry.registry_lock(settings),
        pytest.raises(LockedError, match=r"holds .*registry\.lock; nothing was done") as err,
        registry.registry_lock(settings),
    ):
        pass  # pragma: no cover
    assert f"pid {os.getpid()}" in (err.value.holder or "")
    with registry.registry_lock(settings):  # released on exit
        pass


def test_the_lock_waits_up_to_its_timeout(settings) -> None:
    with registry.registry_lock(settings):
        started = time.monotonic()
        with pytest.raises(LockedError), registry.registry_lock(settings, timeout=0.5):
            pass  # pragma: no cover
        assert time.monotonic() - started >= 0.5


# ---- store, logging, registry -------------------------------------------------------------


def _publish(settings, result, **kwargs):  # type: ignore[no-untyped-def]
    with registry.registry_lock(settings):
        store = registry.open_store(settings)
        return registry.publish(store, settings, result, **kwargs)


@pytest.mark.slow
def test_a_model_loaded_by_alias_scores_like_the_one_in_memory(settings, trained) -> None:
    import mlflow.pyfunc

    from features.model_bundle import bundle_path, load_bundle

    publication = _publish(settings, trained)

    assert {v.version for v in publication.versions.values()} == {"1"}
    rows = trained.data.raw.slice(0, 300)
    store = registry.open_store(settings, create=False)
    for outcome in trained.labels.values():
        name = settings.model_name(outcome.kind)
        in_memory = outcome.bundle.predict_proba(rows)
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        frame = rows.select(outcome.bundle.input_columns).to_pandas()
        for column in outcome.bundle.columns:
            if column.kind == "categorical":
                frame[column.name] = frame[column.name].astype(object)
        np.testing.assert_array_equal(np.asarray(pyfunc.predict(frame)), in_memory)
        location = store.client.get_model_version_download_uri(name, "1")
        local = mlflow.artifacts.download_artifacts(artifact_uri=location)
        served = load_bundle(bundle_path(local))  # the serving side's path, no training import
        np.testing.assert_array_equal(served.predict_proba(rows), in_memory)
        assert served.feature_specs == outcome.bundle.feature_specs
        signature = pyfunc.metadata.get_input_schema().input_names()
        assert signature == outcome.bundle.input_columns


@pytest.mark.slow
def test_the_run_records_params_metrics_fingerprint_and_plots(settings, trained) -> None:
    publication = _publish(settings, trained)

    store = registry.open_store(settings, create=False)
    run = store.client.get_run(publication.run_id)
    assert run.data.tags["feature_table.fingerprint"] == trained.facts["fingerprint"]
    assert run.data.tags["feature_table.as_of"] == "2023-12-02"
    assert (
        run.data.metrics["churn_180d.roc_auc"] == trained.labels["churn_180d"].summary()["roc_auc"]
    )
    assert "churn_180d.backtest_0.scorecard.roc_auc" in run.data.metrics
    assert "expand_180d.explain_ms_per_row" in run.data.metrics
    assert run.data.params["churn_180d.learning_rate"]
    artifacts = {
        f.path for f in store.client.list_artifacts(publication.run_id, "evaluation/churn_180d")
    }
    for name in ("shap_beeswarm.png", "calibration_curve.png", "gains_lift.png", "segments.csv"):
        assert f"evaluation/churn_180d/{name}" in artifacts


@pytest.mark.slow
def test_only_the_gate_moves_the_champion(settings, trained, synthetic_path) -> None:
    from training import dataset

    settings = settings.model_copy(update={"promotion_max_ece": 0.2})  # the AUC rule alone
    first = _publish(settings, trained)
    assert all(v.promoted for v in first.versions.values())
    worse = train_models(
        dataset.load(synthetic_path),
        TrainOptions(
            backtests=2,
            threads=1,
            seed=11,
            top_accounts=0,
            # leaves need more rows than a fold has: no split, a constant score (AUC 0.5);
            # stumps are no good here, the synthetic risk is additive and they rank it well
            params={"num_leaves": 2, "max_depth": 1, "min_data_in_leaf": 1_000_000},
            labels=("churn_180d",),
        ),
    )

    second = _publish(settings, worse)

    decision = second.decisions["churn_180d"]
    assert not decision.promote
    assert decision.reason.startswith("ROC-AUC") and "below the champion's" in decision.reason
    assert decision.champion_scored_as == "recipe refit"
    assert decision.champion_auc == pytest.approx(
        trained.labels["churn_180d"].last.metrics["model"]["roc_auc"]
    )
    state = registry_state(settings)
    assert state["churnlight-churn"]["aliases"] == {"champion": "1"}
    assert state["churnlight-churn"]["versions"] == [("1", "committed"), ("2", "committed")]

    third = _publish(settings, trained)  # the same recipe again: not worse, promoted
    assert third.versions["churn_180d"].promoted
    assert registry_state(settings)["churnlight-churn"]["aliases"] == {"champion": "3"}


@pytest.mark.slow
@pytest.mark.parametrize("fail_after", ["register", "alias"])
def test_a_failure_in_the_registry_step_changes_nothing(settings, trained, fail_after) -> None:
    settings = settings.model_copy(update={"promotion_max_ece": 0.2})  # the second is promoted
    _publish(settings, trained)
    before = registry_state(settings)

    with pytest.raises(RegistryError, match="injected failure"):
        _publish(settings, trained, fail_after=fail_after)

    assert registry_state(settings) == before


# ---- other processes: kill and lock -------------------------------------------------------


def _worker(settings, features: Path, **kwargs) -> subprocess.Popen:  # type: ignore[type-arg]
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    code = (
        "from tests.training.helpers import retrain_worker; "
        f"retrain_worker({str(settings.models_dir)!r}, {str(features)!r}, {args})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(marker: Path, proc: subprocess.Popen, seconds: float = 120) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker never reached its pause")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["train", "publish"])
def test_a_retrain_killed_midway_leaves_the_registry_unchanged(
    settings, trained, synthetic_path, tmp_path, step
) -> None:
    _publish(settings, trained)
    before = registry_state(settings)
    marker = tmp_path / "paused"

    proc = _worker(settings, synthetic_path, pause_at=step, marker=str(marker))
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    assert proc.returncode == -signal.SIGKILL
    assert registry_state(settings) == before


@pytest.mark.slow
def test_a_kill_inside_the_registry_step_never_moves_the_champion(
    settings, trained, synthetic_path
) -> None:
    _publish(settings, trained)
    before = registry_state(settings)

    proc = _worker(settings, synthetic_path, kill_in_registry=True)
    proc.wait(timeout=300)

    assert proc.returncode == -signal.SIGKILL
    after = registry_state(settings)
    assert {name: s["aliases"] for name, s in after.items()} == {
        name: s["aliases"] for name, s in before.items()
    }
    pending = [v for s in after.values() for v in s["versions"] if v[1] == "pending"]
    assert pending  # registered but never committed
    with registry.registry_lock(settings):
        recovered = registry.recover(registry.open_store(settings), settings)
    assert sorted(recovered["removed"]) == ["churnlight-churn/2", "churnlight-expansion/2"]
    assert registry_state(settings) == before


@pytest.mark.slow
def test_two_concurrent_retrains_do_not_both_run(
    settings, trained, synthetic_path, tmp_path
) -> None:
    _publish(settings, trained)
    before = registry_state(settings)
    marker = tmp_path / "holding"
    first = _worker(settings, synthetic_path, pause_at="features", marker=str(marker))
    _wait_for(marker, first)

    second = subprocess.run(
        [sys.executable, "-m", "churnlight", "retrain", "--source", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "CHURNLIGHT_MODELS_DIR": str(settings.models_dir)},
        timeout=120,
    )

    assert second.returncode == 75, second.stderr
    summary = json.loads(second.stdout)
    assert summary["status"] == "locked"
    assert f"pid {first.pid}" in summary["holder"]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert registry_state(settings) == before
