"""The book's revenue: monthly MRR movements, GRR and NRR of the served snapshot's source."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from features.errors import ChurnlightError, ConfigError
from serving import problems
from serving.auth import ReadAccess
from serving.book import Book, BookError
from serving.book_forecast import OutlookRequest, forecast_book, read_calibration
from serving.deps import StateDep
from serving.errors import MovementsUnavailable
from serving.problems import MOVEMENTS_UNAVAILABLE, example, invalid_request, read_errors
from serving.schemas import ForecastResponse, MovementsResponse

log = logging.getLogger("churnlight.serving")
router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])
PATH = "/v1/portfolio/movements"


@router.get(
    "/movements",
    operation_id="get_movements",
    response_model=MovementsResponse,
    summary="Monthly MRR movements (new, expansion, contraction, churned, reactivated), GRR "
    "and NRR of the book, overall or per segment or CSM",
    responses=problems.responses(
        *read_errors(PATH),
        (
            MOVEMENTS_UNAVAILABLE,
            example(
                MOVEMENTS_UNAVAILABLE,
                "the served snapshot names no source, so its subscriptions are unknown; ...",
                PATH,
            ),
        ),
        invalid_request(
            PATH + "?segment=nope",
            "query.segment",
            "no account has segment 'nope'; known: enterprise, mid_market, smb",
            "value_error",
        ),
    ),
)
async def get_movements(
    request: Request,
    state: StateDep,
    _: ReadAccess,
    by: Annotated[
        Literal["segment", "csm"] | None, Query(description="one series per segment or CSM")
    ] = None,
    segment: Annotated[str | None, Query(max_length=200, description="only this segment")] = None,
    csm: Annotated[str | None, Query(max_length=200, description="only this csm_id")] = None,
    months: Annotated[int, Query(ge=1, le=600, description="newest whole months")] = 12,
) -> dict[str, Any]:
    book = await run_in_threadpool(_book, request, state.snapshot.facts)
    try:
        table = book.movements(by=by, segment=segment, csm=csm, months=months)
    except BookError as err:
        raise RequestValidationError(
            [{"loc": ("query", err.parameter), "msg": str(err), "type": "value_error"}]
        ) from err
    return book.to_dict(table, by)


def _book(request: Request, facts: dict[str, Any]) -> Book:
    grace = int(facts.get("grace_days") or 30)
    try:
        return request.app.state.books.get(facts.get("source"), facts.get("as_of"), grace)
    except MovementsUnavailable:
        raise
    except ChurnlightError as err:
        # The error may name local paths, which never leave the server: logged, not sent.
        log.warning("MRR movements not available: %s", err)
        raise MovementsUnavailable(
            "MRR movements not available: the snapshot's source cannot be read or fails "
            "validation (`churnlight validate` on it says why)"
        ) from err


FORECAST_PATH = "/v1/portfolio/forecast"
FORECAST_SIMULATIONS = 1000


@router.get(
    "/forecast",
    operation_id="get_forecast",
    response_model=ForecastResponse,
    summary="Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the "
    "scored book over the next months, with 80% and 90% intervals and two baselines",
    responses=problems.responses(
        *read_errors(FORECAST_PATH),
        (
            MOVEMENTS_UNAVAILABLE,
            example(
                MOVEMENTS_UNAVAILABLE,
                "the served snapshot names no source, so its subscriptions are unknown; ...",
                FORECAST_PATH,
            ),
        ),
        invalid_request(
            FORECAST_PATH + "?horizon_months=0",
            "query.horizon_months",
            "Input should be greater than or equal to 1",
            "greater_than_equal",
        ),
    ),
)
async def get_forecast(
    request: Request,
    state: StateDep,
    _: ReadAccess,
    horizon_months: Annotated[int, Query(ge=1, le=24, description="months ahead")] = 3,
    by: Annotated[
        Literal["segment", "csm"] | None, Query(description="one forecast per segment or CSM")
    ] = None,
    segment: Annotated[str | None, Query(max_length=200, description="only this segment")] = None,
    csm: Annotated[str | None, Query(max_length=200, description="only this csm_id")] = None,
) -> dict[str, Any]:
    book = await run_in_threadpool(_book, request, state.snapshot.facts)
    batch = state.portfolio.batch
    scores = pd.DataFrame(
        {
            "account_id": batch.account_id,
            "snapshot_date": batch.snapshot_date,
            "churn_probability": batch.churn.probability,
            "expansion_probability": batch.expansion.probability,
            "mrr": batch.mrr,
            "days_to_renewal": batch.days_to_renewal,
            # repeat renewals inside a horizon (monthly terms) need the term's length
            **(
                {}
                if batch.term_length_days is None
                else {"term_length_days": batch.term_length_days}
            ),
            # the survival champion's curve when one is served (the forecast then uses it)
            **({} if batch.survival is None else batch.survival.columns()),
        }
    )
    try:
        calibration = read_calibration(request.app.state.settings.forecast_calibration)
    except ConfigError as err:
        log.warning("forecast calibration not readable: %s", err)
        raise MovementsUnavailable(
            "the forecast's interval calibration cannot be read; write it again with "
            "`churnlight forecast --backtest N`"
        ) from err
    try:
        return await run_in_threadpool(
            forecast_book,
            book,
            scores,
            OutlookRequest(
                (horizon_months,), by, segment, csm, FORECAST_SIMULATIONS, 0, calibration
            ),
        )
    except BookError as err:
        raise RequestValidationError(
            [{"loc": ("query", err.parameter), "msg": str(err), "type": "value_error"}]
        ) from err
