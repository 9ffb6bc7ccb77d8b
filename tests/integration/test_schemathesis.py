"""Schemathesis against the real API process: generated requests find no server error and no
response that breaks the OpenAPI document.

The API runs as its own process on the embedded defaults, as ``loss-search api`` starts it, with
no worker: every job a generated request creates stays queued, which is all the API needs. Auth
is required and schemathesis sends an admin key; its ``ignored_auth`` check sends requests
without it too, and they must be refused.
Schemathesis (a ``dev`` dependency) runs through its CLI with ``--checks all`` over every phase
(examples, coverage, fuzzing, and stateful sequences that follow the links of POST /v1/jobs),
with a fixed seed so a failure replays. ``tests/integration/schemathesis.toml`` lists the four
places where a schema-valid request may still be refused with 422 and says why. The test fails,
never skips, when schemathesis cannot run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Backend, Service

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_CASES = 1000
# Per operation and phase; about 1,300 cases in all, under a minute on two cores.
MAX_EXAMPLES = 60
SEED = 20240901


class ApiOnly(Service):
    """The API process alone: jobs stay queued, and no training competes for the CPU."""

    def start_worker(self, name: str) -> None:
        """Start nothing: the API accepts, stores and queues jobs without a worker."""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if importlib.util.find_spec("schemathesis") is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'", pytrace=False)
    workdir = tmp_path_factory.mktemp("schemathesis")
    data_root = workdir / "data"
    data_root.mkdir()
    backend = Backend("embedded", None, None, f"loss-search-test-{uuid.uuid4().hex[:8]}")
    service = ApiOnly(
        backend=backend,
        workdir=workdir,
        data_root=data_root,
        extra_env={"LOSS_SEARCH_AUTH": "required"},
    )
    try:
        service.start()
        service.key = service.create_key("schemathesis", role="admin")
        yield service
    finally:
        service.stop()


def run_schemathesis(service: Service) -> tuple[dict[str, Any], str]:
    """Run the CLI against ``service``; its JSON report and its console output."""
    report = service.workdir / "schemathesis-report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{service.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {service.key}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: with two threads, hypothesis parses lambdas' source concurrently, which
        # CPython 3.11.7 can fail ("AST constructor recursion depth mismatch"), now and then.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    finished = subprocess.run(
        command, cwd=service.workdir, capture_output=True, text=True, timeout=540, check=False
    )
    output = finished.stdout + finished.stderr
    assert report.exists(), f"schemathesis did not run:\n{output[-6000:]}"
    return json.loads(report.read_text()), output


def test_generated_requests_find_no_server_error_and_no_schema_violation(api: Service) -> None:
    report, output = run_schemathesis(api)
    failures = {failure["title"]: failure["count"] for failure in report["failures"]}
    errors = {error["title"]: error["count"] for error in report["errors"]}
    assert failures == {}, f"schemathesis found failures {failures}:\n{output[-8000:]}"
    assert errors == {}, f"schemathesis could not run some tests {errors}:\n{output[-8000:]}"
    assert report["exit_code"] == 0, output[-8000:]
    assert report["test_cases"]["generated"] >= MIN_CASES, report["test_cases"]
    assert report["operations"]["tested"] == report["operations"]["total"]
    assert all(phase["status"] == "success" for phase in report["phases"].values())
    assert "Traceback" not in (api.workdir / "api.log").read_text(errors="replace")


def test_bodies_over_the_limit_are_refused_by_the_real_server(api: Service) -> None:
    body = b'{"dataset": "builtin:iris", "metric": "accuracy", "losses": [' + b'"x",' * (1 << 19)
    with api.client(api.key) as client:
        declared = client.post(
            "/v1/jobs", content=body, headers={"content-type": "application/json"}
        )
        streamed = client.post(
            "/v1/jobs",
            content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
            headers={"content-type": "application/json"},
        )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["type"] == "request_too_large"
    assert "transfer-encoding" not in declared.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"


def test_the_real_server_answers_hostile_paging_with_422(api: Service) -> None:
    with api.client(api.key) as client:
        response = client.get("/v1/jobs", params={"offset": 2**63})
    assert response.status_code == 422
    assert "offset" in response.json()["error"]["message"]
