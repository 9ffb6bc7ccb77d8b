"""Per-tenant limits on submissions: jobs in flight, jobs waiting, trials per job.

Over a limit on jobs the answer is 429 with ``Retry-After`` and a message naming the limit;
over the trial limit it is 422 (that request can never succeed). A refused submission leaves
nothing behind: no job, no shard, no message, and the tenant's count of submissions unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.auth.principal import Role
from service.db import shards
from service.db.models import JobRow, ShardRow, TenantRow
from service.db.session import session_scope
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}


@dataclass
class Api:
    client: TestClient
    settings: Settings
    a: str
    b: str
    admin: str

    def submit(self, key: str, **changes: Any) -> Any:
        return self.client.post("/v1/jobs", json={**JOB, **changes}, headers=bearer(key))

    def stored(self, tenant: str) -> tuple[int, int, int]:
        """The tenant's jobs and shards in the database, and its count of submissions."""
        with session_scope(self.settings.resolved_database_url) as session:
            jobs = session.scalar(select(func.count()).where(JobRow.tenant == tenant))
            shard_rows = session.scalar(
                select(func.count())
                .select_from(ShardRow)
                .join(JobRow, JobRow.id == ShardRow.job_id)
                .where(JobRow.tenant == tenant)
            )
            row = session.get(TenantRow, tenant)
            return int(jobs or 0), int(shard_rows or 0), row.jobs_submitted if row else 0


@contextmanager
def api_with(settings: Settings, **defaults: Any) -> Iterator[Api]:
    """The API with these default limits, two member keys (team-a, team-b) and an admin key."""
    configured = settings.model_copy(update=defaults)
    a, b = issue_key(configured, "team-a"), issue_key(configured, "team-b")
    admin = issue_key(configured, "platform", Role.ADMIN)
    with TestClient(create_app(configured)) as client:
        yield Api(client, configured, a, b, admin)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """Default limits: 2 jobs in flight, 1 waiting, 5 trials per job."""
    limits = {"max_concurrent_jobs": 2, "max_queued_jobs": 1, "max_trials_per_job": 5}
    with api_with(settings, **limits) as api:
        yield api


def start(settings: Settings, job_id: str) -> None:
    """Have a worker take the job (it is running, no longer waiting)."""
    with session_scope(settings.resolved_database_url) as session:
        assert shards.claim_shard(
            session=session, job_id=job_id, shard=0, worker="w", stale_after_s=30
        )


