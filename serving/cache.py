"""The scored portfolio kept in memory, and its atomic swap on reload.

When models or the snapshot load, every account of the snapshot is scored and explained in
one batch (every core) and each account's API response is serialised once; a lookup is then
a dictionary read. A reload builds a complete new ``ServingState`` in a background thread
while the previous one keeps serving, then swaps one reference: a request reads the state
once and uses that object throughout, so it never mixes two model versions.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import hashlib
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from monitoring.health import ModelHealth
from serving.alerts import AlertsConfig
from serving.delivery import Dispatcher
from serving.errors import MODELS_NOT_LOADED, ModelsNotLoaded, UnknownAccount
from serving.history import HistoryStore
from serving.history_view import ServedHistory
from serving.inputs import scoring_inputs
from serving.loading import LoadedModels, Loader
from serving.playbooks import PlaybookLibrary
from serving.recording import HistoryWriter, alert_model_health, alert_snapshot, current_points
from serving.refresh import inputs_stamp
from serving.scoring import ModelView, ScoredBatch, ScoringConfig, TableFrame, score_frame
from serving.settings import ServingSettings
from serving.snapshot import Snapshot
from serving.what_if import WhatIfKit

log = logging.getLogger("churnlight.serving")

SORT_KEYS = (
    "churn_probability",
    "revenue_at_risk",
    "expansion_probability",
    "expected_expansion_mrr",
    "mrr",
    "days_to_renewal",  # the web pages' renewal-date order (not a key of GET /v1/accounts)
    "churn_by_renewal",  # null (last) for every account when no survival model is served
)
SnapshotLoader = Callable[[ServingSettings], Snapshot]
RELEASE_WAIT_SECONDS = 10.0
"""How long a reload waits for the state it replaced to be freed before trimming memory."""


@dataclass
class Portfolio:
    """Every account of the snapshot, scored: serialised responses, filter columns, orders."""

    batch: ScoredBatch
    index: dict[str, int]
    responses: list[bytes | None]
    """Each account's response; None until asked for when its curve drivers are found on
    demand (read them with ``response_at`` / ``responses_at``)."""
    etags: list[str]
    """Strong ETag of each response: a hash of its bytes (without the curve drivers found on
    demand, which follow from the same rows and model), so a reload that leaves a record as
    it was leaves its ETag too."""
    summaries: list[dict[str, Any]]
    orders: dict[str, np.ndarray]
    """sort key -> row order, highest first (ties by account_id)."""
    heads: list[bytes] | None = None
    """With drivers on demand: each response without its closing brace and its
    ``churn_curve_drivers`` (added last, when the record is first asked for)."""

    @classmethod
    def build(cls, batch: ScoredBatch) -> Portfolio:
        ids = batch.account_id
        index = {str(a): i for i, a in enumerate(ids)}
        deferred = batch.survival is not None and batch.survival.lazy is not None
        bodies = [
            json.dumps(
                batch.record(i, curve_drivers=not deferred), allow_nan=False, separators=(",", ":")
            ).encode()
            for i in range(batch.n)
        ]
        etags = [f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"' for body in bodies]
        responses: list[bytes | None] = [None] * batch.n if deferred else list(bodies)
        heads = [body[:-1] for body in bodies] if deferred else None
        summaries = [batch.summary(i) for i in range(batch.n)]
        tiebreak = np.argsort(np.asarray(ids, dtype=str), kind="stable")
        orders = {}
        for key in SORT_KEYS:
            values = _sort_values(batch, key)[tiebreak]
            # highest first, NaN last, ties in account_id order
            keyed = np.where(np.isnan(values), -np.inf, values)
            orders[key] = tiebreak[np.argsort(-keyed, kind="stable")]
        return cls(batch, index, responses, etags, summaries, orders, heads)

    def position(self, account_id: str, snapshot_date: str | None) -> int:
        """The account's row; ``UnknownAccount`` when it is not in the snapshot."""
        i = self.index.get(account_id)
        if i is None:
            raise UnknownAccount(account_id, snapshot_date)
        return i

    def response(self, account_id: str, snapshot_date: str | None) -> bytes:
        return self.response_at(self.position(account_id, snapshot_date))

    def response_at(self, i: int) -> bytes:
        """Row i's response (its curve drivers found now if they are on demand)."""
        return self.responses_at([i])[0]

    def ready(self, rows: Sequence[int]) -> bool:
        """Whether every response of ``rows`` is complete (no curve drivers to find: no SHAP
        work, so the event loop may serve them itself)."""
        return all(self.responses[i] is not None for i in rows)

    def responses_at(self, rows: Sequence[int]) -> list[bytes]:
        """The responses of ``rows``; the curve drivers missing among them are found in one
        call and kept (``serving.survival.LazyDrivers``)."""
        missing = sorted({i for i in rows if self.responses[i] is None})
        if missing:
            survival, heads = self.batch.survival, self.heads
            assert survival is not None and heads is not None
            for i, drivers in zip(missing, survival.drivers_at(missing), strict=True):
                tail = json.dumps(drivers, allow_nan=False, separators=(",", ":")).encode()
                self.responses[i] = heads[i] + b',"churn_curve_drivers":' + tail + b"}"
        return [r for r in (self.responses[i] for i in rows) if r is not None]

    def select(
        self,
        sort: str,
        descending: bool = True,
        segment: Sequence[str] = (),
        csm_id: Sequence[str] = (),
        lifecycle_stage: Sequence[str] = (),
        risk_tier: Sequence[str] = (),
        min_churn_by_renewal: float | None = None,
        max_churn_by_renewal: float | None = None,
    ) -> np.ndarray:
        """Row indices matching every filter given (each a set of allowed values; a bound on
        ``churn_by_renewal`` keeps only accounts that have one within it), sorted."""
        order = self.orders[sort]
        if not descending:
            order = order[::-1]
        mask = np.ones(self.batch.n, dtype=bool)
        for column, allowed in (
            (self.batch.segment, segment),
            (self.batch.csm_id, csm_id),
            (self.batch.lifecycle_stage, lifecycle_stage),
            (self.batch.risk_tier, risk_tier),
        ):
            if allowed:
                mask &= np.isin(column.astype(str), list(allowed)) & (column != None)  # noqa: E711
        if min_churn_by_renewal is not None or max_churn_by_renewal is not None:
            renewal = _sort_values(self.batch, "churn_by_renewal")
            with np.errstate(invalid="ignore"):
                if min_churn_by_renewal is not None:
                    mask &= renewal >= min_churn_by_renewal
                if max_churn_by_renewal is not None:
                    mask &= renewal <= max_churn_by_renewal
        return order[mask[order]]


