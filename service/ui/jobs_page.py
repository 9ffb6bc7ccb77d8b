"""``GET /ui``: a jobs page for people, live, with a link to each job's report.

The page is a shell with no job data in it. Its inline script reads ``GET /v1/jobs`` (and
``/best`` of each succeeded job, for the verdict) as any API client does, with the API key the
person typed once when the API needs one. So the page itself needs no key and can leak nothing:
what it shows is exactly what the JSON API shows that key, tenant scoping included. The key
stays in the tab's ``sessionStorage`` and travels only in the ``Authorization`` header, never in
a URL (the content security policy forbids form submissions, so it cannot end up in one).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.api.deps import DatabaseDep
from service.auth.authenticator import Authenticator

router = APIRouter(include_in_schema=False)  # a page, not part of the API's contract
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
POLL_MS = 2000  # while a job on the page is queued or running
IDLE_POLL_MS = 5000  # otherwise: a new job still shows up soon, for less


def content_security_policy(nonce: str) -> str:
    """Only the page's own script runs; it may talk to this origin alone.

    Inline styles and ``data:`` images are allowed because a report opened through the page (a
    ``blob:`` document, which inherits this policy) is made of them.
    """
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            "style-src 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@router.get("/ui", response_class=HTMLResponse)
async def jobs_page(request: Request, db: DatabaseDep) -> HTMLResponse:
    """The jobs page. It says whether the API needs a key now, and holds no job data."""
    authenticator: Authenticator = request.app.state.authenticator
    needs_key = not await authenticator.is_open(db.reads)
    nonce = secrets.token_urlsafe(18)
    page = _TEMPLATES.get_template("jobs.html").render(
        nonce=nonce, needs_key=needs_key, poll_ms=POLL_MS, idle_poll_ms=IDLE_POLL_MS
    )
    headers = {
        "Content-Security-Policy": content_security_policy(nonce),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(page, headers=headers)
