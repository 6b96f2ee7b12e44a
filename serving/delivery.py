"""Delivering alerts: signed POSTs from background threads, retries, the dead letter.

- ``Dispatcher.submit`` never blocks: deliveries wait in a bounded queue for a few worker
  threads; when the queue is full the delivery goes straight to the dead letter. Scoring and
  serving never wait for a webhook.
- Each POST carries ``X-Churnlight-Event-Id`` and, when the subscription names a secret,
  ``X-Churnlight-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
- A 2xx answer is success. Timeouts, connection errors, 408, 429 and 5xx are retried with
  exponential backoff and jitter (``alerts_backoff_seconds`` doubling, times 0.5-1.0) up to
  ``alerts_max_attempts`` tries within ``alerts_max_seconds``; other 4xx answers are not
  retried. What still fails is appended to the dead-letter JSONL with the error (the secret
  is not written: its variable's name is); ``churnlight alerts replay`` re-sends it.
- At most once per subscription: before a delivery is queued, its (subscription, event) pair
  is claimed in the history store's ledger (``HistoryStore.claim``, by
  ``serving.recording.raise_alerts``); a pair claimed before is never queued again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.atomic import write_text_atomically
from serving.alerts import AlertsConfig, Event, slack_body
from serving.settings import ServingSettings, secret_from_env

log = logging.getLogger("churnlight.alerts")
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 5
    max_seconds: float = 120.0
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> Policy:
        return cls(
            settings.alerts_max_attempts,
            settings.alerts_max_seconds,
            settings.alerts_backoff_seconds,
            settings.alerts_timeout_seconds,
        )

    def delay(self, attempt: int) -> float:
        """Wait after failed try ``attempt`` (1-based): base x 2^(attempt-1), jittered."""
        full = self.backoff_seconds * 2 ** (attempt - 1)
        return full * (0.5 + 0.5 * random.random())


@dataclass
class Delivery:
    subscription_id: str
    url: str
    format: str
    secret_env: str | None
    secret: str | None
    event: dict[str, Any]
    """The event body (``Event.body``)."""

    def payload(self) -> bytes:
        body = slack_body(self.event) if self.format == "slack" else self.event
        return json.dumps(body, separators=(",", ":"), allow_nan=False, default=str).encode()


def signature(secret: str, body: bytes) -> str:
    """The ``X-Churnlight-Signature`` header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryFailed(Exception):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def post(delivery: Delivery, timeout: float) -> int:
    """One POST; returns the status, raises ``DeliveryFailed`` unless 2xx."""
    body = delivery.payload()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "churnlight-alerts/1",
        "X-Churnlight-Event-Id": str(delivery.event["event_id"]),
    }
    if delivery.secret:
        headers["X-Churnlight-Signature"] = signature(delivery.secret, body)
    request = urllib.request.Request(delivery.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as err:
        retry = err.code >= 500 or err.code in RETRY_STATUSES
        raise DeliveryFailed(f"HTTP {err.code} from {delivery.url}", retry) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DeliveryFailed(f"cannot reach {delivery.url}: {reason}", True) from err


def send(
    delivery: Delivery, policy: Policy, stop: threading.Event | None = None
) -> tuple[bool, str | None, int]:
    """Try until success, a permanent failure, or the policy's bounds: (ok, error, tries)."""
    started = time.monotonic()
    error = None
    for attempt in range(1, policy.max_attempts + 1):
        try:
            post(delivery, policy.timeout_seconds)
            return True, None, attempt
        except DeliveryFailed as err:
            error = str(err)
            if not err.retry or attempt == policy.max_attempts:
                return False, error, attempt
        wait = policy.delay(attempt)
        if time.monotonic() - started + wait > policy.max_seconds:
            return False, f"{error} (gave up after {policy.max_seconds:g} s)", attempt
        if stop is not None and stop.wait(wait):
            return False, f"{error} (stopped before retrying)", attempt
        if stop is None:
            time.sleep(wait)
    return False, error, policy.max_attempts


@dataclass
class Counts:
    sent: int = 0
    dead_lettered: int = 0
    queued: int = 0


@dataclass
class Dispatcher:
    """Background delivery: a bounded queue, ``workers`` threads, a dead-letter file."""

    policy: Policy
    dead_letter: Path
    capacity: int = 10_000
    workers: int = 2
    counts: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[Delivery | None] = queue.Queue(self.capacity)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"churnlight-alerts-{k}", daemon=True)
            for k in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> Dispatcher:
        return cls(
            Policy.from_settings(settings),
            settings.resolved_dead_letter(),
            settings.alerts_queue,
            settings.alerts_workers,
        )

    def submit(self, deliveries: Sequence[Delivery]) -> int:
        """Queue ``deliveries`` without waiting; a full queue sends the rest to the dead
        letter. Returns how many were queued."""
        queued = 0
        for delivery in deliveries:
            with self._lock:
                self._pending += 1
            try:
                self._queue.put_nowait(delivery)
                queued += 1
            except queue.Full:
                self._finish(delivery, False, "delivery queue full (CHURNLIGHT_ALERTS_QUEUE)", 0)
        self.counts.queued += queued
        return queued

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every submitted delivery is sent or dead-lettered; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Let the queue drain for ``timeout`` seconds, then stop: what is still waiting is
        dead-lettered (``alerts replay`` sends it later)."""
        self.wait(timeout)
        self._stop.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._finish(item, False, "stopped before delivery", 0)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=max(self.policy.timeout_seconds, 1.0) + 1.0)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stop.is_set():
                self._finish(item, False, "stopped before delivery", 0)
                continue
            ok, error, tries = send(item, self.policy, self._stop)
            self._finish(item, ok, error, tries)

    def _finish(self, delivery: Delivery, ok: bool, error: str | None, tries: int) -> None:
        if ok:
            self.counts.sent += 1
        else:
            self.counts.dead_lettered += 1
            log.warning(
                "alert %s to %s dead-lettered: %s",
                delivery.event.get("event_id"),
                delivery.subscription_id,
                error,
            )
            append_dead_letter(self.dead_letter, delivery, error or "failed", tries)
        with self._idle:
            self._pending -= 1
            if not self._pending:
                self._idle.notify_all()


_DEAD_LETTER_LOCK = threading.Lock()


def append_dead_letter(path: Path, delivery: Delivery, error: str, tries: int) -> None:
    record = {
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "subscription_id": delivery.subscription_id,
        "url": delivery.url,
        "format": delivery.format,
        "secret_env": delivery.secret_env,
        "error": error,
        "attempts": tries,
        "event": delivery.event,
    }
    line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
    with _DEAD_LETTER_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)


# ---- replay and test ---------------------------------------------------------------------------


@dataclass
class ReplaySummary:
    path: str
    sent: int
    failed: int
    left: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replay(
    path: Path, policy: Policy, secret: Callable[[str], str | None] = secret_from_env
) -> ReplaySummary:
    """Re-send every dead letter of ``path`` (same event ids and bodies, signed with the
    secret its ``secret_env`` names now); the file keeps only what failed again, rewritten
    atomically."""
    if not path.exists():
        return ReplaySummary(str(path), 0, 0, 0)
    kept, sent, failed = [], 0, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            env = record.get("secret_env")
            delivery = Delivery(
                record["subscription_id"],
                record["url"],
                record.get("format", "json"),
                env,
                secret(env) if env else None,
                record["event"],
            )
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            log.warning("%s line %d is not a dead letter (%s); kept", path, number, err)
            kept.append(line)
            continue
        ok, error, tries = send(delivery, policy)
        if ok:
            sent += 1
            continue
        failed += 1
        record.update(
            error=error,
            attempts=int(record.get("attempts", 0)) + tries,
            failed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        kept.append(json.dumps(record, separators=(",", ":"), default=str))
    write_text_atomically(path, "".join(f"{line}\n" for line in kept))
    return ReplaySummary(str(path), sent, failed, len(kept))


SAMPLE_ACCOUNT: dict[str, Any] = {
    "account_id": "TEST-0001",
    "snapshot_date": "2024-07-01",
    "churn_probability": 0.41,
    "expansion_probability": 0.05,
    "risk_tier": "critical",
    "mrr": 1250.0,
    "segment": "mid_market",
    "csm_id": "csm07",
    "churn_model_version": "churnlight-churn/test",
    "expansion_model_version": "churnlight-expansion/test",
}


def send_test(config: AlertsConfig, policy: Policy) -> list[dict[str, Any]]:
    """A sample ``tier_entered`` event to every subscription, now; one result each."""
    results = []
    for sub in config.subscriptions:
        event = Event(
            "test-" + hashlib.sha256(sub.key.encode()).hexdigest()[:27],
            "tier_entered",
            SAMPLE_ACCOUNT["account_id"],
            SAMPLE_ACCOUNT["snapshot_date"],
            "test event from `churnlight alerts test`: entered risk tier critical",
        )
        delivery = Delivery(
            sub.key,
            sub.url,
            sub.format,
            sub.secret_env,
            config.secrets.get(sub.key),
            event.body(SAMPLE_ACCOUNT),
        )
        ok, error, tries = send(delivery, policy)
        results.append(
            {
                "subscription_id": sub.key,
                "url": sub.url,
                "ok": ok,
                "error": error,
                "attempts": tries,
            }
        )
    return results


def load_configured_alerts(settings: ServingSettings) -> AlertsConfig | None:
    """The subscriptions ``CHURNLIGHT_ALERTS_FILE`` names (None: unset), secrets read from
    the environment through the settings module."""
    if settings.alerts_file is None:
        return None
    from serving.alerts import load_alerts

    names = _secret_names(settings.alerts_file)
    return load_alerts(settings.alerts_file, {n: secret_from_env(n) for n in names})


def _secret_names(path: Path) -> list[str]:
    """The ``secret_env`` names of a subscriptions file (unvalidated; ``load_alerts``
    checks the file)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    subs = data.get("subscriptions") if isinstance(data, dict) else None
    if not isinstance(subs, list):
        return []
    return [
        s["secret_env"]
        for s in subs
        if isinstance(s, dict) and isinstance(s.get("secret_env"), str)
    ]