def _sort_values(batch: ScoredBatch, key: str) -> np.ndarray:
    if key == "churn_probability":
        return batch.churn.probability
    if key == "expansion_probability":
        return batch.expansion.probability
    if key == "churn_by_renewal":
        if batch.survival is None:
            return np.full(batch.n, np.nan)
        return batch.survival.by_renewal
    return np.asarray(getattr(batch, key), dtype=np.float64)


@dataclass
class ServingState:
    """Everything a request needs, built together and swapped as one object."""

    models: LoadedModels
    snapshot: Snapshot
    churn: ModelView
    expansion: ModelView
    playbooks: PlaybookLibrary
    config: ScoringConfig
    portfolio: Portfolio
    built_at: str
    seconds: dict[str, float] = field(default_factory=dict)
    explain_ms_per_row: dict[str, float] = field(default_factory=dict)
    feature_kinds: dict[str, str] = field(default_factory=dict)
    """Names a what-if row may give: model features and snapshot columns, each 'numeric',
    'categorical', 'derived' (computed from two inputs: refused) or 'other' (text or dates
    of the snapshot)."""
    history: ServedHistory | None = None
    """Points and movers of the history store; None when history is off or failed."""
    history_error: str | None = None
    history_stamp: str | None = None
    """The history store's latest commit when this state read it (refresh compares)."""
    inputs_stamp: int | None = None
    """Modification stamp of the snapshot's file or source when the build started."""
    alerts: dict[str, int] | None = None
    """Events of this snapshot: raised, claimed, queued, skipped (None: no alerts)."""
    model_alerts: dict[str, int] | None = None
    """The ``model_health`` event of this snapshot: raised (one per subscription listing
    it), claimed, queued, skipped (None: no alerts)."""
    health: ModelHealth | None = None
    """Drift and label-free performance of the snapshot (``serving.model_health``)."""
    health_error: str | None = None
    """Why ``health`` is None: its computation failed (the scores still serve)."""

    @property
    def snapshot_date(self) -> str | None:
        return self.snapshot.snapshot_date

    @property
    def versions(self) -> dict[str, str]:
        return {
            "churn_model_version": self.churn.version,
            "expansion_model_version": self.expansion.version,
        }

    @functools.cached_property
    def what_if_kit(self) -> WhatIfKit:
        """What a what-if worker needs of this state (``serving.what_if``)."""
        return WhatIfKit(
            token=uuid.uuid4().hex,
            churn=self.churn.bundle,
            churn_version=self.churn.version,
            expansion=self.expansion.bundle,
            expansion_version=self.expansion.version,
            specs=self.snapshot.spec_by_name,
            playbooks=self.playbooks.playbooks,
            playbooks_path=self.playbooks.path,
            config=self.config,
            feature_kinds=self.feature_kinds,
            head={"snapshot_date": self.snapshot_date, **self.versions},
        )


