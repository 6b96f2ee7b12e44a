"""Hot refresh: a changed champion, snapshot file or history is picked up without a manual
step (the checks run here one at a time; tests/cli/test_refresh_serve.py runs the loop in
a real server process)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from serving.history import HistoryStore
from serving.history_rows import history_rows, new_run_id
from serving.loading import models_from_bundles
from serving.refresh import path_stamp
from tests.serving.conftest import scored
from tests.serving.helpers import make_table


def test_a_new_champion_triggers_the_background_reload(make_client, keys, models, other_models):
    champion = {"version": "1"}

    def load(settings):
        pair = models if champion["version"] == "1" else other_models
        return models_from_bundles(pair.churn, pair.expansion, champion["version"], "1")

    client = make_client(load=load)
    refresher = client.app.state.refresher
    refresher.probe = lambda settings: (champion["version"], "1")
    holder = client.app.state.holder

    assert refresher.check() is None
    champion["version"] = "2"
    assert refresher.check() == "models"
    holder.reload().result(timeout=60)  # joins the reload the check started

    body = client.get("/v1/accounts/A001", headers=keys.read_headers).json()
    assert body["churn_model_version"] == "churnlight-churn/2"
    assert refresher.check() is None
    assert refresher.triggered["models"] == 1


def test_a_rewritten_feature_file_triggers_a_reload(make_client, settings, tmp_path):
    from tests.serving.helpers import write_snapshot

    features = write_snapshot(make_table(60, seed=2), tmp_path / "f.parquet")
    client = make_client(settings=settings.model_copy(update={"features": features}))
    refresher = client.app.state.refresher
    refresher.probe = lambda settings: None  # no registry in this test
    built = client.app.state.holder.state

    assert refresher.check() is None
    stamp = path_stamp(features)
    os.utime(features, ns=(stamp + 10**9, stamp + 10**9))  # a new file lands
    assert refresher.check() == "snapshot"
    new = client.app.state.holder.reload().result(timeout=60)

    assert new is not built and new.inputs_stamp == stamp + 10**9
    assert refresher.check() is None


def test_a_run_recorded_elsewhere_refreshes_only_the_history(
    make_client, keys, settings, tmp_path, models
):
    uri = f"duckdb:///{tmp_path / 'h.duckdb'}"
    client = make_client(settings=settings.model_copy(update={"history_uri": uri}))
    refresher = client.app.state.refresher
    refresher.probe = lambda settings: None
    built = client.app.state.holder.state
    assert (
        len(client.get("/v1/accounts/A001/history", headers=keys.read_headers).json()["points"])
        == 1
    )

    june = scored(models, make_table(30, seed=5, snapshot_date=date(2024, 6, 1)))
    HistoryStore(uri).write(history_rows(june, new_run_id(), datetime.now(UTC)), "score")
    assert refresher.check() == "history"

    state = client.app.state.holder.state
    assert state is not built and state.portfolio is built.portfolio  # nothing re-scored
    points = client.get("/v1/accounts/A001/history", headers=keys.read_headers).json()["points"]
    assert [p["snapshot_date"] for p in points] == ["2024-06-01", "2024-07-01"]
    assert (
        client.get("/v1/movers", headers=keys.read_headers).json()["from_snapshot"] == "2024-06-01"
    )
    assert refresher.check() is None


def test_refresh_seconds_zero_starts_no_checker(make_client, settings):
    client = make_client(settings=settings.model_copy(update={"refresh_seconds": 0}))
    assert not client.app.state.refresher._thread.is_alive()
    default = make_client()
    assert default.app.state.refresher._thread.is_alive()
