"""A typed Python client of the scoring API (``pip install 'churnlight[client]'``: httpx).

Every method returns the pydantic model the route documents (``serving.schemas``); every
error answer becomes ``ApiError`` carrying the RFC 9457 problem, its stable ``kind``
(``unknown-account``, ``rate-limited``, ... see docs/api.md) and, for 429 and 503, the
seconds ``Retry-After`` asks for. Account lookups remember each record's ETag and send it as
``If-None-Match``: an unchanged record costs the server a 304 and no body.

    with ApiClient("http://127.0.0.1:8000", key) as api:
        account = api.get_account("A00042")
        page = api.list_accounts(risk_tier=["high", "critical"], limit=20)

The module imports no web framework and nothing from ``training``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from features.errors import ChurnlightError
from serving.problems import PROBLEM_JSON, TYPE_PREFIX, ValidationProblem
from serving.schemas import (
    AccountHistory,
    AccountScore,
    ModelResponse,
    MoversPage,
    PortfolioPage,
    Ready,
    ReloadResponse,
    ScoreRequest,
    ScoreResponse,
    SortKey,
    WhatIfRow,
)

Model = TypeVar("Model", bound=BaseModel)
Params = list[tuple[str, str | int | float | bool | None]]


class ApiError(ChurnlightError):
    """An error answer of the API: ``problem`` is its body, ``kind`` the last segment of its
    ``type`` (``about:blank`` for a plain HTTP error)."""

    def __init__(self, problem: ValidationProblem, retry_after: int | None) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")
        self.problem = problem
        self.status = problem.status
        self.kind = problem.type.removeprefix(TYPE_PREFIX)
        self.retry_after = retry_after


class ApiClient:
    """One connection pool to one server, authenticated with one key."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            transport=transport,
        )
        self._records: dict[str, tuple[str, AccountScore]] = {}

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- accounts ------------------------------------------------------------------------------

    def get_account(self, account_id: str) -> AccountScore:
        """An account's scores; a record seen before is revalidated with its ETag."""
        held = self._records.get(account_id)
        headers = {"If-None-Match": held[0]} if held else {}
        response = self._http.get(f"/v1/accounts/{_segment(account_id)}", headers=headers)
        if response.status_code == 304 and held:
            return held[1]
        record = _parse(response, AccountScore)
        etag = response.headers.get("ETag")
        if etag:
            self._records[account_id] = (etag, record)
        return record

    def list_accounts(
        self,
        *,
        segment: Sequence[str] = (),
        csm_id: Sequence[str] = (),
        lifecycle_stage: Sequence[str] = (),
        risk_tier: Sequence[Literal["low", "medium", "high", "critical"]] = (),
        sort: SortKey = "revenue_at_risk",
        order: Literal["asc", "desc"] = "desc",
        limit: int = 50,
        offset: int = 0,
    ) -> PortfolioPage:
        params: Params = [
            *(("segment", v) for v in segment),
            *(("csm_id", v) for v in csm_id),
            *(("lifecycle_stage", v) for v in lifecycle_stage),
            *(("risk_tier", v) for v in risk_tier),
            ("sort", sort),
            ("order", order),
            ("limit", limit),
            ("offset", offset),
        ]
        return _parse(self._http.get("/v1/accounts", params=params), PortfolioPage)

    def get_account_history(self, account_id: str) -> AccountHistory:
        path = f"/v1/accounts/{_segment(account_id)}/history"
        return _parse(self._http.get(path), AccountHistory)

    def list_movers(
        self,
        *,
        direction: Literal["up", "down"] = "up",
        segment: Sequence[str] = (),
        csm_id: Sequence[str] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> MoversPage:
        params: Params = [
            ("direction", direction),
            *(("segment", v) for v in segment),
            *(("csm_id", v) for v in csm_id),
            ("limit", limit),
            ("offset", offset),
        ]
        return _parse(self._http.get("/v1/movers", params=params), MoversPage)

    # -- scoring -------------------------------------------------------------------------------

    def score(
        self,
        *,
        account_ids: Sequence[str] | None = None,
        rows: Sequence[WhatIfRow | dict[str, Any]] | None = None,
    ) -> ScoreResponse:
        """Cached records of ``account_ids``, or live what-if scores of ``rows`` (one of
        the two). 429 ``rate-limited`` when the key's limits are reached."""
        request = ScoreRequest(
            account_ids=list(account_ids) if account_ids is not None else None,
            rows=[WhatIfRow.model_validate(r) for r in rows] if rows is not None else None,
        )
        body = request.model_dump(mode="json", exclude_none=True)
        return _parse(self._http.post("/v1/score", json=body), ScoreResponse)

    # -- the service ---------------------------------------------------------------------------

    def get_model(self) -> ModelResponse:
        return _parse(self._http.get("/v1/model"), ModelResponse)

    def readyz(self) -> Ready:
        return _parse(self._http.get("/readyz"), Ready)

    def reload(self, *, wait: bool = False) -> ReloadResponse:
        """Reload models and snapshot (an admin key)."""
        response = self._http.post("/v1/admin/reload", params={"wait": str(wait).lower()})
        return _parse(response, ReloadResponse)


def _segment(account_id: str) -> str:
    return quote(account_id, safe="")


def _parse(response: httpx.Response, model: type[Model]) -> Model:
    if response.is_success:
        return model.model_validate_json(response.content)
    raise _error(response)


def _error(response: httpx.Response) -> ApiError:
    retry = response.headers.get("Retry-After")
    retry_after = int(retry) if retry and retry.isdigit() else None
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return ApiError(ValidationProblem.model_validate_json(response.content), retry_after)
    problem = ValidationProblem(
        type="about:blank",
        title=response.reason_phrase,
        status=response.status_code,
        detail=response.text[:200],
        instance=response.request.url.path,
    )
    return ApiError(problem, retry_after)
