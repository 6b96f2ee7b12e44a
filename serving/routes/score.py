"""Scores for a batch: cached ones by account id, or live what-if scores of feature rows."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from serving import problems
from serving.auth import ReadAccess
from serving.cache import ServingState
from serving.deps import StateDep
from serving.errors import InvalidFeatures, TooLarge, UnknownAccount
from serving.problems import (
    BATCH_TOO_LARGE,
    INVALID_FEATURES,
    RATE_LIMITED,
    UNKNOWN_ACCOUNT,
    example,
    invalid_request,
    read_errors,
)
from serving.schemas import ScoreRequest, ScoreResponse, WhatIfRow
from serving.scoring import RowFrame, score_frame

router = APIRouter(prefix="/v1/score", tags=["score"])
SINGLE_THREAD_ROWS = 16
"""What-if batches up to this size explain on one thread (better tails); larger use all. A
single row uses every core too: its two models are explained side by side."""
INLINE_ROWS = 1
"""A single what-if row is scored on the event loop (a few ms of LightGBM, which beats the
thread hop); larger batches go to the thread pool so lookups keep flowing meanwhile."""


PATH = "/v1/score"


@router.post(
    "",
    operation_id="score",
    response_model=ScoreResponse,
    summary="Score a batch of account ids (cached) or of feature rows (what-if, live)",
    responses=problems.responses(
        *read_errors(PATH),
        (
            UNKNOWN_ACCOUNT,
            example(
                UNKNOWN_ACCOUNT, "account 'A99999' not found in the snapshot of 2024-07-01", PATH
            ),
        ),
        (
            BATCH_TOO_LARGE,
            example(
                BATCH_TOO_LARGE,
                "batch of 1200 items exceeds the limit of 1000 (CHURNLIGHT_MAX_BATCH); split it",
                PATH,
            ),
        ),
        invalid_request(PATH, "body", "give exactly one of account_ids or rows", "value_error"),
        (
            INVALID_FEATURES,
            example(
                INVALID_FEATURES,
                "unknown feature(s) 'seat_utilisation'; GET /v1/model lists the features",
                PATH,
            ),
        ),
        (
            RATE_LIMITED,
            example(
                RATE_LIMITED,
                "key 'crm' has 2 scoring request(s) in flight, its limit "
                "(CHURNLIGHT_KEY_CONCURRENCY); send the next when one completes",
                PATH,
            ),
        ),
    ),
)
async def score(
    payload: ScoreRequest, request: Request, state: StateDep, caller: ReadAccess
) -> Response:
    settings = request.app.state.settings
    if payload.size > settings.max_batch:
        raise TooLarge(
            f"batch of {payload.size} items exceeds the limit of {settings.max_batch} "
            "(CHURNLIGHT_MAX_BATCH); split it"
        )
    what_if_rows = len(payload.rows) if payload.rows is not None else 0
    with request.app.state.limits.admit(caller.name, what_if_rows):
        return await _score(payload, state, settings.threads())


async def _score(payload: ScoreRequest, state: ServingState, all_threads: int) -> Response:
    head = {"snapshot_date": state.snapshot_date, **state.versions}
    if payload.account_ids is not None:
        portfolio = state.portfolio
        found: list[bytes] = []
        missing: list[str] = []
        for account_id in payload.account_ids:
            i = portfolio.index.get(account_id)
            if i is None:
                missing.append(account_id)
            else:
                found.append(portfolio.responses[i])
        tail = json.dumps({"not_found": missing, **head})
        body = b'{"results":[' + b",".join(found) + b"]," + tail[1:].encode()
        return Response(body, media_type="application/json")
    rows = [_row(state, row) for row in payload.rows or []]
    threads = 1 if 1 < len(rows) <= SINGLE_THREAD_ROWS else all_threads
    if len(rows) <= INLINE_ROWS:
        body = _what_if(state, rows, threads, head)
    else:
        body = await run_in_threadpool(_what_if, state, rows, threads, head)
    return Response(body, media_type="application/json")


def _what_if(
    state: ServingState, rows: list[dict[str, Any]], threads: int, head: dict[str, Any]
) -> bytes:
    batch = score_frame(
        RowFrame(rows),
        state.churn,
        state.expansion,
        state.playbooks,
        state.config,
        threads=threads,
        what_if=True,
    )
    out = {"results": [batch.record(i) for i in range(batch.n)], "not_found": [], **head}
    return json.dumps(out, allow_nan=False, separators=(",", ":")).encode()


def _row(state: ServingState, row: WhatIfRow) -> dict[str, Any]:
    """The values to score: the account's snapshot values (if given) overridden by the row's."""
    _check_features(state, row.features)
    values: dict[str, Any] = {}
    if row.account_id is not None:
        i = state.portfolio.index.get(row.account_id)
        if i is None:
            raise UnknownAccount(row.account_id, state.snapshot_date)
        values = state.snapshot.row(i)
    values.update(row.features)
    values["account_id"] = row.account_id
    return values


def _check_features(state: ServingState, features: dict[str, Any]) -> None:
    kinds = state.feature_kinds
    unknown = sorted(name for name in features if name not in kinds)
    if unknown:
        raise InvalidFeatures(
            f"unknown feature(s) {', '.join(map(repr, unknown[:10]))}; "
            "GET /v1/model lists the features"
        )
    for name, value in features.items():
        if value is None:
            continue
        kind = kinds[name]
        if kind == "derived":
            inputs = _inputs(state, name)
            raise InvalidFeatures(f"feature {name!r} is computed from {inputs}; give those instead")
        if kind == "categorical" and not isinstance(value, str):
            raise InvalidFeatures(f"feature {name!r} takes a category (text); got {value!r}")
        if kind == "numeric":
            if isinstance(value, str):
                raise InvalidFeatures(f"feature {name!r} takes a number; got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidFeatures(f"feature {name!r} takes a finite number; got {value!r}")


def _inputs(state: ServingState, name: str) -> str:
    for view in (state.churn, state.expansion):
        if view.is_derived(name):
            column = view.bundle.columns[view.index[name]]
            return " and ".join(repr(i) for i in column.inputs)
    return "other features"
