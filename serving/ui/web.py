"""What every web page shares: the session (``serving.ui.session``) read from the request,
sign-in checks, CSRF checks of forms, rendering with the security headers, and the early
exits (``UiExit``) to the sign-in page, 401, 403, 404 or 503."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from serving.auth import Caller
from serving.cache import ServingState
from serving.errors import ModelsNotLoaded
from serving.ui import views
from serving.ui.session import COOKIE, COOKIE_PATH, CSRF_FIELD, Session, Signer, caller_of

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class UiExit(Exception):
    """Leave a page early with this response (sign-in redirect, 401, 403, 404, 503 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def environment() -> jinja2.Environment:
    """The pages' templates: autoescaped, and an undefined name is an error, not blank."""
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


def signer(request: Request) -> Signer:
    return request.app.state.ui_signer


def session_of(request: Request) -> Session | None:
    return signer(request).decode(request.cookies.get(COOKIE))


def signed_in(request: Request, page: bool = True) -> tuple[Session, Caller]:
    session = session_of(request)
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


def set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        signer(request).encode(session),
        max_age=max(1, session.expires - int(now())),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def now() -> float:
    return time.time()


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the last value of each name)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def check_csrf(request: Request, session: Session | None, form: dict[str, str]) -> None:
    if session is None or not session.csrf_ok(form.get(CSRF_FIELD)):
        raise UiExit(
            render(
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


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a /ui path of this site only."""
    if not target or not target.startswith("/ui") or target.startswith("//"):
        return "/ui"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/ui"
    return target


# ---- rendering ----------------------------------------------------------------------------------


def render(
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


def current_state(request: Request, session: Session, caller: Caller) -> ServingState:
    try:
        return request.app.state.holder.current()
    except ModelsNotLoaded as err:
        raise UiExit(
            render(
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


def not_found(request: Request, session: Session, caller: Caller, message: str) -> UiExit:
    return UiExit(
        render(
            request,
            "message.html",
            {"title": "Not found", "message": message},
            status=404,
            session=session,
            caller=caller,
        )
    )
