"""Errors as RFC 9457 problem details: the kinds, their bodies, and how routes declare them.

Every error the API answers is ``application/problem+json``::

    {"type": "tag:churnlight,2026:problems/unknown-account", "title": "Unknown account",
     "status": 404, "detail": "account 'A9' not found in the snapshot of 2024-07-01",
     "instance": "/v1/accounts/A9", "request_id": "5f0c..."}

``type`` is stable per kind of error (a client branches on it); ``detail`` is the sentence
for people (the same text as before problem details); ``instance`` is the request's path and
``request_id`` its ``X-Request-ID``. A validation problem adds ``errors`` (``loc``, ``msg``,
``type``), one per invalid value. The type URIs are tag URIs (RFC 4151): names, not
addresses; docs/api.md ("Errors") lists each with its meaning.

This module has no web-framework import: the typed client reads the same models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

TYPE_PREFIX = "tag:churnlight,2026:problems/"
MISSING_KEY_DETAIL = "missing API key: send Authorization: Bearer <key>"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: its stable URI, HTTP status and short title."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.slug


MISSING_KEY = ProblemType(
    "missing-key", 401, "Missing API key", "no `Authorization: Bearer <key>` header"
)
INVALID_KEY = ProblemType("invalid-key", 401, "Invalid API key", "the key is not configured")
ADMIN_REQUIRED = ProblemType(
    "admin-required", 403, "Admin key required", "a read key on an admin route"
)
UNKNOWN_ACCOUNT = ProblemType(
    "unknown-account", 404, "Unknown account", "the account is not in the scored snapshot"
)
NOT_IN_HISTORY = ProblemType(
    "not-in-history", 404, "Account not in the history", "the account was never scored"
)
BODY_TOO_LARGE = ProblemType(
    "body-too-large", 413, "Request body too large", "the body exceeds CHURNLIGHT_MAX_BODY_BYTES"
)
BATCH_TOO_LARGE = ProblemType(
    "batch-too-large", 413, "Batch too large", "more items than CHURNLIGHT_MAX_BATCH"
)
INVALID_REQUEST = ProblemType(
    "invalid-request",
    422,
    "Invalid request",
    "a parameter or the body breaks the schema (or is not JSON); `errors` lists each value",
)
INVALID_FEATURES = ProblemType(
    "invalid-features",
    422,
    "Invalid what-if features",
    "a what-if feature the models do not read, or a value of the wrong kind",
)
RATE_LIMITED = ProblemType(
    "rate-limited",
    429,
    "Too many requests",
    "the key's limit of scoring work in flight or of what-if rows per second; retry after "
    "`Retry-After` seconds",
)
INTERNAL_ERROR = ProblemType(
    "internal-error", 500, "Internal error", "a bug: report it with the request id"
)
MODELS_NOT_LOADED = ProblemType(
    "models-not-loaded",
    503,
    "Models not loaded",
    "the models or the snapshot are not loaded (yet, or the load failed); retry after "
    "`Retry-After` seconds",
)
HISTORY_UNAVAILABLE = ProblemType(
    "history-unavailable",
    503,
    "History not available",
    "history is off or its store failed; the scores still serve",
)
HEALTH_UNAVAILABLE = ProblemType(
    "health-unavailable",
    503,
    "Model health not available",
    "the champions carry no training profile, or computing health failed; the scores still serve",
)
MOVEMENTS_UNAVAILABLE = ProblemType(
    "movements-unavailable",
    503,
    "MRR movements not available",
    "the served snapshot names no readable source, or its subscriptions fail validation",
)
EFFECTS_UNAVAILABLE = ProblemType(
    "effects-unavailable",
    503,
    "Play effects not available",
    "no play-effects model is registered (run `churnlight plays --source SRC`); the scores "
    "still serve",
)
RELOAD_FAILED = ProblemType(
    "reload-failed",
    503,
    "Reload failed",
    "a reload with wait=true failed; the previous models keep serving",
)

ALL: tuple[ProblemType, ...] = (
    MISSING_KEY,
    INVALID_KEY,
    ADMIN_REQUIRED,
    UNKNOWN_ACCOUNT,
    NOT_IN_HISTORY,
    BODY_TOO_LARGE,
    BATCH_TOO_LARGE,
    INVALID_REQUEST,
    INVALID_FEATURES,
    RATE_LIMITED,
    INTERNAL_ERROR,
    MODELS_NOT_LOADED,
    HISTORY_UNAVAILABLE,
    HEALTH_UNAVAILABLE,
    MOVEMENTS_UNAVAILABLE,
    EFFECTS_UNAVAILABLE,
    RELOAD_FAILED,
)
BY_URI = {kind.uri: kind for kind in ALL}
ABOUT_BLANK = "about:blank"
"""RFC 9457's type of an error with no more meaning than its status (e.g. 404 for a path no
route serves, 405 for a method a route does not take)."""


class FieldError(BaseModel):
    loc: str = Field(description="where: query.limit, body.rows[0].features.mrr, ...")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. greater_than_equal")


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(
        description="stable URI of the kind of error (docs/api.md, Errors); about:blank for "
        "a plain HTTP error such as 405"
    )
    title: str = Field(description="short summary of the kind")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what failed, the value, and what to do next")
    instance: str = Field(description="the request's path")
    request_id: str | None = Field(None, description="the request's X-Request-ID")


class ValidationProblem(Problem):
    """A 422: ``errors`` (invalid-request) lists every invalid value."""

    errors: list[FieldError] | None = Field(
        None, description="invalid-request only: each invalid value"
    )


class NotReadyProblem(Problem):
    """``/readyz`` before the first load (or after it failed)."""

    load_status: str = Field(description="starting, loading or failed")


def problem_body(
    kind: ProblemType | None,
    detail: str,
    instance: str,
    request_id: str | None,
    *,
    status: int | None = None,
    title: str | None = None,
    **extensions: Any,
) -> bytes:
    """The JSON body of a problem; ``kind`` None: ``about:blank`` with ``status``/``title``."""
    body: dict[str, Any] = {
        "type": kind.uri if kind else ABOUT_BLANK,
        "title": kind.title if kind else title,
        "status": kind.status if kind else status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
        **extensions,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def example(kind: ProblemType, detail: str, instance: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": instance,
        "request_id": "5f0c1e7a9b2d4c6e8f0a1b2c3d4e5f60",
        **extensions,
    }


def responses(*declared: tuple[ProblemType, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """A route's error responses for FastAPI's ``responses=``: each ``(kind, example)``,
    grouped by status, with the problem schema and one example per kind. The OpenAPI
    builder (``serving.openapi``) files them under ``application/problem+json``."""
    out: dict[int | str, dict[str, Any]] = {}
    for kind, value in declared:
        entry = out.setdefault(
            kind.status,
            {
                "model": ValidationProblem if kind.status == 422 else Problem,
                "description": "",
                "content": {PROBLEM_JSON: {"examples": {}}},
            },
        )
        if kind is RATE_LIMITED or kind is MODELS_NOT_LOADED:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            }
        if kind.status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        text = f"{kind.slug}: {kind.description}"
        entry["description"] = f"{entry['description']}; {text}" if entry["description"] else text
        entry["content"][PROBLEM_JSON]["examples"][kind.slug] = {
            "summary": kind.title,
            "value": value,
        }
    return out


def read_errors(path: str) -> tuple[tuple[ProblemType, dict[str, Any]], ...]:
    """What every key-protected route can answer: no key, a wrong key, models not loaded,
    a body over the limit, an invalid parameter."""
    return (
        (MISSING_KEY, example(MISSING_KEY, MISSING_KEY_DETAIL, path)),
        (INVALID_KEY, example(INVALID_KEY, "invalid API key", path)),
        (MODELS_NOT_LOADED, example(MODELS_NOT_LOADED, "models not loaded", path)),
        (BODY_TOO_LARGE, example(BODY_TOO_LARGE, "request body exceeds 1000000 bytes", path)),
    )


def invalid_request(path: str, loc: str, msg: str, kind: str) -> tuple[ProblemType, dict[str, Any]]:
    return (
        INVALID_REQUEST,
        example(
            INVALID_REQUEST,
            f"invalid request: {loc}: {msg}",
            path,
            errors=[{"loc": loc, "msg": msg, "type": kind}],
        ),
    )
