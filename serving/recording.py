"""What a scoring run records: its history rows (in bounded chunks, committed once) and the
alerts of its latest snapshot. Used by ``churnlight score`` and by the server's loads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from monitoring.health import ModelHealth
from serving.alerts import AlertsConfig, Event, Subscription, events_for, model_event
from serving.delivery import Delivery, Dispatcher
from serving.history import INSERT_ROWS, HistoryStore, RunSummary
from serving.history_rows import history_rows, new_run_id
from serving.scoring import ScoredBatch

log = logging.getLogger("churnlight.serving")
CURRENT_FIELDS = (
    "account_id",
    "snapshot_date",
    "churn_probability",
    "expansion_probability",
    "risk_tier",
    "segment",
    "csm_id",
)


@dataclass
class HistoryWriter:
    """Rows of one run, inserted every ``INSERT_ROWS`` rows and committed by ``finish``.

    A run killed before ``finish`` leaves only invisible rows (``serving.history``)."""

    store: HistoryStore
    origin: str
    run_id: str = field(default_factory=new_run_id)
    scored_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _buffer: list[pa.Table] = field(default_factory=list)
    _buffered: int = 0
    _keys: dict[tuple[Any, str, str], int] = field(default_factory=dict)

    def add(self, batch: ScoredBatch) -> None:
        rows = history_rows(batch, self.run_id, self.scored_at)
        for d, c, e in zip(
            rows.column("snapshot_date").to_pylist(),
            rows.column("churn_model_version").to_pylist(),
            rows.column("expansion_model_version").to_pylist(),
            strict=True,
        ):
            self._keys[(d, c, e)] = self._keys.get((d, c, e), 0) + 1
        self._buffer.append(rows)
        self._buffered += rows.num_rows
        if self._buffered >= INSERT_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.store.insert(pa.concat_tables(self._buffer))
        self._buffer, self._buffered = [], 0

    def finish(self) -> RunSummary:
        import time

        started = time.perf_counter()
        self._flush()
        ordered = sorted(self._keys.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
        keys = pa.table(
            {
                "snapshot_date": pa.array([k[0] for k, _ in ordered], pa.date32()),
                "churn_model_version": pa.array([k[1] for k, _ in ordered], pa.string()),
                "expansion_model_version": pa.array([k[2] for k, _ in ordered], pa.string()),
                "rows": pa.array([v for _, v in ordered], pa.int64()),
            }
        )
        dates, deleted = self.store.commit(self.run_id, keys, self.origin)
        return RunSummary(
            self.run_id, dates, sum(self._keys.values()), time.perf_counter() - started, deleted
        )


def current_points(batch: ScoredBatch, snapshot_date: str) -> list[dict[str, Any]]:
    """Alert inputs: the points of ``batch``'s rows dated ``snapshot_date`` (YYYY-MM-DD)."""
    out = []
    main = batch.churn.reasons.main
    for i in range(batch.n):
        if str(batch.snapshot_date[i]) != snapshot_date:
            continue
        fields = batch.summary_fields(i)
        point = {k: fields[k] for k in CURRENT_FIELDS}
        point["snapshot_date"] = str(point["snapshot_date"])
        point["churn_model_version"] = batch.churn_model_version
        point["expansion_model_version"] = batch.expansion_model_version
        reason = main[i]
        point["main_reason"] = reason["reason"] if reason else None
        out.append(point)
    return out


def previous_points(
    store: HistoryStore, account_ids: Sequence[str], before: str
) -> dict[str, dict[str, Any]]:
    """Each account's latest point in the history dated before ``before`` (YYYY-MM-DD)."""
    cutoff = date.fromisoformat(before)
    out: dict[str, dict[str, Any]] = {}
    table = store.points(account_ids)
    for row in table.to_pylist():  # by account, then date: the last one before wins
        if row["snapshot_date"] < cutoff:
            row["snapshot_date"] = row["snapshot_date"].isoformat()
            out[row["account_id"]] = row
    return out


def deliveries_for(
    config: AlertsConfig,
    current: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Mapping[str, Any]],
    account: Callable[[str], Mapping[str, Any]],
) -> list[tuple[Subscription, Event, Delivery]]:
    """Every subscription's events of a new snapshot, as deliveries (not yet claimed)."""
    out = []
    for sub in config.subscriptions:
        for event in events_for(sub, current, previous):
            body = event.body(account(event.account_id))
            delivery = Delivery(
                sub.key, sub.url, sub.format, sub.secret_env, config.secrets.get(sub.key), body
            )
            out.append((sub, event, delivery))
    return out


@dataclass
class AlertRun:
    events: int = 0
    claimed: int = 0
    queued: int = 0
    skipped: int = 0
    """Events some earlier run already claimed (at most once per subscription)."""

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def raise_alerts(
    config: AlertsConfig,
    store: HistoryStore,
    dispatcher: Dispatcher,
    current: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Mapping[str, Any]],
    account: Callable[[str], Mapping[str, Any]],
) -> AlertRun:
    """Compute the events of a new snapshot, claim them in the ledger, queue the winners."""
    planned = deliveries_for(config, current, previous, account)
    if not planned:
        return AlertRun()
    won = set(store.claim([(sub.key, event.event_id) for sub, event, _ in planned]))
    chosen = [d for sub, event, d in planned if (sub.key, event.event_id) in won]
    queued = dispatcher.submit(chosen)
    return AlertRun(len(planned), len(chosen), queued, len(planned) - len(chosen))


def alert_snapshot(
    config: AlertsConfig,
    store: HistoryStore,
    dispatcher: Dispatcher,
    current: Sequence[Mapping[str, Any]],
    records: Mapping[str, Mapping[str, Any]] | Callable[[str], Mapping[str, Any]],
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> AlertRun:
    """Events of one new snapshot's ``current`` points against the history, claimed and
    queued; ``records``: account_id -> the record an event carries (a mapping or a
    function); ``previous``: each account's earlier point (default: read from ``store``)."""
    if not current:
        return AlertRun()
    snapshot = str(current[0]["snapshot_date"])
    if previous is None:
        previous = previous_points(store, [str(p["account_id"]) for p in current], snapshot)
    account = records if callable(records) else (lambda a: records.get(a, {"account_id": a}))
    return raise_alerts(config, store, dispatcher, current, previous, account)


def alert_model_health(
    config: AlertsConfig, store: HistoryStore, dispatcher: Dispatcher, health: ModelHealth
) -> AlertRun:
    """The ``model_health`` event of a snapshot's health, to every subscription that lists
    it: claimed in the ledger like an account's event (its id is stable for the same
    conditions, so a refresh or reload does not send it again), then queued."""
    if health.snapshot_date is None:
        return AlertRun()
    event = model_event(
        health.snapshot_date, health.model_versions, [c.to_dict() for c in health.conditions]
    )
    subs = [s for s in config.subscriptions if "model_health" in s.events]
    if event is None or not subs:
        return AlertRun()
    planned = [
        (
            sub,
            Delivery(
                sub.key,
                sub.url,
                sub.format,
                sub.secret_env,
                config.secrets.get(sub.key),
                event.body(),
            ),
        )
        for sub in subs
    ]
    won = set(store.claim([(sub.key, event.event_id) for sub, _ in planned]))
    chosen = [d for sub, d in planned if (sub.key, event.event_id) in won]
    queued = dispatcher.submit(chosen)
    return AlertRun(len(planned), len(chosen), queued, len(planned) - len(chosen))
