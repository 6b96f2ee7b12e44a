"""Loading from an MLflow registry laid out the way training registers models."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient

from features.settings import StoreSettings
from serving.errors import ModelLoadError
from serving.loading import load_models
from serving.settings import ServingSettings
from tests.serving.helpers import make_table


@pytest.mark.slow  # the registry fixture creates an MLflow store (~12 s once)
def test_champions_load_with_versions_and_run_metrics(registry, models) -> None:
    settings = ServingSettings(tracking_uri=registry.tracking_uri)

    loaded = load_models(settings)

    assert loaded.churn_info.label == "churnlight-churn/1"
    assert loaded.expansion_info.label == "churnlight-expansion/1"
    assert loaded.churn_info.alias == "champion"
    assert loaded.churn_info.metrics == {
        "churn_180d.roc_auc": 0.8,
        "churn_180d.explain_ms_per_row": 0.05,
        "seconds.fit": 1.0,
    }
    client = MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)
    registered = client.get_model_version("churnlight-churn", "1")
    assert (loaded.churn_info.run_id, loaded.churn_info.version) == (registered.run_id, "1")
    table = make_table(10, seed=4)
    np.testing.assert_allclose(
        loaded.churn.predict_proba(table), models.churn.predict_proba(table), atol=0
    )
    assert loaded.expansion.calibration == models.expansion.calibration


@pytest.mark.slow
def test_the_app_serves_registry_models(make_client, registry, settings, keys) -> None:
    client = make_client(
        settings=settings.model_copy(update={"tracking_uri": registry.tracking_uri}),
        load=load_models,
    )

    body = client.get("/v1/model", headers=keys.read_headers).json()

    assert body["churn_model_version"] == "churnlight-churn/1"
    assert body["churn"]["alias"] == "champion"
    assert body["churn"]["metrics"] == {"roc_auc": 0.8, "explain_ms_per_row": 0.05}
    assert body["expansion"]["metrics"] == {"roc_auc": 0.7}


def test_a_missing_store_is_not_loaded_and_is_not_created(tmp_path) -> None:
    settings = ServingSettings(home=tmp_path / "models")

    with pytest.raises(ModelLoadError) as caught:
        load_models(settings)

    db = tmp_path / "models" / "mlflow.db"
    assert str(caught.value) == (
        f"no MLflow store at {str(db)!r}; train and promote models first "
        "(`churnlight train`), or set CHURNLIGHT_TRACKING_URI"
    )
    assert not db.exists() and not (tmp_path / "models").exists()


@pytest.mark.slow
def test_a_missing_alias_names_the_model(registry) -> None:
    settings = ServingSettings(tracking_uri=registry.tracking_uri, champion_alias="gold")

    with pytest.raises(
        ModelLoadError, match=r"cannot load model 'churnlight-churn'@gold from sqlite:"
    ):
        load_models(settings)


def test_default_store_matches_training(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = ServingSettings()
    assert settings.resolved_tracking_uri() == StoreSettings().resolved_tracking_uri()
    assert not settings.sqlite_path().is_relative_to(tmp_path.resolve())  # not the cwd's


@pytest.mark.slow  # an MLflow store of its own
def test_an_unreadable_survival_or_effects_champion_is_logged_and_left_out(
    tmp_path, models, caplog
) -> None:
    """The optional champions: a version that is not a survival (effects) bundle is logged
    and left out, and the scores load without it."""
    from tests.serving.conftest import register

    scratch = tmp_path / "bundles"
    scratch.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register(uri, "churnlight-churn", models.churn, scratch, {})
    register(uri, "churnlight-expansion", models.expansion, scratch, {})
    settings = ServingSettings(tracking_uri=uri)
    with caplog.at_level("ERROR", "churnlight.serving"):
        plain = load_models(settings)
    assert (plain.survival, plain.effects) == (None, None)  # none registered: nothing logged
    assert not [r for r in caplog.records if r.name == "churnlight.serving"]
    # a churn classifier's bundle registered under the survival and the effects names
    register(uri, settings.survival_model_name, models.churn, scratch, {})
    register(uri, settings.effects_model_name, models.churn, scratch, {})
    with caplog.at_level("ERROR", "churnlight.serving"):
        loaded = load_models(settings)
    assert (loaded.survival, loaded.survival_info, loaded.effects, loaded.effects_info) == (
        None, None, None, None,
    )  # fmt: skip
    assert loaded.churn_info.label == "churnlight-churn/1"
    messages = [r.getMessage() for r in caplog.records if r.name == "churnlight.serving"]
    assert any(
        m.startswith(f"survival model {settings.survival_model_name}@champion not loaded, curves")
        for m in messages
    ), messages
    assert any(
        m.startswith(f"play effects {settings.effects_model_name}@champion not loaded: ")
        for m in messages
    ), messages
