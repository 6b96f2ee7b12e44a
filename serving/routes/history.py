"""Scores over time: an account's history, and the accounts that moved most."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from serving import problems
from serving.auth import ReadAccess
from serving.cache import ServingState
from serving.deps import StateDep
from serving.errors import HistoryUnavailable
from serving.history_view import ServedHistory
from serving.problems import (
    HISTORY_UNAVAILABLE,
    NOT_IN_HISTORY,
    example,
    invalid_request,
    read_errors,
)
from serving.schemas import AccountHistory, MoversPage

router = APIRouter(prefix="/v1", tags=["history"])
Filter = Annotated[
    list[str] | None,
    Query(description="keep accounts with one of these values (repeat the parameter)"),
]


def _history(state: ServingState) -> ServedHistory:
    if state.history is None:
        why = state.history_error or "history is off (CHURNLIGHT_HISTORY=false)"
        raise HistoryUnavailable(f"history not available: {why}")
    return state.history


def _unavailable(path: str) -> tuple[problems.ProblemType, dict]:
    return (
        HISTORY_UNAVAILABLE,
        example(
            HISTORY_UNAVAILABLE,
            "history not available: history is off (CHURNLIGHT_HISTORY=false)",
            path,
        ),
    )


@router.get(
    "/accounts/{account_id}/history",
    operation_id="get_account_history",
    response_model=AccountHistory,
    summary="An account's scores at every snapshot in the history, oldest first",
    responses=problems.responses(
        *read_errors("/v1/accounts/A99999/history"),
        (
            NOT_IN_HISTORY,
            example(
                NOT_IN_HISTORY,
                "account 'A99999' has no scores in the history",
                "/v1/accounts/A99999/history",
            ),
        ),
        invalid_request(
            "/v1/accounts/" + "A" * 201 + "/history",
            "path.account_id",
            "String should have at most 200 characters",
            "string_too_long",
        ),
        _unavailable("/v1/accounts/A99999/history"),
    ),
)
async def account_history(
    account_id: Annotated[str, Path(min_length=1, max_length=200, examples=["A00042"])],
    state: StateDep,
    _: ReadAccess,
) -> Response:
    body = _history(state).account(account_id)
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")


@router.get(
    "/movers",
    operation_id="list_movers",
    response_model=MoversPage,
    summary="Accounts whose churn probability changed most between the two latest snapshots",
    responses=problems.responses(
        *read_errors("/v1/movers"),
        invalid_request(
            "/v1/movers", "query.direction", "Input should be 'up' or 'down'", "literal_error"
        ),
        _unavailable("/v1/movers"),
    ),
)
async def movers(
    request: Request,
    state: StateDep,
    _: ReadAccess,
    direction: Annotated[
        Literal["up", "down"], Query(description="up: risk rose; down: risk fell")
    ] = "up",
    segment: Filter = None,
    csm_id: Filter = None,
    limit: Annotated[
        int, Query(ge=1, description="page size (at most CHURNLIGHT_MAX_PAGE_SIZE)")
    ] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    limit = min(limit, request.app.state.settings.max_page_size)
    found = _history(state).movers
    if found is None:
        body = {
            "items": [],
            "total": 0,
            "limit": limit,
            "offset": offset,
            "next_offset": None,
            "direction": direction,
            "from_snapshot": None,
            "to_snapshot": None,
        }
    else:
        rows = found.select(direction, segment or (), csm_id or ())
        total = len(rows)
        body = {
            "items": [found.item(int(i)) for i in rows[offset : offset + limit]],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
            "direction": direction,
            "from_snapshot": found.from_snapshot,
            "to_snapshot": found.to_snapshot,
        }
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")
