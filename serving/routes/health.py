"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving import problems
from serving.auth import INVALID_KEY, MISSING_KEY, ReadAccess
from serving.cache import ServingState
from serving.deps import HolderDep
from serving.errors import MODELS_NOT_LOADED
from serving.handlers import MODELS_RETRY_SECONDS, problem_response
from serving.model_health import gauge_values, snapshot_age_seconds
from serving.problems import PROBLEM_JSON, NotReadyProblem, example
from serving.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", operation_id="healthz", response_model=Health, summary="Liveness (open, no key)"
)
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Ready,
    summary="Readiness: 200 once models and the scored snapshot are in memory (open, no key)",
    responses={
        503: {
            "model": NotReadyProblem,
            "description": f"{problems.MODELS_NOT_LOADED.slug}: not loaded yet, or the load "
            "failed (load_status)",
            "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
            "content": {
                PROBLEM_JSON: {
                    "example": example(
                        problems.MODELS_NOT_LOADED,
                        MODELS_NOT_LOADED,
                        "/readyz",
                        load_status="loading",
                    )
                }
            },
        }
    },
)
async def readyz(request: Request, holder: HolderDep) -> Ready | Response:
    state = holder.state
    if state is None:
        return problem_response(
            request,
            problems.MODELS_NOT_LOADED,
            MODELS_NOT_LOADED,
            {"Retry-After": str(MODELS_RETRY_SECONDS)},
            load_status=holder.status,
        )
    return Ready(
        status="reloading" if holder.reloading else "ready",
        accounts=state.portfolio.batch.n,
        snapshot_date=state.snapshot_date,
        built_at=state.built_at,
        ready_seconds=holder.ready_seconds,
        build_seconds=state.seconds,
        **state.versions,
    )


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics (read key)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problems.responses(
            (problems.MISSING_KEY, example(problems.MISSING_KEY, MISSING_KEY, "/metrics")),
            (problems.INVALID_KEY, example(problems.INVALID_KEY, INVALID_KEY, "/metrics")),
            (
                problems.BODY_TOO_LARGE,
                example(problems.BODY_TOO_LARGE, "request body exceeds 1000000 bytes", "/metrics"),
            ),
        ),
    },
)
async def metrics(request: Request, _: ReadAccess) -> Response:
    app_state = request.app.state
    holder = app_state.holder
    current = holder.state
    app_state.gauges["accounts"].set(current.portfolio.batch.n if current else 0)
    app_state.gauges["ready"].set(1 if current else 0)
    for outcome, count in holder.reloads.items():
        app_state.gauges["loads"].labels(outcome).set(count)
    if current is not None:
        app_state.gauges["build_seconds"].set(current.seconds.get("total", 0.0))
        _health_gauges(app_state.gauges, current)
    dispatcher = getattr(app_state, "dispatcher", None)
    if dispatcher is not None:
        for outcome in ("queued", "sent", "dead_lettered"):
            app_state.gauges["alerts"].labels(outcome).set(getattr(dispatcher.counts, outcome))
    refresher = getattr(app_state, "refresher", None)
    if refresher is not None:
        for reason, count in refresher.triggered.items():
            app_state.gauges["refreshes"].labels(reason).set(count)
    return Response(generate_latest(app_state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _health_gauges(gauges: dict[str, Any], state: ServingState) -> None:
    """The model-health gauges of the served state (cleared first: a reload may drop a
    feature or a label)."""
    age = snapshot_age_seconds(state.snapshot_date)
    if age is not None:
        gauges["snapshot_age"].set(age)
    if state.health is None:
        return
    for name, pairs in gauge_values(state.health).items():
        gauges[name].clear()
        for labels, value in pairs:
            gauges[name].labels(*labels).set(value)
