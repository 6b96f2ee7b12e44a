"""The one error handler: every error the API answers becomes a problem (``serving.problems``).

Project errors map by class to a problem type, with their message as ``detail``; request
validation becomes ``invalid-request`` with ``errors``; the framework's own HTTP errors (a
path no route serves, a method a route does not take) keep their status as ``about:blank``
problems; anything else is ``internal-error``, logged with the request id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from serving import problems
from serving.errors import MODELS_NOT_LOADED as NOT_LOADED_DETAIL
from serving.errors import (
    AdminRequired,
    EffectsUnavailable,
    HistoryUnavailable,
    InvalidFeatures,
    InvalidKey,
    MissingKey,
    ModelsNotLoaded,
    MovementsUnavailable,
    NotInHistory,
    RateLimited,
    ReloadFailed,
    ServingError,
    TooLarge,
    UnknownAccount,
)
from serving.problems import PROBLEM_JSON, ProblemType, problem_body
from serving.schemas import SCALAR_BRANCHES, SCALAR_MESSAGE

log = logging.getLogger("churnlight.serving")

KINDS: dict[type[ServingError], ProblemType] = {
    MissingKey: problems.MISSING_KEY,
    InvalidKey: problems.INVALID_KEY,
    AdminRequired: problems.ADMIN_REQUIRED,
    UnknownAccount: problems.UNKNOWN_ACCOUNT,
    NotInHistory: problems.NOT_IN_HISTORY,
    TooLarge: problems.BATCH_TOO_LARGE,
    InvalidFeatures: problems.INVALID_FEATURES,
    RateLimited: problems.RATE_LIMITED,
    ModelsNotLoaded: problems.MODELS_NOT_LOADED,
    HistoryUnavailable: problems.HISTORY_UNAVAILABLE,
    MovementsUnavailable: problems.MOVEMENTS_UNAVAILABLE,
    EffectsUnavailable: problems.EFFECTS_UNAVAILABLE,
    ReloadFailed: problems.RELOAD_FAILED,
}
FRAMEWORK: dict[int, ProblemType] = {413: problems.BODY_TOO_LARGE}
"""HTTP errors raised outside the routes that are one of our kinds (the body limit)."""
MODELS_RETRY_SECONDS = 5
HISTORY_RETRY_SECONDS = 30


def problem_response(
    request: Request,
    kind: ProblemType | None,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    status: int | None = None,
    title: str | None = None,
    **extensions: Any,
) -> Response:
    body = problem_body(
        kind,
        detail,
        request.url.path,
        request.scope.get("state", {}).get("request_id"),
        status=status,
        title=title,
        **extensions,
    )
    return Response(
        body,
        status_code=kind.status if kind else status or 500,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def _kind_of(exc: ServingError) -> ProblemType:
    for cls in type(exc).__mro__:
        kind = KINDS.get(cls)  # type: ignore[call-overload]
        if kind is not None:
            return kind
    return problems.INTERNAL_ERROR


async def project_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServingError)
    kind = _kind_of(exc)
    headers: dict[str, str] = {}
    if kind.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
        # as the gate does (serving.gate): a client resending at once costs the loop little
        delay = min(request.app.state.settings.key_refusal_delay_seconds, exc.retry_after)
        if delay > 0:
            await asyncio.sleep(delay)
    elif kind is problems.MODELS_NOT_LOADED:
        headers["Retry-After"] = str(MODELS_RETRY_SECONDS)
    elif kind is problems.HISTORY_UNAVAILABLE:
        headers["Retry-After"] = str(HISTORY_RETRY_SECONDS)
    # a load error's own message (paths, store URLs) stays in the server's log
    detail = NOT_LOADED_DETAIL if kind is problems.MODELS_NOT_LOADED else str(exc)
    return problem_response(request, kind, detail, headers or None)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = fold_scalar_unions(
        [
            {"loc": _location(e["loc"]), "msg": _message(e["msg"]), "type": e["type"]}
            for e in exc.errors()
        ]
    )
    return _invalid(request, errors)


def _invalid(request: Request, errors: list[dict[str, str]]) -> Response:
    detail = "invalid request: " + "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
    return problem_response(request, problems.INVALID_REQUEST, detail, errors=errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers 400 when a JSON body is not text; it is invalid JSON like any other
        error = {"loc": "body", "msg": "JSON decode error: not UTF-8 text", "type": "json_invalid"}
        return _invalid(request, [error])
    kind = FRAMEWORK.get(exc.status_code)
    if kind is not None:
        return problem_response(request, kind, str(exc.detail), exc.headers)
    phrase = HTTPStatus(exc.status_code).phrase
    return problem_response(
        request,
        None,
        str(exc.detail),
        exc.headers,
        status=exc.status_code,
        title=phrase,
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id")
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"fields": {"request_id": request_id, "path": request.url.path}},
    )
    return problem_response(
        request, problems.INTERNAL_ERROR, f"internal error (request id {request_id})"
    )


def add_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServingError, project_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


def _location(loc: Any) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def fold_scalar_unions(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """One error per feature value that is none of number, text, boolean, null (pydantic
    reports one per branch of the union: ``<loc>.float``, ``<loc>.str``, ``<loc>.bool``)."""
    out: list[dict[str, str]] = []
    for error in errors:
        head, _, branch = error["loc"].rpartition(".")
        if branch in SCALAR_BRANCHES and head:
            if not (out and out[-1]["loc"] == head and out[-1]["type"] == "scalar_type"):
                out.append({"loc": head, "msg": SCALAR_MESSAGE, "type": "scalar_type"})
            continue
        out.append(error)
    return out
