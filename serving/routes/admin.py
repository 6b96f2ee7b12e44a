"""Admin: reload the champion models and the snapshot without failing requests in flight."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from serving.auth import AdminAccess
from serving.deps import HolderDep
from serving.errors import ReloadFailed
from serving.schemas import ERRORS, ErrorResponse, ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    status_code=202,
    summary="Reload models and snapshot in the background; swap atomically when complete",
    responses={
        **ERRORS,
        200: {"model": ReloadResponse, "description": "wait=true: the new state serves"},
        403: {"model": ErrorResponse, "description": "a read key on an admin route"},
    },
)
async def reload(
    holder: HolderDep,
    _: AdminAccess,
    response: Response,
    wait: Annotated[
        bool, Query(description="answer when the new state serves (or the reload failed)")
    ] = False,
) -> ReloadResponse:
    job = holder.reload()
    if wait:
        try:
            await asyncio.wrap_future(job)
        except Exception as err:
            raise ReloadFailed(f"reload failed, the previous models keep serving: {err}") from err
        response.status_code = 200
    state = holder.state
    return ReloadResponse(
        status="ready" if wait else "reloading",
        churn_model_version=state.churn.version if state else None,
        expansion_model_version=state.expansion.version if state else None,
        snapshot_date=state.snapshot_date if state else None,
        accounts=state.portfolio.batch.n if state else None,
        build_seconds=state.seconds if state else None,
    )
