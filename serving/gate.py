"""The per-key limits (``serving.limits``) applied to ``POST /v1/score`` before FastAPI runs.

A key that sends without honouring ``Retry-After`` must cost the event loop little per
refusal, or its refusals are what other keys' lookups wait behind. Measured under a burst of
1,000-row what-ifs (``python -m bench soak``, py-spy on the server): a refusal answered by the
route cost 1-3 ms of the loop, a quarter of the server's samples were the JSON parse of the
refused bodies and most of the rest FastAPI's routing, dependencies and response. This
pure-ASGI middleware answers 429 from the ``Authorization`` header alone when the key holds
all its slots (the body is never read: the server discards it), and reads and parses the body
only when the key's bucket might be short of a full batch, to count its what-if rows.

A refusal is answered after ``CHURNLIGHT_KEY_REFUSAL_DELAY_SECONDS`` (at most its
``Retry-After``), as HAProxy's ``tarpit`` does: a client that resends at once without honouring
``Retry-After`` then sends a few requests a second per connection instead of thousands, and
the waiting costs the loop a timer, not work. Measured on 2 cores (``python -m bench soak``,
fairness step): a closed-loop burst on four connections was refused 3,300 times a second, and
the other key's lookup p99 rose 4.4x over its idle p99; see docs/api.md for the numbers with
the delay. A well-behaved client waits ``Retry-After`` anyway and loses nothing.

Everything else passes through unchanged: requests of other routes, of no or an unknown key
(the route answers 401), and admissible ones, whose body is replayed to FastAPI. The route
still ``admit``s the validated batch (a request admitted here may meet a slot taken
meanwhile, and is then refused there with the same problem).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.auth import KeyRing
from serving.errors import RateLimited
from serving.limits import KeyLimits
from serving.problems import PROBLEM_JSON, RATE_LIMITED, problem_body

PATH = "/v1/score"


class ScoreGate:
    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        limits: KeyLimits,
        max_batch: int,
        refusal_delay: float = 0.0,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limits = limits
        self.max_batch = max_batch
        self.refusal_delay = refusal_delay
        self.pause: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        token = None
        length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, param = value.decode("latin-1").partition(" ")
                token = param.strip() if scheme.lower() == "bearer" else None
            elif name == b"content-length":
                length = value
        caller = self.keys.identify(token) if token else None
        if caller is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["key"], state["role"], state["route"] = caller.name, caller.role, PATH
        try:
            self.limits.busy(caller.name)
            if length is None or not self.limits.short(caller.name, self.max_batch):
                await self.app(scope, receive, send)
                return
            body, replay = await _read(receive)
            self.limits.check(caller.name, self._what_if_rows(body))
        except RateLimited as refused:
            delay = min(self.refusal_delay, float(refused.retry_after))
            if delay > 0:
                await self.pause(delay)
            await _refuse(scope, send, refused)
            return
        await self.app(scope, replay, send)

    def _what_if_rows(self, body: bytes) -> int:
        """The number of what-if rows in a body (0 for a body that is no what-if batch, or
        one larger than a batch may be: the route answers those)."""
        try:
            payload = json.loads(body)
        except ValueError:
            return 0
        rows = payload.get("rows") if isinstance(payload, dict) else None
        count = len(rows) if isinstance(rows, list) else 0
        return count if count <= self.max_batch else 0


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _read(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it on as one message (then what
    ``receive`` gives). A failure while reading (the body limit) is raised to the app."""
    chunks: list[bytes] = []
    failure: Exception | None = None
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
    except Exception as error:  # raised again where the app reads the body
        failure = error
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if failure is not None:
            raise failure
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(scope: Scope, send: Send, refused: RateLimited) -> None:
    """429 ``rate-limited`` with ``Retry-After``, as the route's error handler answers it."""
    request_id = scope.get("state", {}).get("request_id")
    body = problem_body(RATE_LIMITED, str(refused), scope["path"], request_id)
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(refused.retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
