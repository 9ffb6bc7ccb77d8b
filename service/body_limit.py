"""A bound on request bodies, enforced while they arrive rather than after they are read whole.

FastAPI's own ``max_body_size`` answers in plain text when the declared length is too large, so
this middleware does the same job in the API's one error shape.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response

SETTING = "LOSS_SEARCH_MAX_REQUEST_BYTES"
# A multipart body wraps its file in a few hundred bytes of headers and boundaries.
MULTIPART_SLACK = 64 * 1024


def _too_large(limit: int, setting: str, declared: int | None = None) -> str:
    size = f"has {declared} bytes" if declared is not None else "is larger than that"
    return (
        f"the request body {size}; this API reads at most {limit} bytes per request "
        f"(the {setting} setting)"
    )


class BodySizeLimit:
    """Answer 413 to a request whose body exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read; otherwise
    the chunks are counted as the application reads them, and the first chunk past the limit
    stops the read (a chunked upload declares no length).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: dict[str, tuple[int, str]] | None = None
    ) -> None:
        """``uploads``: paths that take files, with their own limit and the setting naming it."""
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.max_bytes, SETTING
        if scope["path"] in self.uploads:
            file_limit, setting = self.uploads[scope["path"]]
            limit = file_limit + MULTIPART_SLACK
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(
                413, "request_too_large", _too_large(limit, setting, int(declared))
            )
            await response(scope, receive, send)
            return
        await self.app(scope, self._counting(receive, limit, setting), send)

    def _counting(self, receive: Receive, limit: int, setting: str) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and
                    # reaches the error handlers, which give it the one shape.
                    raise HTTPException(413, _too_large(limit, setting))
            return message

        return counting_receive