def build_state(
    settings: ServingSettings,
    load: Loader,
    load_snapshot: SnapshotLoader,
    alerts: AlertsConfig | None = None,
    dispatcher: Dispatcher | None = None,
) -> ServingState:
    """Load models, snapshot and playbooks, then score and serialise the whole portfolio;
    record it in the history store (``settings.history``), read the history back, and raise
    the snapshot's alerts on ``dispatcher`` (delivered in the background)."""
    started = time.perf_counter()
    stamp = inputs_stamp(settings)
    models = load(settings)
    t_models = time.perf_counter()
    snapshot = load_snapshot(settings)
    t_snapshot = time.perf_counter()
    inputs = scoring_inputs(models, snapshot, settings, curve_drivers=True, lazy=True)
    churn, expansion, playbooks, config = (
        inputs.churn,
        inputs.expansion,
        inputs.playbooks,
        inputs.config,
    )
    batch = score_frame(
        TableFrame(snapshot.table),
        churn,
        expansion,
        playbooks,
        config,
        settings.threads(),
        effects=models.effects,
        survival=inputs.survival,
    )
    t_scored = time.perf_counter()
    portfolio = Portfolio.build(batch)
    finished = time.perf_counter()
    rows = max(batch.n, 1)
    kinds: dict[str, str] = {}
    for f in snapshot.table.schema:
        number = pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
        kinds[f.name] = "numeric" if number or pa.types.is_boolean(f.type) else "other"
    for view in (churn, expansion):
        for column in view.bundle.columns:
            kinds[column.name] = column.kind
    if snapshot.table.num_rows:
        snapshot.row(0)  # what-if rows read the snapshot by row: convert it now, not then
    health, health_error = _health(models, snapshot, batch)
    t_health = time.perf_counter()
    recorded = _record(
        settings, batch, portfolio, snapshot.snapshot_date, alerts, dispatcher, health
    )
    t_history = time.perf_counter()
    # Every record is serialised, recorded and alerted on: keep the columns only.
    portfolio.batch = batch.columns_only()
    return ServingState(
        models=models,
        snapshot=snapshot,
        churn=churn,
        expansion=expansion,
        playbooks=playbooks,
        config=config,
        portfolio=portfolio,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds={
            "models": round(t_models - started, 3),
            "snapshot": round(t_snapshot - t_models, 3),
            "score": round(t_scored - t_snapshot, 3),
            "serialise": round(finished - t_scored, 3),
            "health": round(t_health - finished, 3),
            "history": round(t_history - t_health, 3),
            "total": round(t_history - started, 3),
        },
        explain_ms_per_row={
            kind: round(1000 * batch.seconds[f"{kind}_explain"] / rows, 4)
            for kind in ("churn", "expansion")
        },
        feature_kinds=kinds,
        inputs_stamp=stamp,
        health=health,
        health_error=health_error,
        **recorded,
    )


