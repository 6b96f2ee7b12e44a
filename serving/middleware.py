"""One pure-ASGI middleware for every HTTP request: request id, body size limit, JSON access
log, Prometheus metrics. (Starlette's BaseHTTPMiddleware costs more per request than a
cached lookup does.)

- request id: the client's ``X-Request-ID`` when it is 1-64 safe characters, else a new one;
  echoed in the response header and in the access log;
- body limit: a ``Content-Length`` above ``max_body_bytes`` is refused with 413 (problem
  ``body-too-large``) before the body is read; a body without one is counted as it streams
  and refused the same way;
- access log (logger ``churnlight.access``): method, route template, path, status, duration,
  bytes, client, request id, the caller's key name and role; never headers, keys or bodies;
- metrics: requests by method, route template, status and key name; duration by route.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.problems import BODY_TOO_LARGE, PROBLEM_JSON, problem_body

access_log = logging.getLogger("churnlight.access")
SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def body_too_large(limit: int) -> str:
    return f"request body exceeds {limit} bytes"


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "churnlight_http_requests",
            "HTTP requests by route template, status and key name (none: no valid key)",
            ["method", "route", "status", "key"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "churnlight_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    def observe(
        self, method: str, route: str, status: int, seconds: float, key: str = "none"
    ) -> None:
        labels = (method, route, status, key)
        children = self._children.get(labels)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status), key),
                self.latency.labels(route),
            )
            self._children[labels] = children
        children[0].inc()
        children[1].observe(seconds)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if SAFE_ID.match(candidate) else None
            elif name == b"content-length":
                length = value
        request_id = request_id or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        sent = 0
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        limit = self.max_body_bytes
        if length is not None and _too_long(length, limit):
            body = problem_body(BODY_TOO_LARGE, body_too_large(limit), scope["path"], request_id)
            await _reject(send_wrapper, 413, body)
        else:
            received = 0

            async def receive_wrapper() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        # FastAPI re-raises an HTTPException met while reading the body
                        raise HTTPException(413, body_too_large(limit))
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except Exception:
                status = 500
                self._log(scope, state, status, sent, started)
                raise
        self._log(scope, state, status, sent, started)

    def _log(self, scope: Scope, state: dict, status: int, sent: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or state.get("route") or "<unmatched>"
        key = state.get("key")
        self.metrics.observe(scope["method"], template, status, seconds, key or "none")
        if access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": state.get("request_id"),
                        "method": scope["method"],
                        "route": template,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "bytes": sent,
                        "client": client[0] if client else None,
                        "key": key,
                        "role": state.get("role"),
                    }
                },
            )


def _too_long(header: bytes, limit: int) -> bool:
    try:
        return int(header) > limit
    except ValueError:
        return True


async def _reject(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
