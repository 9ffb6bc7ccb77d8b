"""A real webhook receiver for the tests: an HTTP server on loopback that records every POST,
answers with the status codes it is told to (then 200), and checks signatures the way the
Standard Webhooks specification says, independently of the service's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300  # the specification's suggested tolerance for the timestamp


@dataclass(frozen=True)
class Received:
    """One request as it arrived: path, headers (lower-case names) and the raw body."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """What the server has received; ``fail_first`` answers, in order, before the 200s."""

    url: str
    fail_first: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.fail_first.pop(0) if self.fail_first else 200

    def record(self, request: Received) -> None:
        with self.lock:
            self.received.append(request)

    def of_type(self, event: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.payload["type"] == event]


@contextmanager
def receiver(fail_first: list[int] | None = None) -> Iterator[Receiver]:
    """A receiver listening on a free loopback port until the block ends."""
    state = Receiver(url="", fail_first=list(fail_first or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.answer()
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.record(Received(self.path, headers, body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads what it received

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/loss-search"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def signature_is_valid(secret: str, request: Received) -> bool:
    """The specification's check: HMAC-SHA256, keyed with the base64-decoded secret after
    ``whsec_``, over ``{webhook-id}.{webhook-timestamp}.{body}``, base64, after ``v1,``; the
    timestamp within the tolerance."""
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = request.headers["webhook-signature"].split(" ")
    return any(hmac.compare_digest(f"v1,{expected}", candidate) for candidate in offered)
