"""Webhook alerts: the subscriptions file, the events, and delivery to a real HTTP receiver
(signature, retries, dead letter, replay, at most once per subscription)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from pathlib import Path

import pytest

from features.errors import ConfigError
from serving.alerts import Subscription, event_id, events_for, load_alerts
from serving.batch import score_file
from serving.delivery import Delivery, Dispatcher, Policy, replay
from serving.errors import AlertsConfigError
from serving.settings import ServingSettings
from tests.serving.conftest import fixed_loader
from tests.serving.helpers import make_table, write_snapshot
from tests.serving.receiver import Receiver, closed_port, running

FAST = Policy(max_attempts=3, max_seconds=10, backoff_seconds=0.01, timeout_seconds=5)
SECRET = "s3cret-signing-key"


def write_alerts(path: Path, url: str, **extra: object) -> Path:
    sub = {"url": url, "secret_env": "CS_HOOK_SECRET", "events": ["tier_entered"], **extra}
    path.write_text(json.dumps({"subscriptions": [sub]}))  # JSON is YAML
    return path


def point(account: str, tier: str, churn: float, expansion: float = 0.1, **extra):
    return {
        "account_id": account,
        "snapshot_date": "2024-07-01",
        "churn_probability": churn,
        "expansion_probability": expansion,
        "risk_tier": tier,
        "segment": "smb",
        "csm_id": "csm1",
        "churn_model_version": "churnlight-churn/1",
        "expansion_model_version": "churnlight-expansion/1",
        **extra,
    }


# ---- the file ---------------------------------------------------------------------------------


def test_a_bad_alerts_file_names_the_file_the_key_and_the_reason(tmp_path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "subscriptions:\n"
        "  - url: ftp://x\n    events: [tier_entered]\n"
        "  - url: https://h.example/x\n    events: [risk_jump]\n    min_jump: 2\n    colour: red\n"
    )
    with pytest.raises(AlertsConfigError) as err:
        load_alerts(path, {})
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "subscriptions[0].url: String should match pattern" in message
    assert "subscriptions[1].min_jump: Input should be less than or equal to 1" in message
    assert "subscriptions[1].colour: Extra inputs are not permitted" in message

    write_alerts(path, "https://h.example/x")
    with pytest.raises(
        AlertsConfigError,
        match=r"subscriptions\[0\].secret_env: environment "
        r"variable CS_HOOK_SECRET is not set",
    ):
        load_alerts(path, {"CS_HOOK_SECRET": None})
    config = load_alerts(path, {"CS_HOOK_SECRET": SECRET})
    assert config.secrets == {config.subscriptions[0].key: SECRET}


def test_an_invalid_alerts_file_stops_score_and_serve_at_start(tmp_path, settings, models) -> None:
    from serving.app import create_app

    path = tmp_path / "alerts.yaml"
    path.write_text("subscriptions: [{url: 'https://h.example/x', events: [nope]}]")
    bad = settings.model_copy(update={"alerts_file": path})

    with pytest.raises(
        AlertsConfigError, match=r"subscriptions\[0\]\.events\[0\]: Input should be"
    ):
        create_app(bad, load=fixed_loader(models))
    with pytest.raises(AlertsConfigError, match=r"alerts\.yaml: subscriptions"):
        score_file(settings.features, tmp_path / "s.parquet", bad, load=fixed_loader(models))
    assert not (tmp_path / "s.parquet").exists()
    write_alerts(path, "https://h.example/x", secret_env=None)
    no_ledger = settings.model_copy(update={"alerts_file": path, "history": False})
    with pytest.raises(ConfigError, match="CHURNLIGHT_ALERTS_FILE needs the history store"):
        create_app(no_ledger, load=fixed_loader(models))


# ---- events (pure) -----------------------------------------------------------------------------


def test_events_fire_on_entering_a_tier_a_jump_and_expansion_readiness() -> None:
    sub = Subscription(
        url="https://h.example/x",
        events=["tier_entered", "risk_jump", "expansion_ready"],
        min_tier="high",
        min_jump=0.10,
        min_expansion=0.40,
    )
    current = [
        point("A1", "high", 0.30, main_reason="1 champion left"),  # first snapshot: fires
        point("A2", "critical", 0.60),  # was high: already in, no tier event; +0.15 jump
        point("A3", "high", 0.31, expansion=0.45),  # was medium: enters; expansion crosses
        point("A4", "medium", 0.20, expansion=0.50),  # expansion was already ready: nothing
    ]
    previous = {
        "A2": point("A2", "high", 0.45, snapshot_date="2024-06-01"),
        "A3": point("A3", "medium", 0.22, expansion=0.30, snapshot_date="2024-06-01"),
        "A4": point("A4", "medium", 0.21, expansion=0.41, snapshot_date="2024-06-01"),
    }

    events = events_for(sub, current, previous)

    got = {(e.account_id, e.kind) for e in events}
    assert got == {
        ("A1", "tier_entered"),
        ("A2", "risk_jump"),
        ("A3", "tier_entered"),
        ("A3", "expansion_ready"),
    }
    by = {(e.account_id, e.kind): e for e in events}
    assert by["A1", "tier_entered"].reason == (
        "entered risk tier high (its first snapshot in history); main reason: 1 champion left"
    )
    assert by["A2", "risk_jump"].reason == (
        "churn probability rose from 0.45 to 0.60 (+0.15) since 2024-06-01"
    )
    assert by["A3", "tier_entered"].event_id == event_id(
        "tier_entered", "A3", "2024-07-01", "churnlight-churn/1", "churnlight-expansion/1"
    )
    # filters apply to the account at the new snapshot
    only_mid = sub.model_copy(update={"segments": ["mid_market"]})
    assert events_for(only_mid, current, previous) == []
    # a model change is said in the reason, and gives other ids
    moved = {**previous["A3"], "churn_model_version": "churnlight-churn/0"}
    again = events_for(sub, current, {**previous, "A3": moved})
    entered = next(e for e in again if e.account_id == "A3" and e.kind == "tier_entered")
    assert entered.reason.endswith(
        "[models changed: churnlight-churn/0 / churnlight-expansion/1 -> "
        "churnlight-churn/1 / churnlight-expansion/1]"
    )
    assert entered.event_id == by["A3", "tier_entered"].event_id  # same new snapshot+models


# ---- delivery to a real receiver --------------------------------------------------------------


def delivery(url: str, fmt: str = "json", secret: str | None = SECRET) -> Delivery:
    body = {
        "event_id": "e" * 32,
        "kind": "tier_entered",
        "account_id": "A1",
        "snapshot_date": "2024-07-01",
        "reason": "entered risk tier high",
        "account": {"account_id": "A1", "mrr": 1200.0},
    }
    return Delivery("hook", url, fmt, "CS_HOOK_SECRET", secret, body)


def test_a_delivery_is_signed_and_retried_until_the_receiver_accepts_it(tmp_path) -> None:
    dead = tmp_path / "dead.jsonl"
    with running(Receiver(statuses=[500, 503])) as receiver:
        dispatcher = Dispatcher(FAST, dead, workers=1)
        dispatcher.submit([delivery(receiver.url)])
        assert dispatcher.wait(30)
        dispatcher.close()

    assert len(receiver.requests) == 3  # 500, 503, then 200
    first, last = receiver.requests[0], receiver.requests[-1]
    assert first.body == last.body  # the same event, byte for byte
    expected = hmac.new(SECRET.encode(), last.body, hashlib.sha256).hexdigest()
    assert last.headers["X-Churnlight-Signature"] == f"sha256={expected}"
    assert last.headers["X-Churnlight-Event-Id"] == "e" * 32
    assert json.loads(last.body)["account"] == {"account_id": "A1", "mrr": 1200.0}
    assert (dispatcher.counts.sent, dispatcher.counts.dead_lettered) == (1, 0)
    assert not dead.exists()


def test_what_still_fails_goes_to_the_dead_letter_and_replay_sends_it(
    tmp_path, monkeypatch
) -> None:
    dead = tmp_path / "dead.jsonl"
    port = closed_port()
    dispatcher = Dispatcher(FAST, dead, workers=1)
    dispatcher.submit([delivery(f"http://127.0.0.1:{port}/hook")])
    assert dispatcher.wait(30)
    dispatcher.close()

    (record,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert record["attempts"] == 3 and "cannot reach" in record["error"]
    assert record["event"]["event_id"] == "e" * 32 and record["secret_env"] == "CS_HOOK_SECRET"
    assert SECRET not in dead.read_text()

    monkeypatch.setenv("CS_HOOK_SECRET", SECRET)
    with running(Receiver(port=port)) as receiver:
        summary = replay(dead, FAST)
    assert (summary.sent, summary.failed, summary.left) == (1, 0, 0)
    assert dead.read_text() == ""
    (got,) = receiver.requests
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Churnlight-Signature"] == f"sha256={expected}"


def test_a_client_error_is_not_retried_and_slack_gets_text(tmp_path) -> None:
    dead = tmp_path / "dead.jsonl"
    with running(Receiver(statuses=[400])) as receiver:
        dispatcher = Dispatcher(FAST, dead, workers=1)
        dispatcher.submit([delivery(receiver.url, fmt="slack", secret=None)])
        assert dispatcher.wait(30)
        dispatcher.close()

    (only,) = receiver.requests
    assert "X-Churnlight-Signature" not in only.headers
    text = json.loads(only.body)["text"]
    assert text.startswith("*tier entered*: account A1 (2024-07-01, MRR 1,200)")
    assert json.loads(dead.read_text())["error"].startswith("HTTP 400 from")


def test_submit_never_waits_for_a_slow_receiver_and_a_full_queue_dead_letters(tmp_path) -> None:
    dead = tmp_path / "dead.jsonl"
    gate = threading.Event()
    with running(Receiver(gate=gate)) as receiver:
        dispatcher = Dispatcher(FAST, dead, capacity=1, workers=1)
        assert dispatcher.submit([delivery(receiver.url)]) == 1
        assert receiver.wait_for(1)  # the worker is held by the receiver
        # returns while the receiver still holds the first one: one queued, one refused
        queued: list[int] = []
        submitter = threading.Thread(
            target=lambda: queued.append(
                dispatcher.submit([delivery(receiver.url), delivery(receiver.url)])
            )
        )
        submitter.start()
        submitter.join(60)  # a submit that waited for the receiver would still be blocked
        assert not submitter.is_alive() and queued == [1]
        assert "delivery queue full" in dead.read_text()
        gate.set()
        assert dispatcher.wait(30)
        dispatcher.close()
    assert dispatcher.counts.sent == 2 and dispatcher.counts.dead_lettered == 1


# ---- end to end: score and serve ----------------------------------------------------------


def test_score_alerts_each_event_once_per_subscription(tmp_path, models, monkeypatch) -> None:
    monkeypatch.setenv("CS_HOOK_SECRET", SECRET)
    features = write_snapshot(make_table(40, seed=2), tmp_path / "f.parquet")
    with running(Receiver()) as receiver:
        settings = ServingSettings(
            home=tmp_path / "models",
            alerts_file=write_alerts(tmp_path / "a.yaml", receiver.url, min_tier="medium"),
            alerts_backoff_seconds=0.01,
            score_threads=1,
        )
        first = score_file(features, tmp_path / "s.parquet", settings, load=fixed_loader(models))
        second = score_file(features, tmp_path / "s.parquet", settings, load=fixed_loader(models))

    assert first.alerts["events"] > 0
    assert first.alerts["sent"] == first.alerts["claimed"] == first.alerts["events"]
    assert second.alerts["events"] == first.alerts["events"]
    assert second.alerts["sent"] == 0 and second.alerts["skipped"] == second.alerts["events"]
    assert len(receiver.requests) == first.alerts["events"]
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert len({b["event_id"] for b in bodies}) == len(bodies)
    assert all(b["kind"] == "tier_entered" for b in bodies)
    assert all(b["account"]["risk_tier"] in ("medium", "high", "critical") for b in bodies)
    assert all(b["account"]["churn"]["drivers_up"] is not None for b in bodies)
    for r in receiver.requests:
        digest = hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-Churnlight-Signature"] == f"sha256={digest}"


def test_the_server_alerts_when_it_scores_a_snapshot(
    make_client, keys, settings, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("CS_HOOK_SECRET", SECRET)
    with running(Receiver()) as receiver:
        alerting = settings.model_copy(
            update={
                "alerts_file": write_alerts(tmp_path / "a.yaml", receiver.url, min_tier="medium"),
                "alerts_backoff_seconds": 0.01,
            }
        )
        client = make_client(settings=alerting)
        state = client.app.state.holder.state
        assert state.alerts["events"] > 0
        assert client.app.state.dispatcher.wait(30)
        sent = len(receiver.requests)
        client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)  # same snapshot
        assert client.app.state.dispatcher.wait(30)

    assert sent == state.alerts["events"]
    assert len(receiver.requests) == sent  # the reload's events were claimed already
    assert client.app.state.holder.state.alerts["skipped"] == sent
