"""MLflow store, registry, promotion gate, rollback, kill and lock behaviour.

Each test has its own SQLite store in tmp_path. Tests that log models or start processes
take more than a few seconds and are marked slow."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.training.helpers import registry_state
from training import locks
from training.errors import LockedError, RegistryError
from training.gate import decide
from training.locks import registry_lock
from training.options import TrainOptions
from training.publish import publish
from training.registration import recover
from training.store import open_store
from training.train import train_models

REPO = Path(__file__).resolve().parents[2]


# ---- the gate rule (pure) -----------------------------------------------------------------


def test_the_first_version_becomes_champion() -> None:
    promote, reason = decide(0.6, 0.2, None, False, 0.01, 0.03)

    assert promote and "first version" in reason


def test_a_challenger_within_tolerance_is_promoted() -> None:
    promote, _ = decide(0.795, 0.02, 0.80, True, 0.01, 0.03)

    assert promote


def test_a_worse_challenger_is_kept_with_the_reason() -> None:
    promote, reason = decide(0.78, 0.02, 0.80, True, 0.01, 0.03)

    assert not promote
    assert reason == (
        "ROC-AUC 0.7800 is below the champion's 0.8000 minus the tolerance 0.0100 on the "
        "same window"
    )


def test_a_miscalibrated_challenger_is_kept() -> None:
    promote, reason = decide(0.9, 0.05, 0.80, True, 0.01, 0.03)

    assert not promote
    assert reason == "expected calibration error 0.0500 is above the bound 0.0300"


# ---- the lock -----------------------------------------------------------------------------


def test_a_second_holder_of_the_lock_is_refused(settings) -> None:
    with (
        registry_lock(settings),
        pytest.raises(LockedError, match=r"holds .*registry\.lock; nothing was done") as err,
        registry_lock(settings),
    ):
        pass  # pragma: no cover
    assert f"pid {os.getpid()}" in (err.value.holder or "")
    with registry_lock(settings):  # released on exit
        pass


def test_a_waiting_writer_gets_the_lock_when_its_holder_lets_go(settings, monkeypatch) -> None:
    held, refused = threading.Event(), threading.Event()
    real_try = locks._try_acquire

    def try_acquire(lock) -> bool:  # type: ignore[no-untyped-def]
        acquired = real_try(lock)
        if not acquired:
            refused.set()  # the holder lets go once the waiter has been refused
        return acquired

    def hold() -> None:
        with registry_lock(settings):
            held.set()
            refused.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    monkeypatch.setattr(locks, "_try_acquire", try_acquire)

    with registry_lock(settings, timeout=60) as path:
        assert refused.is_set()
        recorded = (path.parent / locks.HOLDER_FILE).read_text()
        assert recorded.startswith(f"pid {os.getpid()} since ")
    holder.join(60)
    assert not holder.is_alive()


def test_the_lock_gives_up_after_its_timeout(settings, monkeypatch) -> None:
    clock = SimpleNamespace(now=0.0)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    fake_time = SimpleNamespace(
        monotonic=lambda: clock.now, sleep=sleep, strftime=locks.time.strftime
    )
    with registry_lock(settings):
        monkeypatch.setattr(locks, "time", fake_time)
        with pytest.raises(LockedError), registry_lock(settings, timeout=1.0):
            pass  # pragma: no cover
    assert clock.now == pytest.approx(1.0)  # tried every RETRY_SECONDS until the timeout


# ---- store, logging, registry -------------------------------------------------------------


def _publish(settings, result, **kwargs):  # type: ignore[no-untyped-def]
    with registry_lock(settings):
        store = open_store(settings)
        return publish(store, settings, result, **kwargs)


@pytest.mark.slow
def test_a_model_loaded_by_alias_scores_like_the_one_in_memory(settings, trained) -> None:
    import mlflow.pyfunc

    from features.model_bundle import bundle_path, load_bundle

    publication = _publish(settings, trained)

    assert {v.version for v in publication.versions.values()} == {"1"}
    rows = trained.data.raw.slice(0, 300)
    store = open_store(settings, create=False)
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

    store = open_store(settings, create=False)
    run = store.client.get_run(publication.run_id)
    assert run.data.tags["feature_table.fingerprint"] == trained.facts["fingerprint"]
    assert run.data.tags["feature_table.as_of"] == "2023-12-02"
    assert (
        run.data.metrics["churn_180d.roc_auc"] == trained.labels["churn_180d"].summary()["roc_auc"]
    )
    assert "churn_180d.backtest_0.scorecard.roc_auc" in run.data.metrics
    assert "expand_180d.explain_ms_per_row" in run.data.metrics
    params = trained.labels["churn_180d"].bundle.metadata["params"]
    assert run.data.params["churn_180d.learning_rate"] == str(params["learning_rate"])
    outcome = trained.labels["churn_180d"]
    assert run.data.params["churn_180d.model_kind"] == outcome.bundle.kind
    assert run.data.params["churn_180d.evaluation"] == "out-of-time"
    for kind, auc in outcome.facts["candidates"]["mean_roc_auc"].items():
        assert run.data.metrics[f"churn_180d.candidates.{kind}.mean_roc_auc"] == auc
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
            candidates=("lightgbm",),  # the additive model would rank it well
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


def _fail_at(monkeypatch, method: str, call: int, done: bool) -> None:  # type: ignore[no-untyped-def]
    """Call number ``call`` of ``MlflowClient.<method>`` raises: after doing its work when
    ``done``, else before."""
    from mlflow import MlflowClient

    real = getattr(MlflowClient, method)
    calls = []

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        if len(calls) == call and not done:
            raise RegistryError(f"injected failure in {method}")
        out = real(self, *args, **kwargs)
        if len(calls) == call:
            raise RegistryError(f"injected failure in {method}")
        return out

    monkeypatch.setattr(MlflowClient, method, failing)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "call", "done"),
    [
        ("create_model_version", 2, False),  # one version registered, the second fails
        ("set_registered_model_alias", 1, True),  # an alias moved, then the failure
    ],
)
def test_a_failure_in_the_registry_step_changes_nothing(
    settings, trained, monkeypatch, method, call, done
) -> None:
    settings = settings.model_copy(update={"promotion_max_ece": 0.2})  # the second is promoted
    _publish(settings, trained)
    before = registry_state(settings)
    _fail_at(monkeypatch, method, call, done)

    with pytest.raises(RegistryError, match=f"injected failure in {method}"):
        _publish(settings, trained)

    assert registry_state(settings) == before


@pytest.mark.slow
def test_a_failed_rollback_is_logged_and_recover_finishes_it(
    settings, trained, monkeypatch, caplog
) -> None:
    from mlflow import MlflowClient

    settings = settings.model_copy(update={"promotion_max_ece": 0.2})
    _publish(settings, trained)
    before = registry_state(settings)
    _fail_at(monkeypatch, "set_registered_model_alias", 1, done=True)

    def unreachable(self, name, version):  # type: ignore[no-untyped-def]
        raise OSError("store unreachable")

    monkeypatch.setattr(MlflowClient, "delete_model_version", unreachable)
    with (
        caplog.at_level(logging.ERROR, logger="churnlight.training"),
        pytest.raises(RegistryError, match="injected failure"),
    ):
        _publish(settings, trained)

    assert sorted(r.getMessage() for r in caplog.records) == [
        "rollback: could not delete version churnlight-churn/2: store unreachable",
        "rollback: could not delete version churnlight-expansion/2: store unreachable",
    ]
    left = registry_state(settings)
    assert {name: s["aliases"] for name, s in left.items()} == {
        name: s["aliases"] for name, s in before.items()
    }
    monkeypatch.undo()
    with registry_lock(settings):
        recovered = recover(open_store(settings), settings)
    assert sorted(recovered["removed"]) == ["churnlight-churn/2", "churnlight-expansion/2"]
    assert registry_state(settings) == before


# ---- other processes: kill and lock -------------------------------------------------------


def _worker(settings, features: Path, **kwargs) -> subprocess.Popen:  # type: ignore[type-arg]
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    code = (
        "from tests.training.helpers import retrain_worker; "
        f"retrain_worker({str(settings.home)!r}, {str(features)!r}, {args})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_pause(proc: subprocess.Popen, step: str, seconds: float = 120) -> None:  # type: ignore[type-arg]
    """Block until the worker says it paused at ``step`` (a line on its stdout)."""
    assert proc.stdout is not None
    lines = []
    while select.select([proc.stdout], [], [], seconds)[0]:
        line = proc.stdout.readline()
        if line == f"paused at {step}\n":
            return
        if not line:  # the worker ended
            break
        lines.append(line)
    proc.kill()
    raise AssertionError(f"worker never paused at {step}: {lines} {proc.communicate()}")


@pytest.mark.slow
@pytest.mark.parametrize("step", ["train", "publish"])
def test_a_retrain_killed_midway_leaves_the_registry_unchanged(
    settings, trained, synthetic_path, step
) -> None:
    _publish(settings, trained)
    before = registry_state(settings)

    proc = _worker(settings, synthetic_path, pause_at=step)
    _wait_for_pause(proc, step)
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
    for name, state in after.items():  # registered but never committed
        assert state["versions"] == [*before[name]["versions"], ("2", "pending")]
    with registry_lock(settings):
        recovered = recover(open_store(settings), settings)
    assert sorted(recovered["removed"]) == ["churnlight-churn/2", "churnlight-expansion/2"]
    assert registry_state(settings) == before


@pytest.mark.slow
def test_two_concurrent_retrains_do_not_both_run(
    settings, trained, synthetic_path, tmp_path
) -> None:
    _publish(settings, trained)
    before = registry_state(settings)
    first = _worker(settings, synthetic_path, pause_at="features")
    _wait_for_pause(first, "features")

    second = subprocess.run(
        [sys.executable, "-m", "churnlight", "retrain", "--source", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "CHURNLIGHT_HOME": str(settings.home)},
        timeout=120,
    )

    assert second.returncode == 75, second.stderr
    summary = json.loads(second.stdout)
    assert summary["status"] == "locked"
    assert f"pid {first.pid}" in summary["holder"]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert registry_state(settings) == before
