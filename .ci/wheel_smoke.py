"""Run one small job against a service started from the installed wheel; check its report.

Standard library only: the wheel's own dependencies are all the fresh environment has.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}


def call(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, str, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def wait_until_up(base: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if call("GET", f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    sys.exit(f"wheel: the service did not answer /healthz within {limit_s:.0f} s")


def main(base: str) -> None:
    wait_until_up(base)
    status, _, body = call("POST", f"{base}/v1/jobs", JOB)
    if status != 202:
        sys.exit(f"wheel: POST /v1/jobs answered {status}: {body[:500]!r}")
    job_id = json.loads(body)["id"]
    deadline = time.monotonic() + 600
    while True:
        job = json.loads(call("GET", f"{base}/v1/jobs/{job_id}")[2])
        if job["status"] not in ("queued", "running"):
            break
        if time.monotonic() > deadline:
            sys.exit(f"wheel: job {job_id} still {job['status']} after 600 s")
        time.sleep(2)
    if job["status"] != "succeeded":
        sys.exit(f"wheel: job {job_id} ended {job['status']}: {job.get('error')}")
    status, content_type, page = call("GET", f"{base}/v1/jobs/{job_id}/report.html")
    if status != 200 or not content_type.startswith("text/html") or b"<html" not in page:
        sys.exit(f"wheel: report.html answered {status} {content_type}: {page[:300]!r}")
    print(f"wheel: job {job_id} succeeded and its report is served ({len(page):,} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
