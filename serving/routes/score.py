"""Scores for a batch: cached ones by account id, or live what-if scores of feature rows."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from serving import problems
from serving.auth import ReadAccess
from serving.cache import ServingState
from serving.deps import StateDep
from serving.errors import TooLarge, UnknownAccount
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
from serving.what_if import WhatIfWorkers, check_features, row_values, score_rows

router = APIRouter(prefix="/v1/score", tags=["score"])
INLINE_ROWS = 1
"""A single what-if row is scored on the event loop (a few ms, which beats any hop); larger
batches go to a worker process (``serving.what_if``), so lookups keep flowing meanwhile."""


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
        return await _score(payload, state, request.app.state.what_ifs, settings.threads())


async def _score(
    payload: ScoreRequest, state: ServingState, workers: WhatIfWorkers, all_threads: int
) -> Response:
    head = {"snapshot_date": state.snapshot_date, **state.versions}
    if payload.account_ids is not None:
        portfolio = state.portfolio
        at: list[int] = []
        missing: list[str] = []
        for account_id in payload.account_ids:
            i = portfolio.index.get(account_id)
            if i is None:
                missing.append(account_id)
            else:
                at.append(i)
        found = (
            portfolio.responses_at(at)
            if portfolio.ready(at)
            else await run_in_threadpool(portfolio.responses_at, at)
        )
        tail = json.dumps({"not_found": missing, **head})
        body = b'{"results":[' + b",".join(found) + b"]," + tail[1:].encode()
        return Response(body, media_type="application/json")
    rows = payload.rows or []
    if len(rows) > INLINE_ROWS:
        items = [(row.account_id, row.features) for row in rows]
        snapshot = state.snapshot.table
        index = state.portfolio.index
        body = await workers.score(state.what_if_kit, items, snapshot, index)
    else:
        values = [what_if_values(state, row) for row in rows]
        views = (state.churn, state.expansion)
        body = score_rows(values, *views, state.playbooks, state.config, all_threads, head)
    return Response(body, media_type="application/json")


def what_if_values(state: ServingState, row: WhatIfRow) -> dict[str, Any]:
    """The values to score: the account's snapshot values (if given) overridden by the row's
    (checked: ``InvalidFeatures``, ``UnknownAccount``). The web pages' what-if uses it too."""
    check_features(state.feature_kinds, (state.churn, state.expansion), row.features)
    base = None
    if row.account_id is not None:
        i = state.portfolio.index.get(row.account_id)
        if i is None:
            raise UnknownAccount(row.account_id, state.snapshot_date)
        base = state.snapshot.row(i)
    return row_values(base, row.account_id, row.features)
