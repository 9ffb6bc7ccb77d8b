"""Request latency by route template, as a pure ASGI middleware.

The label is the matched route's path template (``/v1/jobs/{job_id}``), never the raw path: a
label per job id would make one time series per job. Paths that match no route share one
label, ``unmatched``.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import REQUEST_SECONDS

UNMATCHED = "unmatched"


class RequestMetrics:
    """Times every HTTP request and records it under its route template and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            REQUEST_SECONDS.labels(scope["method"], _template(scope), str(status)).observe(
                time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    # The router writes the matched route into the scope (the same dict) as it dispatches.
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED
