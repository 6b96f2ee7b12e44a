"""The churnlight API: an app factory whose lifespan loads the champions and the snapshot.

    uvicorn --factory serving.app:create_app      # settings from CHURNLIGHT_* variables
    churnlight serve --source SRC                 # the same, with options

Startup never blocks on models: the lifespan starts the first load in a background thread
and the server answers at once (``/healthz`` 200, ``/readyz`` and the ``/v1`` routes 503
"models not loaded" until the scored snapshot is in memory). ``POST /v1/admin/reload``
builds the next state the same way and swaps it atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from prometheus_client import Gauge

from features.errors import ConfigError
from serving.auth import KeyRing
from serving.book import BookCache
from serving.cache import ServingState, SnapshotLoader, StateHolder, build_state
from serving.delivery import Dispatcher, load_configured_alerts
from serving.deps import known_query
from serving.gate import ScoreGate
from serving.handlers import add_problem_handlers
from serving.limits import KeyLimits
from serving.loading import Loader, load_models
from serving.middleware import Metrics, RequestMiddleware
from serving.openapi import openapi_builder
from serving.refresh import Refresher
from serving.routes import accounts, admin, health, history, model, plays, portfolio, score
from serving.settings import ServingSettings, get_serving_settings
from serving.snapshot import load_snapshot as default_snapshot_loader
from serving.ui import routes as ui
from serving.what_if import WhatIfWorkers

log = logging.getLogger("churnlight.serving")

DESCRIPTION = """Churn and expansion scores of every account of the latest feature snapshot,
with SHAP drivers in plain words and the playbooks that fit. Scores of the snapshot are
computed once per load and served from memory; `POST /v1/score` with feature rows scores
what-if values live. Authenticate with `Authorization: Bearer <key>` (`churnlight keys new`).
See docs/api.md."""


def create_app(
    settings: ServingSettings | None = None,
    load: Loader = load_models,
    load_snapshot: SnapshotLoader = default_snapshot_loader,
    wait: bool = False,
    on_ready: Callable[[ServingState], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The app. ``load`` / ``load_snapshot`` give models and snapshot (tests pass their own);
    ``wait`` makes startup wait for the first load (tests); ``on_ready`` / ``on_error`` run
    when the first load ends."""
    settings = settings or get_serving_settings()
    alerts = load_configured_alerts(settings)  # a bad file stops the start
    if alerts is not None and not settings.history:
        raise ConfigError(
            "CHURNLIGHT_ALERTS_FILE needs the history store (its delivery ledger sends each "
            "alert once): unset CHURNLIGHT_HISTORY=false, or unset CHURNLIGHT_ALERTS_FILE"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = Dispatcher.from_settings(settings) if alerts is not None else None
        holder = StateHolder(lambda: build_state(settings, load, load_snapshot, alerts, dispatcher))
        app.state.holder = holder
        app.state.dispatcher = dispatcher
        refresher = Refresher(holder, settings).start()
        app.state.refresher = refresher
        job = holder.reload()

        def notify(done: Future[ServingState]) -> None:
            error = done.exception()
            if error is None and on_ready is not None:
                on_ready(done.result())
            elif error is not None and on_error is not None:
                on_error(error)

        job.add_done_callback(notify)
        if wait:
            # A failure is logged by the holder; the app then serves 503 until a reload.
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(job)
        # The job's result is the first state: held here, it would outlive every reload
        # (the soak benchmark's server kept two scored snapshots, +33% RSS).
        del job
        try:
            yield
        finally:
            refresher.stop()
            app.state.what_ifs.close()
            if dispatcher is not None:
                # what is still queued goes to the dead letter: `churnlight alerts replay`
                await asyncio.to_thread(dispatcher.close, 5.0)

    app = FastAPI(
        title="churnlight",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(known_query)],
        openapi_tags=[
            {"name": "accounts", "description": "cached scores of the snapshot's accounts"},
            {"name": "history", "description": "scores over time, and who moved"},
            {"name": "portfolio", "description": "the book's revenue: MRR movements"},
            {"name": "score", "description": "batches and live what-if scoring"},
            {"name": "model", "description": "what is serving"},
            {"name": "admin", "description": "reload (admin key)"},
            {"name": "health", "description": "liveness, readiness, metrics"},
        ],
    )
    app.state.settings = settings
    app.state.keys = KeyRing.from_entries(settings.api_keys, settings.admin_keys)
    app.state.limits = KeyLimits.of(
        settings.key_concurrency, settings.key_what_if_rows_per_second, settings.max_batch
    )
    app.state.what_ifs = WhatIfWorkers(*settings.what_if_workers())
    app.state.books = BookCache()
    metrics = Metrics()
    app.state.metrics = metrics
    app.state.gauges = {
        "accounts": Gauge(
            "churnlight_accounts_scored",
            "accounts in the served snapshot",
            registry=metrics.registry,
        ),
        "ready": Gauge("churnlight_ready", "1 once models are loaded", registry=metrics.registry),
        "loads": Gauge(
            "churnlight_loads",
            "loads and reloads by outcome",
            ["outcome"],
            registry=metrics.registry,
        ),
        "alerts": Gauge(
            "churnlight_alerts",
            "alerts since start: queued, sent, dead_lettered",
            ["outcome"],
            registry=metrics.registry,
        ),
        "refreshes": Gauge(
            "churnlight_refreshes",
            "refresh checks that found a change, by what changed (models, snapshot, history)",
            ["reason"],
            registry=metrics.registry,
        ),
        "build_seconds": Gauge(
            "churnlight_build_seconds",
            "seconds the served state took to load, score and serialise",
            registry=metrics.registry,
        ),
        "feature_drift": Gauge(
            "churnlight_feature_drift",
            "drift of a feature of the served snapshot against the champion's training profile",
            ["feature", "statistic"],
            registry=metrics.registry,
        ),
        "score_drift": Gauge(
            "churnlight_score_drift",
            "PSI of a score of the served snapshot against its training distribution",
            ["score"],
            registry=metrics.registry,
        ),
        "estimated_roc_auc": Gauge(
            "churnlight_estimated_roc_auc",
            "label-free ROC-AUC estimate of the served snapshot (from calibrated scores)",
            ["label"],
            registry=metrics.registry,
        ),
        "realised_roc_auc": Gauge(
            "churnlight_realised_roc_auc",
            "ROC-AUC of the latest snapshot whose labels matured",
            ["label"],
            registry=metrics.registry,
        ),
        "snapshot_age": Gauge(
            "churnlight_snapshot_age_seconds",
            "seconds since the served snapshot's date",
            registry=metrics.registry,
        ),
    }
    for router in (
        history.router,  # before accounts: /v1/accounts/{id}/history is its own route
        accounts.router,
        portfolio.router,
        score.router,
        model.router,
        plays.router,
        admin.router,
        health.router,
    ):
        app.include_router(router)
    add_problem_handlers(app)
    ui.install(app, settings)  # the web pages under /ui (not in the OpenAPI document)
    app.openapi = openapi_builder(app, settings)  # type: ignore[method-assign]
    # the last added runs first: the request middleware, then the gate of scoring requests
    app.add_middleware(
        ScoreGate,
        keys=app.state.keys,
        limits=app.state.limits,
        max_batch=settings.max_batch,
        refusal_delay=settings.key_refusal_delay_seconds,
    )
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    return app