def _health(
    models: LoadedModels, snapshot: Snapshot, batch: ScoredBatch
) -> tuple[ModelHealth | None, str | None]:
    """The snapshot's model health from the scores just computed; a failure is logged and
    leaves the scores serving (``/v1/model/health`` answers 503 with the error)."""
    from serving.model_health import served_health

    scores = {
        models.churn.label: batch.churn.probability,
        models.expansion.label: batch.expansion.probability,
    }
    try:
        return served_health(models, snapshot.table, snapshot.snapshot_date, scores), None
    except Exception as err:
        log.error("model health failed: %s", err, exc_info=err)
        return None, f"model health could not be computed: {err}"


def _record(
    settings: ServingSettings,
    batch: ScoredBatch,
    portfolio: Portfolio,
    snapshot_date: str | None,
    alerts: AlertsConfig | None,
    dispatcher: Dispatcher | None,
    health: ModelHealth | None = None,
) -> dict[str, Any]:
    """History and alerts of a built state (the accounts' events, and the models'
    ``model_health`` event when ``health`` has conditions). A history store that fails
    leaves the scores serving (the history routes answer 503 with the error)."""
    if not settings.history or batch.n == 0:
        return {}
    store = HistoryStore.from_settings(settings)
    try:
        writer = HistoryWriter(store, origin="serve")
        writer.add(batch)
        writer.finish()
        served = ServedHistory.load(store)
        stamp = store.stamp()
    except Exception as err:  # the scores serve without history rather than not at all
        error = f"{type(err).__name__}: {err}"
        log.error("history not recorded: %s", error)
        return {"history_error": error}
    out: dict[str, Any] = {"history": served, "history_stamp": stamp}
    if alerts is not None and dispatcher is not None and snapshot_date is not None:
        current = current_points(batch, snapshot_date)
        previous = {}
        for point in current:
            before = served.previous(point["account_id"], snapshot_date)
            if before is not None:
                previous[point["account_id"]] = before
        try:
            run = alert_snapshot(
                alerts,
                store,
                dispatcher,
                current,
                # the served record (its curve drivers found once, kept for lookups)
                lambda a: json.loads(portfolio.response_at(portfolio.index[a])),
                previous,
            )
            out["alerts"] = run.to_dict()
        except Exception as err:
            log.error("alerts not raised: %s: %s", type(err).__name__, err)
    if alerts is not None and dispatcher is not None and health is not None:
        try:
            out["model_alerts"] = alert_model_health(alerts, store, dispatcher, health).to_dict()
        except Exception as err:
            log.error("model_health alert not raised: %s: %s", type(err).__name__, err)
    return out


def with_history(state: ServingState, settings: ServingSettings) -> ServingState:
    """``state`` with the history read again (another run committed meanwhile)."""
    store = HistoryStore.from_settings(settings)
    served = ServedHistory.load(store)
    return replace(state, history=served, history_stamp=store.stamp(), history_error=None)


class StateHolder:
    """The current ``ServingState`` (None until the first load succeeds) and its reloads.

    One reload runs at a time, in a daemon thread; asking again while one runs joins it."""

    def __init__(self, build: Callable[[], ServingState]) -> None:
        self._build = build
        self.state: ServingState | None = None
        self.status = "starting"
        self.error: str | None = None
        self.reloads = {"ok": 0, "failed": 0}
        self.started = time.perf_counter()
        self.ready_seconds: float | None = None
        self._lock = threading.Lock()
        self._job: Future[ServingState] | None = None

    def current(self) -> ServingState:
        state = self.state
        if state is None:
            raise ModelsNotLoaded(MODELS_NOT_LOADED)
        return state

    @property
    def reloading(self) -> bool:
        job = self._job
        return job is not None and not job.done()

    def replace_state(self, expected: ServingState, new: ServingState) -> bool:
        """Swap ``new`` in if ``expected`` still serves and no reload runs (a reload's state
        reads everything itself); False when skipped."""
        with self._lock:
            if self.state is not expected or (self._job is not None and not self._job.done()):
                return False
            self.state = new
            return True

    def reload(self) -> Future[ServingState]:
        """Start a reload (or join the running one); the future holds the new state."""
        with self._lock:
            if self._job is not None and not self._job.done():
                return self._job
            job: Future[ServingState] = Future()
            self._job = job
            self.status = "reloading" if self.state is not None else "loading"
        threading.Thread(target=self._run, args=(job,), name="churnlight-load", daemon=True).start()
        return job

    def _run(self, job: Future[ServingState]) -> None:
        job.set_running_or_notify_cancel()
        try:
            state = self._build()
        except Exception as err:  # every failure keeps the previous state serving
            self.reloads["failed"] += 1
            self.error = f"{type(err).__name__}: {err}"
            self.status = "ready" if self.state is not None else "failed"
            log.error("load failed: %s", self.error, exc_info=not _is_expected(err))
            job.set_exception(err)
            return
        previous, self.state = self.state, state  # the atomic swap
        replaced = weakref.ref(previous) if previous is not None else None
        del previous
        self.reloads["ok"] += 1
        self.error = None
        self.status = "ready"
        if self.ready_seconds is None:
            self.ready_seconds = round(time.perf_counter() - self.started, 3)
        log.info(
            "ready: %d accounts, snapshot %s, %s / %s, built in %.2f s",
            state.portfolio.batch.n,
            state.snapshot_date,
            state.churn.version,
            state.expansion.version,
            state.seconds["total"],
        )
        job.set_result(state)
        del state
        if replaced is not None:
            wait_until_freed(replaced)
            release_free_memory()


def wait_until_freed(replaced: weakref.ref[Any], seconds: float = RELEASE_WAIT_SECONDS) -> bool:
    """Wait (up to ``seconds``) until the object ``replaced`` names is freed; True if it was.

    A replaced state outlives the swap while a request that read it is still answering, or
    while a reference cycle holds it until the garbage collector runs; trimmed before that,
    its memory stayed with the process (the soak benchmark once measured a state alive
    right after the swap, freed seconds later, untrimmed: +100 MB until the next reload)."""
    deadline = time.monotonic() + seconds
    collected = False
    while replaced() is not None:
        if time.monotonic() >= deadline:
            log.warning("a replaced state was still referenced after %.0f s", seconds)
            return False
        if not collected and time.monotonic() >= deadline - seconds / 2:
            gc.collect()  # once, half-way: a cycle rather than a request holds it
            collected = True
            continue
        time.sleep(0.05)
    return True


def release_free_memory() -> None:
    """Hand the memory freed with a replaced state back to the OS. The state is built in a
    thread of its own (its own glibc arena) and freed piecemeal, so without a trim the server
    kept a replaced state's pages: +14% RSS after two reloads of the soak benchmark. (Python's
    own object arenas are not glibc's: a trim does not return them, hence
    ``ScoredBatch.columns_only``.)"""
    pa.default_memory_pool().release_unused()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to trim
        return
    trim(0)


def _is_expected(err: Exception) -> bool:
    from features.errors import ChurnlightError

    return isinstance(err, ChurnlightError)
