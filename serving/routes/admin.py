"""Admin: reload the champion models and the snapshot without failing requests in flight."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from serving import problems
from serving.auth import ADMIN_REQUIRED, AdminAccess
from serving.deps import HolderDep
from serving.errors import ReloadFailed
from serving.problems import RELOAD_FAILED, example, invalid_request, read_errors
from serving.schemas import ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])


PATH = "/v1/admin/reload"


@router.post(
    "/reload",
    operation_id="reload",
    response_model=ReloadResponse,
    status_code=202,
    summary="Reload models and snapshot in the background; swap atomically when complete",
    responses={
        200: {"model": ReloadResponse, "description": "wait=true: the new state serves"},
        **problems.responses(
            *[kind for kind in read_errors(PATH) if kind[0] is not problems.MODELS_NOT_LOADED],
            (problems.ADMIN_REQUIRED, example(problems.ADMIN_REQUIRED, ADMIN_REQUIRED, PATH)),
            invalid_request(PATH, "query.wait", "Input should be a valid boolean", "bool_parsing"),
            (
                RELOAD_FAILED,
                example(
                    RELOAD_FAILED,
                    "reload failed, the previous models keep serving: no MLflow store at "
                    "'models/mlflow.db'",
                    PATH,
                ),
            ),
        ),
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
