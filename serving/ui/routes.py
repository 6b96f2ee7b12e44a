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
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from serving.auth import Caller, hash_key
from serving.cache import ServingState
from serving.errors import InvalidFeatures, ModelsNotLoaded, RateLimited, UnknownAccount
from serving.routes.model import model_card
from serving.settings import ServingSettings
from serving.ui import views
from serving.ui.session import COOKIE, COOKIE_PATH, CSRF_FIELD, Session, Signer, caller_of

HERE = Path(__file__).resolve().parent
router = APIRouter(prefix="/ui", include_in_schema=False)
Many = Annotated[list[str] | None, Query()]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SIGNED_OUT = "Your session has ended or is not valid. Sign in again."


class UiExit(Exception):
    """Leave a page early with this response (sign-in redirect, 401, 403, 404, 503 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def install(app: FastAPI, settings: ServingSettings) -> None:
    """Add the pages, their static files and their session signer to ``app``."""
    secret = settings.ui_session_secret
    app.state.ui_signer = Signer(
        secret.get_secret_value() if secret else None, settings.ui_session_minutes
    )
    app.state.ui_templates = _environment()
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(router)

    async def leave(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UiExit)
        return exc.response

    app.add_exception_handler(UiExit, leave)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = views.money
    env.filters["pct"] = views.pct
    env.filters["signed"] = lambda v: f"{v:+.2f}"
    env.filters["urlencode_pairs"] = lambda pairs: urllib.parse.urlencode(pairs)
    env.globals["option_tags"] = views.option_tags
    return env


# ---- sessions -----------------------------------------------------------------------------------


def _signer(request: Request) -> Signer:
    return request.app.state.ui_signer


def _session(request: Request) -> Session | None:
    return _signer(request).decode(request.cookies.get(COOKIE))


def _signed_in(request: Request, page: bool = True) -> tuple[Session, Caller]:
    session = _session(request)
    caller = caller_of(session, request.app.state.keys)
    if session is None or caller is None:
        if not page:
            raise UiExit(PlainTextResponse("sign in at /ui/login", 401, headers=SECURITY_HEADERS))
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":  # a form sent after the session ended: back to its page
            target = target.removesuffix("/what-if") if "/accounts/" in target else "/ui"
        login = "/ui/login?" + urllib.parse.urlencode({"next": target})
        raise UiExit(RedirectResponse(login, 303, headers=SECURITY_HEADERS))
    # what the access log names: the key's name and role, never the key
    request.scope.setdefault("state", {}).update(role=caller.role, key=caller.name)
    return session, caller


def _set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        _signer(request).encode(session),
        max_age=max(1, session.expires - int(_now())),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _now() -> float:
    import time

    return time.time()


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the last value of each name)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def _check_csrf(request: Request, session: Session | None, form: dict[str, str]) -> None:
    if session is None or not session.csrf_ok(form.get(CSRF_FIELD)):
        raise UiExit(
            _render(
                request,
                "message.html",
                {
                    "title": "Form refused",
                    "message": "The form expired or did not come from "
                    "this site (CSRF check failed). Reload the page and try again.",
                },
                status=403,
                session=None,
            )
        )


def _safe_next(target: str | None) -> str:
    """Where to go after sign-in: a /ui path of this site only."""
    if not target or not target.startswith("/ui") or target.startswith("//"):
        return "/ui"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/ui"
    return target


# ---- rendering ----------------------------------------------------------------------------------


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    session: Session | None = None,
    caller: Caller | None = None,
) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.ui_templates
    html = env.get_template(template).render(
        request_path=request.url.path,
        csrf_field=CSRF_FIELD,
        csrf=session.csrf if session else "",
        caller=caller,
        my_csm=session.csm if session and caller else None,
        **context,
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def _state(request: Request, session: Session, caller: Caller) -> ServingState:
    try:
        return request.app.state.holder.current()
    except ModelsNotLoaded as err:
        raise UiExit(
            _render(
                request,
                "message.html",
                {
                    "title": "Not ready",
                    "message": f"The scores are not loaded yet ({err}). "
                    "Reload this page in a moment.",
                },
                status=503,
                session=session,
                caller=caller,
            )
        ) from err


def _not_found(request: Request, session: Session, caller: Caller, message: str) -> UiExit:
    return UiExit(
        _render(
            request,
            "message.html",
            {"title": "Not found", "message": message},
            status=404,
            session=session,
            caller=caller,
        )
    )


# ---- sign-in and sign-out -----------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    session = _session(request)
    fresh = session is None
    if session is None:
        session = Session.anonymous(_signer(request).minutes)
    response = _render(
        request, "login.html", {"next": _safe_next(next), "error": None}, session=session
    )
    if fresh:
        _set_cookie(request, response, session)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    session = _session(request)
    _check_csrf(request, session, form)
    assert session is not None
    key = form.get("api_key", "")
    caller = request.app.state.keys.identify(key) if key else None
    if caller is None:
        return _render(
            request,
            "login.html",
            {"next": _safe_next(form.get("next")), "error": "That API key is not valid."},
            status=401,
            session=session,
        )
    signed = Session.signed_in(hash_key(key), _signer(request).minutes)
    response = RedirectResponse(_safe_next(form.get("next")), 303, headers=SECURITY_HEADERS)
    _set_cookie(request, response, signed)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    session = _session(request)
    _check_csrf(request, session, form)
    assert session is not None
    _signer(request).revoke(session)
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
    session, caller = _signed_in(request)
    state = _state(request, session, caller)
    filters = _filters(segment, csm_id, lifecycle_stage, risk_tier, sort, order)
    view = views.portfolio_view(state, filters, limit, offset)
    return _render(
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
    session, caller = _signed_in(request, page=False)
    state = _state(request, session, caller)
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
    session, _ = _signed_in(request)
    form = await _form(request)
    _check_csrf(request, session, form)
    csm = (form.get("csm_id") or "").strip() or None
    target = "/ui?" + urllib.parse.urlencode({"csm_id": csm}) if csm else "/ui"
    response = RedirectResponse(target, 303, headers=SECURITY_HEADERS)
    _set_cookie(request, response, replace(session, csm=csm))
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
        raise _not_found(request, session, caller, str(err)) from err
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
    return _render(request, "account.html", context, status, session, caller)


def _history_note(state: ServingState) -> str:
    if state.history is None:
        return state.history_error or "History is off (CHURNLIGHT_HISTORY=false)."
    return "Scores over time appear once this account has two snapshots in the history."


@router.get("/accounts/{account_id}")
async def account(request: Request, account_id: str) -> Response:
    session, caller = _signed_in(request)
    state = _state(request, session, caller)
    return _account_page(request, session, caller, state, account_id)


@router.post("/accounts/{account_id}/what-if")
async def account_what_if(request: Request, account_id: str) -> Response:
    session, caller = _signed_in(request)
    form = await _form(request)
    _check_csrf(request, session, form)
    state = _state(request, session, caller)
    if account_id not in state.portfolio.index:
        raise _not_found(request, session, caller, f"account {account_id!r} is not served")
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
    session, caller = _signed_in(request)
    state = _state(request, session, caller)
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
    return _render(request, "movers.html", context, session=session, caller=caller)


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
    session, caller = _signed_in(request)
    state = _state(request, session, caller)
    return _render(request, "model.html", _model_context(request, state), 200, session, caller)


@router.post("/model/reload")
async def reload(request: Request) -> Response:
    session, caller = _signed_in(request)
    form = await _form(request)
    _check_csrf(request, session, form)
    state = _state(request, session, caller)
    context = _model_context(request, state)
    if caller.role != "admin":
        context["notice"] = "Reloading needs an admin key; this key reads only."
        return _render(request, "model.html", context, 403, session, caller)
    request.app.state.holder.reload()
    context["notice"] = "Reload started: the new models serve once they are scored."
    return _render(request, "model.html", context, 202, session, caller)
