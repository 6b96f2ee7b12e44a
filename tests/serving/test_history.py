"""The history store on DuckDB and on a real PostgreSQL: runs commit at once, re-runs
replace, killed runs leave the previous rows, superseded rows are deleted, the ledger claims
each event once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from serving.history import ROWS, STALE_AFTER, HistoryStore, points_as_dicts
from serving.history_rows import history_rows, new_run_id
from tests.serving.conftest import scored
from tests.serving.helpers import make_table

JUNE, JULY = date(2024, 6, 1), date(2024, 7, 1)


def rows_of(batch, run_id=None, at=None):
    return history_rows(batch, run_id or new_run_id(), at or datetime.now(UTC))


@pytest.fixture(scope="module")
def batches(models, other_models):
    return {
        "june": scored(models, make_table(30, seed=5, snapshot_date=JUNE)),
        "july": scored(models, make_table(30, seed=2, snapshot_date=JULY)),
        "july_v2": scored(other_models, make_table(30, seed=2, snapshot_date=JULY), "2", "2"),
    }


def all_rows(store: HistoryStore) -> pa.Table:
    with store.connect() as con:
        return con.table(ROWS).to_pyarrow()


def test_points_come_oldest_first_one_per_snapshot(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    store.write(rows_of(batches["july"]), "test")
    store.write(rows_of(batches["june"]), "test")

    points = points_as_dicts(store.points(["A001"]))

    assert [p["snapshot_date"] for p in points] == ["2024-06-01", "2024-07-01"]
    july = batches["july"]
    assert points[1]["churn_probability"] == pytest.approx(float(july.churn.probability[1]))
    assert points[1]["risk_tier"] == july.risk_tier[1]
    assert points[1]["churn_model_version"] == "churnlight-churn/1"
    assert points[1]["revenue_at_risk"] == pytest.approx(float(july.revenue_at_risk[1]))
    assert store.points(["nobody"]).num_rows == 0


def test_rerunning_a_snapshot_with_the_same_models_replaces_its_rows(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    first = store.write(rows_of(batches["july"]), "test")
    second = store.write(rows_of(batches["july"]), "test")

    rows = all_rows(store)
    assert rows.num_rows == 30  # the first run's rows were deleted
    assert set(rows.column("run_id").to_pylist()) == {second.run_id}
    assert second.deleted_runs == 1 and first.run_id < second.run_id
    snapshots = store.snapshots()
    assert snapshots.num_rows == 1 and snapshots.column("run_id")[0].as_py() == second.run_id
    assert store.points().num_rows == 30


def test_a_run_killed_before_its_commit_leaves_the_previous_rows(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    store.write(rows_of(batches["july"]), "test")
    before = points_as_dicts(store.points())
    # a second run of the same snapshot and models with other scores, killed after its rows
    killed = rows_of(batches["july"])
    killed = killed.set_column(
        killed.schema.get_field_index("churn_probability"),
        "churn_probability",
        pa.array(np.full(30, 0.999)),
    )
    store.insert(killed)

    assert points_as_dicts(store.points()) == before  # invisible: never a mix
    assert all_rows(store).num_rows == 60

    # the next run commits and cleans; the killed run's rows are stale only after a while
    store.write(rows_of(batches["july"]), "test")
    assert all_rows(store).num_rows == 60
    assert {p["churn_probability"] for p in points_as_dicts(store.points())} != {0.999}


def test_stale_rows_of_a_killed_run_are_deleted(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    long_ago = datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1)
    store.insert(rows_of(batches["june"], at=long_ago))  # killed long ago, never committed

    summary = store.write(rows_of(batches["july"]), "test")

    assert summary.deleted_runs == 1
    assert set(all_rows(store).column("snapshot_date").to_pylist()) == {JULY}


def test_other_model_versions_keep_their_own_run(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    store.write(rows_of(batches["july"]), "test")
    store.write(rows_of(batches["july_v2"]), "test")

    point = points_as_dicts(store.points(["A001"]))
    assert len(point) == 1 and point[0]["churn_model_version"] == "churnlight-churn/2"
    old = store.run_rows(JULY, ("churnlight-churn/1", "churnlight-expansion/1"))
    assert old is not None and old.num_rows == 30
    assert set(old.column("churn_model_version").to_pylist()) == {"churnlight-churn/1"}
    assert store.run_rows(JUNE) is None
    assert store.run_rows(JULY, ("churnlight-churn/2", "churnlight-expansion/2")) is not None


def test_the_scores_view_shows_what_readers_see(history_uri, batches) -> None:
    store = HistoryStore(history_uri)
    store.write(rows_of(batches["july"]), "test")
    store.write(rows_of(batches["july_v2"]), "test")
    store.write(rows_of(batches["june"]), "test")

    with store.connect() as con:
        view = con.table("churnlight_scores").to_pyarrow()

    assert view.num_rows == 60  # June, and July's latest run only
    july = view.filter(pa.compute.equal(view.column("snapshot_date"), pa.scalar(JULY)))
    assert set(july.column("churn_model_version").to_pylist()) == {"churnlight-churn/2"}


def test_the_ledger_claims_each_event_once_per_subscription(history_uri) -> None:
    store = HistoryStore(history_uri)

    first = store.claim([("hook", "e1"), ("hook", "e2"), ("other", "e1")])
    again = store.claim([("hook", "e1"), ("hook", "e3"), ("other", "e1")])

    assert first == [("hook", "e1"), ("hook", "e2"), ("other", "e1")]
    assert again == [("hook", "e3")]


def test_stored_signals_add_up_to_the_raw_score(batches) -> None:
    batch = batches["july"]
    rows = rows_of(batch)
    signals = [json.loads(s) for s in rows.column("churn_signals").to_pylist()]
    drivers = [json.loads(d) for d in rows.column("churn_drivers").to_pylist()]

    for i in range(batch.n):
        total = batch.churn.base_value[i] + sum(v[0] for v in signals[i].values())
        # every signal of 0.001 log-odds or more is kept, each rounded to 4 decimals
        assert total == pytest.approx(batch.churn.raw_score[i], abs=0.002 * 14)
        listed = {d["signal"]: d for d in drivers[i]["up"] + drivers[i]["down"]}
        for name, driver in listed.items():
            assert signals[i][name][0] == pytest.approx(driver["contribution"], abs=1e-4)
            assert signals[i][name][1] == driver["feature"]
    assert rows.column("snapshot_date").to_pylist() == [JULY] * batch.n


def test_an_unreachable_store_is_one_clear_error(tmp_path) -> None:
    from serving.errors import HistoryError

    store = HistoryStore("postgresql://nobody:secret@127.0.0.1:1/none", lock_seconds=0)

    with pytest.raises(
        HistoryError, match=r"cannot open the history store postgres://nobody:\*\*\*@"
    ):
        store.points()
