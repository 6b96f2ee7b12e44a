"""The web pages under /ui: sign-in, portfolio (and its CSV), account 360, movers, model.

Every page needs a signed-in session (``serving.ui.session``): without one a page redirects
to /ui/login (303) and the CSV answers 401. Every form posts a CSRF token that must match the
session's. Pages are rendered on the server (Jinja2, autoescaped) and work without
JavaScript. None of these routes is in the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from serving.auth import Caller, hash_key
from serving.cache import ServingState
from serving.errors import InvalidFeatures, RateLimited, UnknownAccount
from serving.routes.model import model_card
from serving.settings import ServingSettings
from serving.ui import views
from serving.ui.session import COOKIE, COOKIE_PATH, Session, Signer
from serving.ui.web import (
    HERE,
    SECURITY_HEADERS,
    UiExit,
    check_csrf,
    current_state,
    environment,
    not_found,
    read_form,
    render,
    safe_next,
    session_of,
    set_cookie,
    signed_in,
    signer,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
Many = Annotated[list[str] | None, Query()]


def install(app: FastAPI, settings: ServingSettings) -> None:
    """Add the pages, their static files and their session signer to ``app``."""
    secret = settings.ui_session_secret
    app.state.ui_signer = Signer(
        secret.get_secret_value() if secret else None, settings.ui_session_minutes
    )
    app.state.ui_templates = environment()
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(router)

    async def leave(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UiExit)
        return exc.response

    app.add_exception_handler(UiExit, leave)


# ---- sign-in and sign-out -----------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    session = session_of(request)
    fresh = session is None
    if session is None:
        session = Session.anonymous(signer(request).minutes)
    response = render(
        request, "login.html", {"next": safe_next(next), "error": None}, session=session
    )
    if fresh:
        set_cookie(request, response, session)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    session = session_of(request)
    check_csrf(request, session, form)
    assert session is not None
    key = form.get("api_key", "")
    caller = request.app.state.keys.identify(key) if key else None
    if caller is None:
        return render(
            request,
            "login.html",
            {"next": safe_next(form.get("next")), "error": "That API key is not valid."},
            status=401,
            session=session,
        )
    signed = Session.signed_in(hash_key(key), signer(request).minutes)
    response = RedirectResponse(safe_next(form.get("next")), 303, headers=SECURITY_HEADERS)
    set_cookie(request, response, signed)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    session = session_of(request)
    check_csrf(request, session, form)
    assert session is not None
    signer(request).revoke(session)
    response = RedirectResponse("/ui/login", 303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


# ---- portfolio ----------------------------------------------------------------------------------


def _filters(
    segment: list[str] | None,
    csm_id: list[str] | None,
    lifecycle_stage: list[str] | None,
    risk_tier: list[str] | None,
    sort: str,
    order: str,
) -> views.Filters:
    def clean(values: list[str] | None) -> tuple[str, ...]:
        return tuple(v for v in values or () if v)

    return views.Filters(
        clean(segment),
        clean(csm_id),
        clean(lifecycle_stage),
        tuple(t for t in clean(risk_tier) if t in views.TIERS),
        sort if sort in views.SORTS else "revenue_at_risk",
        order if order in ("asc", "desc") else "desc",
    )


@router.get("")
async def portfolio(
    request: Request,
    segment: Many = None,
    csm_id: Many = None,
    lifecycle_stage: Many = None,
    risk_tier: Many = None,
    sort: str = "revenue_at_risk",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    session, caller = signed_in(request)
    state = current_state(request, session, caller)
    filters = _filters(segment, csm_id, lifecycle_stage, risk_tier, sort, order)
    view = views.portfolio_view(state, filters, limit, offset)
    return render(
        request,
        "portfolio.html",
        {
            "view": view,
            "rows": views.row_markup(state.portfolio, view.rows),
            "sorts": views.SORTS,
            "tiers": views.TIERS,
            "page_sizes": views.PAGE_SIZES,
        },
        session=session,
        caller=caller,
    )


@router.get("/portfolio.csv")
async def portfolio_csv(
    request: Request,
    segment: Many = None,
    csm_id: Many = None,
    lifecycle_stage: Many = None,
    risk_tier: Many = None,
    sort: str = "revenue_at_risk",
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    session, caller = signed_in(request, page=False)
    state = current_state(request, session, caller)
    filters = _filters(segment, csm_id, lifecycle_stage, risk_tier, sort, order)
    body = views.portfolio_csv(state, filters)
    name = f"churnlight-portfolio-{state.snapshot_date or 'latest'}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/me")
async def choose_csm(request: Request) -> Response:
    """Remember which CSM the user is ("My accounts" then filters on it); blank forgets."""
    session, _ = signed_in(request)
    form = await read_form(request)
    check_csrf(request, session, form)
    csm = (form.get("csm_id") or "").strip() or None
    target = "/ui?" + urllib.parse.urlencode({"csm_id": csm}) if csm else "/ui"
    response = RedirectResponse(target, 303, headers=SECURITY_HEADERS)
    set_cookie(request, response, replace(session, csm=csm))
    return response


# ---- one account --------------------------------------------------------------------------------


def _account_page(
    request: Request,
    session: Session,
    caller: Caller,
    state: ServingState,
    account_id: str,
    given: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        record = views.account_record(state, account_id)
    except UnknownAccount as err:
        raise not_found(request, session, caller, str(err)) from err
    context = {
        "record": record,
        "renewal_date": views.renewal_date(record),
        "waterfalls": views.score_charts(record),
        "history": views.history_chart(state, account_id),
        "history_note": _history_note(state),
        "fields": views.what_if_fields(state, account_id, given),
        "result": result,
        "result_waterfalls": views.score_charts(result) if result else None,
        "error": error,
    }
    return render(request, "account.html", context, status, session, caller)


def _history_note(state: ServingState) -> str:
    if state.history is None:
        return state.history_error or "History is off (CHURNLIGHT_HISTORY=false)."
    return "Scores over time appear once this account has two snapshots in the history."


@router.get("/accounts/{account_id}")
async def account(request: Request, account_id: str) -> Response:
    session, caller = signed_in(request)
    state = current_state(request, session, caller)
    # the record's curve drivers may still be to find (milliseconds of SHAP): off the loop
    return await run_in_threadpool(_account_page, request, session, caller, state, account_id)


@router.post("/accounts/{account_id}/what-if")
async def account_what_if(request: Request, account_id: str) -> Response:
    session, caller = signed_in(request)
    form = await read_form(request)
    check_csrf(request, session, form)
    state = current_state(request, session, caller)
    if account_id not in state.portfolio.index:
        raise not_found(request, session, caller, f"account {account_id!r} is not served")
    names = [f.name for f in views.what_if_fields(state, account_id)]
    given = {n: form.get(n, "") for n in names}
    try:
        changes = views.parse_what_if(form, names)
        with request.app.state.limits.admit(caller.name, 1):
            result = await asyncio.to_thread(views.what_if, state, account_id, changes)
    except (views.WhatIfInputError, InvalidFeatures) as err:
        return _account_page(
            request, session, caller, state, account_id, given, error=str(err), status=422
        )
    except RateLimited as err:
        return _account_page(
            request, session, caller, state, account_id, given, error=str(err), status=429
        )
    return _account_page(request, session, caller, state, account_id, given, result)


# ---- movers and model ---------------------------------------------------------------------------


@router.get("/movers")
async def movers(
    request: Request,
    direction: Literal["up", "down"] = "up",
    segment: Many = None,
    csm_id: Many = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    session, caller = signed_in(request)
    state = current_state(request, session, caller)
    found = state.history.movers if state.history is not None else None
    items: list[dict[str, Any]] = []
    total = 0
    if found is not None:
        rows = found.select(direction, tuple(segment or ()), tuple(csm_id or ()))
        total = len(rows)
        items = [found.item(int(i)) for i in rows[offset : offset + limit]]
    context = {
        "movers": found,
        "items": items,
        "total": total,
        "direction": direction,
        "limit": limit,
        "offset": offset,
        "history_note": _history_note(state) if found is None else None,
        "options": views.options(state.portfolio),
        "segment": tuple(segment or ()),
        "csm_id": tuple(csm_id or ()),
    }
    return render(request, "movers.html", context, session=session, caller=caller)


def _model_context(request: Request, state: ServingState) -> dict[str, Any]:
    settings: ServingSettings = request.app.state.settings
    cards = [
        model_card(state, "churn", state.churn),
        model_card(state, "expansion", state.expansion),
    ]
    for card in cards:
        card["features"] = sorted(card["features"], key=lambda f: -f["importance_gain"])
    return {
        "cards": cards,
        "state": state,
        "health": state.health.to_dict() if state.health is not None else None,
        "health_error": state.health_error,
        "mlflow_url": settings.ui_mlflow_url.rstrip("/") if settings.ui_mlflow_url else None,
        "notice": None,
    }


@router.get("/model")
async def model(request: Request) -> Response:
    session, caller = signed_in(request)
    state = current_state(request, session, caller)
    return render(request, "model.html", _model_context(request, state), 200, session, caller)


@router.post("/model/reload")
async def reload(request: Request) -> Response:
    session, caller = signed_in(request)
    form = await read_form(request)
    check_csrf(request, session, form)
    state = current_state(request, session, caller)
    context = _model_context(request, state)
    if caller.role != "admin":
        context["notice"] = "Reloading needs an admin key; this key reads only."
        return render(request, "model.html", context, 403, session, caller)
    request.app.state.holder.reload()
    context["notice"] = "Reload started: the new models serve once they are scored."
    return render(request, "model.html", context, 202, session, caller)
