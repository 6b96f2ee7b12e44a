"""The scored portfolio: one account, and filtered, sorted pages of accounts."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from serving import problems
from serving.auth import ReadAccess
from serving.deps import StateDep
from serving.problems import UNKNOWN_ACCOUNT, example, invalid_request, read_errors
from serving.schemas import AccountScore, PortfolioPage, SortKey

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
    operation_id="get_account",
    response_model=AccountScore,
    summary="An account's scores, top drivers, reasons and playbooks",
    responses={
        200: {
            "headers": {
                "ETag": {
                    "description": "the record's version: send it as If-None-Match",
                    "schema": {"type": "string"},
                }
            }
        },
        304: {"description": "Not Modified: If-None-Match names the record's current ETag"},
        **problems.responses(
            *read_errors("/v1/accounts/A99999"),
            invalid_request(
                "/v1/accounts/" + "A" * 201,
                "path.account_id",
                "String should have at most 200 characters",
                "string_too_long",
            ),
            (
                UNKNOWN_ACCOUNT,
                example(
                    UNKNOWN_ACCOUNT,
                    "account 'A99999' not found in the snapshot of 2024-07-01",
                    "/v1/accounts/A99999",
                ),
            ),
        ),
    },
)
async def get_account(
    account_id: AccountId,
    state: StateDep,
    _: ReadAccess,
    if_none_match: Annotated[
        str | None,
        Header(description="ETag(s) of a copy the client holds: 304 when one is current"),
    ] = None,
) -> Response:
    # Serialised once when the snapshot was scored (the curve drivers when first asked for).
    portfolio = state.portfolio
    i = portfolio.position(account_id, state.snapshot_date)
    etag = portfolio.etags[i]
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    # curve drivers not found yet cost milliseconds of SHAP: off the event loop
    body = (
        portfolio.response_at(i)
        if portfolio.ready([i])
        else await run_in_threadpool(portfolio.response_at, i)
    )
    return Response(body, media_type="application/json", headers={"ETag": etag})


def _matches(header: str, etag: str) -> bool:
    """If-None-Match names ``etag`` (weak comparison, RFC 9110 13.1.2) or is ``*``."""
    if header == etag:
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


@router.get(
    "",
    operation_id="list_accounts",
    response_model=PortfolioPage,
    summary="The portfolio: filter by segment, CSM, lifecycle stage and tier; sort; paginate",
    responses=problems.responses(
        *read_errors("/v1/accounts"),
        invalid_request(
            "/v1/accounts",
            "query.limit",
            "Input should be greater than or equal to 1",
            "greater_than_equal",
        ),
    ),
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
    min_churn_by_renewal: Annotated[
        float | None,
        Query(ge=0, le=1, description="keep accounts at least this likely gone by renewal"),
    ] = None,
    max_churn_by_renewal: Annotated[
        float | None,
        Query(ge=0, le=1, description="keep accounts at most this likely gone by renewal"),
    ] = None,
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
        min_churn_by_renewal=min_churn_by_renewal,
        max_churn_by_renewal=max_churn_by_renewal,
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
