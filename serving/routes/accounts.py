"""The scored portfolio: one account, and filtered, sorted pages of accounts."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from serving.auth import ReadAccess
from serving.deps import StateDep
from serving.schemas import ERRORS, AccountScore, ErrorResponse, PortfolioPage, SortKey

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

AccountId = Annotated[
    str,
    Path(
        min_length=1, max_length=200, description="account_id of the snapshot", examples=["A00042"]
    ),
]
Filter = Annotated[
    list[str] | None,
    Query(description="keep accounts with one of these values (repeat the parameter)"),
]


@router.get(
    "/{account_id}",
    response_model=AccountScore,
    summary="An account's scores, top drivers, reasons and playbooks",
    responses={
        **ERRORS,
        404: {"model": ErrorResponse, "description": "account not in the scored snapshot"},
    },
)
async def get_account(account_id: AccountId, state: StateDep, _: ReadAccess) -> Response:
    # Serialised once when the snapshot was scored: a lookup is a dictionary read.
    body = state.portfolio.response(account_id, state.snapshot_date)
    return Response(body, media_type="application/json")


@router.get(
    "",
    response_model=PortfolioPage,
    summary="The portfolio: filter by segment, CSM, lifecycle stage and tier; sort; paginate",
    responses=ERRORS,
)
async def list_accounts(
    request: Request,
    state: StateDep,
    _: ReadAccess,
    segment: Filter = None,
    csm_id: Filter = None,
    lifecycle_stage: Filter = None,
    risk_tier: Annotated[
        list[Literal["low", "medium", "high", "critical"]] | None,
        Query(description="keep these tiers (repeat the parameter)"),
    ] = None,
    sort: Annotated[
        SortKey, Query(description="highest first with order=desc")
    ] = "revenue_at_risk",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[
        int, Query(ge=1, description="page size (at most CHURNLIGHT_MAX_PAGE_SIZE)")
    ] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    limit = min(limit, request.app.state.settings.max_page_size)
    portfolio = state.portfolio
    rows = portfolio.select(
        sort,
        descending=order == "desc",
        segment=segment or (),
        csm_id=csm_id or (),
        lifecycle_stage=lifecycle_stage or (),
        risk_tier=risk_tier or (),
    )
    page = rows[offset : offset + limit]
    total = len(rows)
    body = {
        "items": [portfolio.summaries[i] for i in page.tolist()],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < total else None,
        "sort": sort,
        "order": order,
        "snapshot_date": state.snapshot_date,
        **state.versions,
    }
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")
