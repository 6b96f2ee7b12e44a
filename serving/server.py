"""Run the API under uvicorn (one process; ``uvicorn[standard]``: uvloop and httptools)."""

from __future__ import annotations

from collections.abc import Callable

from serving.cache import ServingState
from serving.logs import configure_logging, logging_config
from serving.settings import ServingSettings


def serve(
    settings: ServingSettings,
    on_ready: Callable[[ServingState], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Serve until interrupted. Models load in the background once the socket listens."""
    import uvicorn

    from serving.app import create_app

    configure_logging(settings.log_level)
    app = create_app(settings, on_ready=on_ready, on_error=on_error)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level),
        access_log=False,  # churnlight.access logs every request, as JSON
        server_header=False,
        timeout_graceful_shutdown=10,
    )
