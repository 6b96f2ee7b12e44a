"""History and movers in the API, and what_changed between two stored scores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from serving.history import HistoryStore
from serving.history_rows import history_rows, new_run_id
from serving.movers import what_changed
from tests.serving.conftest import scored
from tests.serving.helpers import make_table
from tests.serving.test_api import assert_problem

JUNE = date(2024, 6, 1)


def test_what_changed_ranks_signals_by_the_move_of_their_contribution() -> None:
    before = {
        "usage": [0.10, "active_users_30d", 40.0],
        "support": [0.30, "open_high_tickets", 3.0],
    }
    after = {
        "usage": [0.90, "active_users_30d", 12.0],
        "support": [0.25, "open_high_tickets", 2.0],
        "champions": [0.40, "champion_departures_90d", 1.0],
        "noise": [0.0006, "x", 1.0],
    }
    drivers = {"up": [{"signal": "usage", "reason": "12 users active (down 70%)"}], "down": []}

    changed = what_changed(json.dumps(before), json.dumps(after), json.dumps(drivers), top=5)

    # noise moved under 0.001 log-odds: not listed
    assert [c["signal"] for c in changed] == ["usage", "champions", "support"]
    usage, champions, support = changed[:3]
    assert usage == {
        "signal": "usage",
        "feature": "active_users_30d",
        "value_before": 40.0,
        "value_after": 12.0,
        "contribution_before": 0.1,
        "contribution_after": 0.9,
        "contribution_change": 0.8,
        "reason": "12 users active (down 70%)",
    }
    assert champions["value_before"] is None and champions["contribution_before"] == 0.0
    assert champions["reason"].startswith("1 champion")  # the catalog's sentence
    assert support["contribution_change"] == pytest.approx(-0.05)
    assert what_changed(json.dumps(before), json.dumps(after), None, top=1)[0]["signal"] == "usage"


@pytest.fixture
def history_settings(settings, tmp_path):
    return settings.model_copy(update={"history_uri": f"duckdb:///{tmp_path / 'h.duckdb'}"})


def seed_june(settings, models, version: str = "1") -> None:
    batch = scored(models, make_table(30, seed=5, snapshot_date=JUNE), version, version)
    HistoryStore(settings.history_uri).write(
        history_rows(batch, new_run_id(), datetime.now(UTC)), "test"
    )


def test_an_accounts_history_has_a_point_per_snapshot(
    make_client, keys, history_settings, models
) -> None:
    seed_june(history_settings, models)
    client = make_client(settings=history_settings)

    body = client.get("/v1/accounts/A001/history", headers=keys.read_headers).json()
    now = client.get("/v1/accounts/A001", headers=keys.read_headers).json()

    assert body["account_id"] == "A001"
    assert [p["snapshot_date"] for p in body["points"]] == ["2024-06-01", "2024-07-01"]
    latest = body["points"][-1]
    for key in ("churn_probability", "expansion_probability", "risk_tier", "mrr"):
        assert latest[key] == now[key]
    assert latest["churn_model_version"] == now["churn_model_version"]
    assert set(latest) == {
        "snapshot_date",
        "churn_probability",
        "expansion_probability",
        "risk_tier",
        "mrr",
        "revenue_at_risk",
        "churn_model_version",
        "expansion_model_version",
    }
    only_july = client.get("/v1/accounts/A050/history", headers=keys.read_headers).json()
    assert len(only_july["points"]) == 1
    missing = client.get("/v1/accounts/ZZZ/history", headers=keys.read_headers)
    assert_problem(missing, "not-in-history", 404, "account 'ZZZ' has no scores in the history")
    assert client.get("/v1/accounts/A001/history").status_code == 401


def test_movers_rank_the_change_between_the_two_latest_snapshots(
    make_client, keys, history_settings, models
) -> None:
    seed_june(history_settings, models)
    client = make_client(settings=history_settings)
    june = scored(models, make_table(30, seed=5, snapshot_date=JUNE))

    up = client.get("/v1/movers?limit=5", headers=keys.read_headers).json()
    down = client.get("/v1/movers?direction=down&limit=500", headers=keys.read_headers).json()

    assert up["from_snapshot"] == "2024-06-01" and up["to_snapshot"] == "2024-07-01"
    assert up["total"] + down["total"] <= 30 and up["total"] > 0 and down["total"] > 0
    changes = [m["change"] for m in up["items"]]
    assert changes == sorted(changes, reverse=True) and all(c > 0 for c in changes)
    assert all(m["change"] < 0 for m in down["items"])
    assert up["next_offset"] == (5 if up["total"] > 5 else None)
    top = up["items"][0]
    i = int(top["account_id"][1:])
    assert top["churn_probability_before"] == pytest.approx(float(june.churn.probability[i]))
    now = client.get(f"/v1/accounts/{top['account_id']}", headers=keys.read_headers).json()
    assert top["churn_probability_after"] == now["churn_probability"]
    assert top["change"] == pytest.approx(now["churn_probability"] - june.churn.probability[i])
    assert top["tier_before"] == june.risk_tier[i] and top["tier_after"] == now["risk_tier"]
    assert top["model_changed"] is False
    assert top["what_changed"]
    sizes = [abs(c["contribution_change"]) for c in top["what_changed"]]
    assert sizes == sorted(sizes, reverse=True)
    for c in top["what_changed"]:
        assert c["contribution_change"] == pytest.approx(
            c["contribution_after"] - c["contribution_before"], abs=1e-4
        )
    page2 = client.get("/v1/movers?limit=5&offset=5", headers=keys.read_headers).json()
    assert {m["account_id"] for m in page2["items"]}.isdisjoint(
        m["account_id"] for m in up["items"]
    )
    smb = client.get("/v1/movers?segment=smb&limit=500", headers=keys.read_headers).json()
    assert smb["total"] and all(m["segment"] == "smb" for m in smb["items"])


def test_a_mover_says_when_the_model_changed_and_prefers_a_same_model_baseline(
    make_client, keys, history_settings, models, other_models
) -> None:
    seed_june(history_settings, other_models, version="2")  # June scored by other models only
    client = make_client(settings=history_settings)

    item = client.get("/v1/movers?limit=1", headers=keys.read_headers).json()["items"][0]
    assert item["model_changed"] is True
    assert (item["churn_model_version_before"], item["churn_model_version_after"]) == (
        "churnlight-churn/2",
        "churnlight-churn/1",
    )

    seed_june(history_settings, models, version="1")  # June re-scored by the serving models,
    seed_june(history_settings, other_models, version="2")  # then by the others again
    client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)
    items = client.get("/v1/movers?limit=500", headers=keys.read_headers).json()["items"]
    # the baseline is June scored by the serving models, though not June's latest run
    assert items and all(m["model_changed"] is False for m in items)
    assert {m["churn_model_version_before"] for m in items} == {"churnlight-churn/1"}
    # the account's history shows June's latest run
    points = client.get("/v1/accounts/A001/history", headers=keys.read_headers).json()["points"]
    assert points[0]["churn_model_version"] == "churnlight-churn/2"


def test_one_snapshot_gives_no_movers_and_history_off_answers_503(
    make_client, keys, history_settings, settings
) -> None:
    client = make_client(settings=history_settings)
    body = client.get("/v1/movers", headers=keys.read_headers).json()
    assert body["items"] == [] and body["total"] == 0 and body["from_snapshot"] is None

    off = make_client(settings=settings.model_copy(update={"history": False}))
    response = off.get("/v1/accounts/A001/history", headers=keys.read_headers)
    assert_problem(
        response,
        "history-unavailable",
        503,
        "history not available: history is off (CHURNLIGHT_HISTORY=false)",
    )
    assert response.headers["retry-after"] == "30"
    assert off.get("/v1/accounts/A001", headers=keys.read_headers).status_code == 200


def test_a_failing_history_store_leaves_the_scores_serving(make_client, keys, settings) -> None:
    broken = settings.model_copy(
        update={"history_uri": "postgresql://nobody:pw@127.0.0.1:1/none", "history_lock_seconds": 0}
    )
    client = make_client(settings=broken)

    assert client.get("/v1/accounts/A001", headers=keys.read_headers).status_code == 200
    response = client.get("/v1/movers", headers=keys.read_headers)
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "history not available: HistoryError: cannot open the history store postgres://nobody:***@"
    )
