"""Idempotent submission (the IETF httpapi Idempotency-Key draft): a retried POST with the same
key and body gets the first request's job back, with its status code, and creates nothing; the
same key with another body is a 422; keys are per tenant and last 24 hours."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from service.db.models import IdempotencyKeyRow, JobRow, ShardRow, utcnow
from service.db.session import session_scope
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def post(client: TestClient, body: Any = JOB, key: str | None = KEY, **headers: str) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/jobs", json=body, headers=headers)


def stored(settings: Settings) -> tuple[int, int, int]:
    """Jobs, idempotency keys, and messages sent (shard sends) in the database."""
    with session_scope(settings.resolved_database_url) as session:
        jobs = session.scalar(select(func.count()).select_from(JobRow))
        keys = session.scalar(select(func.count()).select_from(IdempotencyKeyRow))
        sends = session.scalar(select(func.sum(ShardRow.sends)))
    return int(jobs or 0), int(keys or 0), int(sends or 0)


def test_a_retry_gets_the_first_job_back_and_creates_nothing(
    client: TestClient, settings: Settings
) -> None:
    first = post(client)
    assert first.status_code == 202
    assert "idempotent-replayed" not in first.headers
    again = post(client)
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert stored(settings) == (1, 1, 1)  # one job, one key, its message sent once


def test_the_same_json_in_another_order_or_spacing_is_the_same_request(
    client: TestClient,
) -> None:
    first = post(client)
    reordered = json.dumps(dict(reversed(list(JOB.items()))), indent=4).encode()
    again = client.post(
        "/v1/jobs",
        content=reordered,
        headers={"Idempotency-Key": KEY, "content-type": "application/json"},
    )
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_another_body_is_a_422_naming_the_conflict(
    client: TestClient, settings: Settings
) -> None:
    first = post(client).json()["id"]
    response = post(client, {**JOB, "metric": "roc_auc"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "idempotency_key_reused"
    assert KEY in error["message"]
    assert first in error["message"]
    assert "different request body" in error["message"]
    assert error["details"][0]["loc"] == ["header", "Idempotency-Key"]
    assert stored(settings) == (1, 1, 1)


def test_the_answer_is_the_jobs_state_now_with_the_first_status_code(client: TestClient) -> None:
    job_id = post(client).json()["id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    again = post(client)
    assert again.status_code == 202
    assert again.json()["status"] == "cancelled"


def test_keys_are_per_tenant(settings: Settings) -> None:
    a, b = issue_key(settings, "team-a"), issue_key(settings, "team-b")
    with TestClient(create_app(settings)) as client:
        a_job = post(client, **bearer(a)).json()["id"]
        b_job = post(client, **bearer(b)).json()["id"]
        assert a_job != b_job
        assert post(client, **bearer(a)).json()["id"] == a_job
        assert post(client, **bearer(b)).json()["id"] == b_job
        # Another tenant's key never reveals or conflicts with this tenant's job.
        other_body = post(client, {**JOB, "seed": 9}, **bearer(b))
        assert other_body.status_code == 422
        assert a_job not in other_body.text


def test_a_key_may_be_used_again_after_24_hours(client: TestClient, settings: Settings) -> None:
    first = post(client).json()["id"]
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            update(IdempotencyKeyRow).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
    again = post(client, {**JOB, "seed": 1})
    assert again.status_code == 202
    assert again.json()["id"] != first
    assert "idempotent-replayed" not in again.headers
    assert stored(settings)[:2] == (2, 1)  # the old key is forgotten, the new use remembered


def test_a_refused_request_does_not_use_up_its_key(client: TestClient, settings: Settings) -> None:
    refused = post(client, {**JOB, "metric": "mae"})
    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "validation_error"
    assert stored(settings) == (0, 0, 0)
    assert post(client).status_code == 202


def test_a_retry_is_answered_even_when_the_tenant_is_at_its_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_queued_jobs": 1})
    with TestClient(create_app(limited)) as client:
        first = post(client).json()["id"]
        assert post(client, key=None).status_code == 429  # a new job would be over the limit
        again = post(client)
        assert (again.status_code, again.json()["id"]) == (202, first)


@pytest.mark.parametrize(
    ("header", "key"),
    [(f'"{KEY}"', KEY), ("abc", "abc"), ("x" * 255, "x" * 255)],
)
def test_a_key_may_be_a_quoted_string_or_a_bare_token(
    client: TestClient, settings: Settings, header: str, key: str
) -> None:
    assert post(client, key=header).status_code == 202
    with session_scope(settings.resolved_database_url) as session:
        assert session.scalar(select(IdempotencyKeyRow.key)) == key


@pytest.mark.parametrize(
    "header", [b"", b"has space", b"x" * 256, b'"unterminated', "é".encode("latin-1")]
)
def test_a_malformed_key_is_a_422(client: TestClient, settings: Settings, header: bytes) -> None:
    response = client.post("/v1/jobs", json=JOB, headers={b"Idempotency-Key": header})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "Idempotency-Key" in response.json()["error"]["message"]
    assert stored(settings) == (0, 0, 0)


@pytest.fixture
def racing(settings: Settings) -> Iterator[TestClient]:
    # More request threads, so the duplicates really are admitted at the same time.
    with TestClient(create_app(settings.model_copy(update={"api_threads": 8}))) as client:
        yield client


def test_concurrent_duplicates_create_one_job(racing: TestClient, settings: Settings) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post(racing), range(6)))
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert sum(answer.headers.get("idempotent-replayed") == "true" for answer in answers) == 5
    assert stored(settings) == (1, 1, 1)


@pytest.mark.parametrize("body", [b"", b"{not json", b'{"dataset": "\xff"}'])
def test_a_body_that_is_not_json_is_refused_as_without_a_key(
    client: TestClient, body: bytes
) -> None:
    headers = {"content-type": "application/json"}
    without = client.post("/v1/jobs", content=body, headers=headers)
    keyed = client.post("/v1/jobs", content=body, headers={**headers, "Idempotency-Key": KEY})
    assert without.status_code in (400, 422)
    assert (keyed.status_code, keyed.json()) == (without.status_code, without.json())