def assert_refused(response: Any, status: int, limit: str, value: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == ("quota_exceeded" if status == 429 else "limit_exceeded")
    assert f"{limit} = {value}" in error["message"]
    if status == 429:
        assert response.headers["retry-after"] == "30"
    else:
        assert "retry-after" not in response.headers


def test_a_tenant_may_not_have_more_jobs_waiting_than_max_queued_jobs(api: Api) -> None:
    first = api.submit(api.a)
    assert first.status_code == 202
    refused = api.submit(api.a)
    assert_refused(refused, 429, "max_queued_jobs", 1)
    assert "tenant 'team-a' has 1 jobs waiting for a worker" in refused.json()["error"]["message"]
    assert api.stored("team-a") == (1, 1, 1)  # nothing left behind
    # Once a worker takes it, another may wait; other tenants never counted.
    start(api.settings, first.json()["id"])
    assert api.submit(api.a).status_code == 202
    assert api.submit(api.b).status_code == 202


def test_a_tenant_may_not_have_more_jobs_in_flight_than_max_concurrent_jobs(api: Api) -> None:
    for _ in range(2):
        job = api.submit(api.a)
        assert job.status_code == 202
        start(api.settings, job.json()["id"])
    refused = api.submit(api.a)
    assert_refused(refused, 429, "max_concurrent_jobs", 2)
    assert "has 2 jobs queued or running" in refused.json()["error"]["message"]
    assert api.stored("team-a") == (2, 2, 2)
    # A job that ends frees its place.
    running = api.client.get("/v1/jobs", headers=bearer(api.a)).json()["items"][0]["id"]
    assert api.client.post(f"/v1/jobs/{running}/cancel", headers=bearer(api.a)).status_code == 202


def test_a_job_may_not_ask_for_more_than_max_trials_per_job(api: Api) -> None:
    refused = api.submit(api.a, budget={"n_trials": 6})
    assert_refused(refused, 422, "max_trials_per_job", 5)
    assert refused.json()["error"]["details"][0]["loc"] == ["body", "budget", "n_trials"]
    assert api.stored("team-a") == (0, 0, 0)
    assert api.submit(api.a, budget={"n_trials": 5}).status_code == 202


def test_an_admin_sets_a_tenants_own_limits(api: Api) -> None:
    limits = {"max_concurrent_jobs": 10, "max_queued_jobs": 3, "max_trials_per_job": None}
    response = api.client.put("/v1/tenants/team-a/limits", json=limits, headers=bearer(api.admin))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tenant": "team-a",
        "own": limits,
        "defaults": {"max_concurrent_jobs": 2, "max_queued_jobs": 1, "max_trials_per_job": 5},
        "in_force": {"max_concurrent_jobs": 10, "max_queued_jobs": 3, "max_trials_per_job": 5},
        "usage": {"queued": 0, "running": 0},
    }
    for _ in range(3):
        assert api.submit(api.a).status_code == 202
    assert_refused(api.submit(api.a), 429, "max_queued_jobs", 3)
    assert api.submit(api.b).status_code == 202  # team-b keeps the defaults
    assert_refused(api.submit(api.b), 429, "max_queued_jobs", 1)
    mine = api.client.get("/v1/tenants/team-a/limits", headers=bearer(api.a)).json()
    assert mine["usage"] == {"queued": 3, "running": 0}
    # PUT replaces: a field left out goes back to the default.
    reset = api.client.put("/v1/tenants/team-a/limits", json={}, headers=bearer(api.admin))
    assert reset.json()["in_force"] == reset.json()["defaults"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"max_queued_jobs": 0}, "max_queued_jobs"),
        ({"max_trials_per_job": 10**6}, "max_trials_per_job"),
        ({"max_jobs": 3}, "max_jobs"),
        ({"max_concurrent_jobs": "many"}, "max_concurrent_jobs"),
    ],
)
def test_limits_that_make_no_sense_are_refused(api: Api, body: dict[str, Any], where: str) -> None:
    response = api.client.put("/v1/tenants/team-a/limits", json=body, headers=bearer(api.admin))
    assert response.status_code == 422
    assert where in response.json()["error"]["message"]


def test_a_tenant_name_is_checked(api: Api) -> None:
    response = api.client.put("/v1/tenants/Team%20A/limits", json={}, headers=bearer(api.admin))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["path", "tenant"]


def test_concurrent_submissions_cannot_both_take_the_last_place(settings: Settings) -> None:
    with api_with(settings, max_queued_jobs=1) as api, ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: api.submit(api.a).status_code, range(4)))
        assert sorted(answers) == [202, 429, 429, 429]
        assert api.stored("team-a") == (1, 1, 1)


def test_without_keys_the_limits_apply_to_the_default_tenant(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_queued_jobs": 1})
    with TestClient(create_app(limited)) as client:
        assert client.post("/v1/jobs", json=JOB).status_code == 202
        refused = client.post("/v1/jobs", json=JOB)
        assert_refused(refused, 429, "max_queued_jobs", 1)
        assert "tenant 'default'" in refused.json()["error"]["message"]


def test_with_no_limits_set_nothing_is_limited(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/v1/jobs", json=JOB).status_code == 202
    limits = client.get("/v1/tenants/default/limits").json()
    assert limits["in_force"] == {
        "max_concurrent_jobs": None,
        "max_queued_jobs": None,
        "max_trials_per_job": None,
    }
    assert limits["usage"] == {"queued": 5, "running": 0}


def test_the_openapi_document_describes_the_refusals(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    refused = paths["/v1/jobs"]["post"]["responses"]["429"]
    assert "Retry-After" in refused["headers"]
    assert "limits" in refused["description"]
    assert "403" in paths["/v1/tenants/{tenant}/limits"]["put"]["responses"]
