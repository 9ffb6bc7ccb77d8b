"""``loss-search webhooks listen``: a real receiver process that accepts a correctly signed
webhook, prints it, and refuses a forged one with 401 (so the sender retries)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from service.webhooks.signing import new_secret, signed_headers
from tests.integration.harness import free_port, wait_for

SECRET = new_secret()


@pytest.fixture
def listener() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "webhooks", "listen", "--port", str(port)],
        env={"LOSS_SEARCH_WEBHOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            return httpx.post(url, content=b"{}").status_code == 401
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "the listener to start")
        yield url, process
    finally:
        process.terminate()
        process.wait(10)


def test_a_signed_webhook_is_printed_and_a_forged_one_refused(
    listener: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = listener
    body = json.dumps({"type": "job.succeeded", "data": {"job_id": "j-1", "status": "succeeded"}})
    headers = signed_headers(SECRET, "msg_1", datetime.now(UTC), body.encode())
    assert httpx.post(url, content=body, headers=headers).status_code == 204
    forged = signed_headers(new_secret(), "msg_2", datetime.now(UTC), body.encode())
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert "job.succeeded j-1 (signature ok)" in out
    assert "refused (No matching signature found): msg_2" in err
