"""Tenants on real processes, on each backend: keys made with the real CLI, the real API server
checking them, each tenant seeing only its own jobs. (tests/api/test_tenants.py checks every
route in-process; this checks that the same holds over HTTP on PostgreSQL too.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.integration.harness import Backend, Service

pytestmark = pytest.mark.integration

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 4}}
AUTH_CACHE_S = 0.5


@dataclass
class Keys:
    a: str
    b: str
    admin: str


@pytest.fixture(scope="module")
def api(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The API alone (jobs stay queued), trusting a checked key for half a second."""
    workdir = tmp_path_factory.mktemp(f"tenants-{backend.name}")
    data_root = workdir / "data"
    data_root.mkdir()
    service = Service(
        backend=backend,
        workdir=workdir,
        data_root=data_root,
        extra_env={"LOSS_SEARCH_AUTH_CACHE_S": str(AUTH_CACHE_S)},
    )
    try:
        service.start(worker=False)
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def keys(api: Service) -> Keys:
    with api.client() as client:  # no key yet: open, as the README walk-through runs
        assert client.get("/v1/jobs").status_code == 200
    keys = Keys(api.create_key("team-a"), api.create_key("team-b"), api.create_key("ops", "admin"))
    time.sleep(AUTH_CACHE_S)  # the API learns within auth_cache_s that keys exist
    return keys


def test_a_tenant_sees_only_its_own_jobs(api: Service, keys: Keys) -> None:
    with api.client(keys.a) as a, api.client(keys.b) as b, api.client(keys.admin) as admin:
        created = a.post("/v1/jobs", json=JOB)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        routes = [
            (method.upper(), path.replace("{job_id}", job_id))
            for path, item in a.get("/openapi.json").json()["paths"].items()
            if path.startswith("/v1/jobs/{job_id}")
            for method in item
        ]
        for method, path in routes:
            refused = b.request(method, path)
            assert refused.status_code == 404, (method, path, refused.text)
            assert refused.json()["error"]["message"] == f"no job with id {job_id!r}"
        assert a.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # B's cancel did nothing
        assert job_id not in {job["id"] for job in b.get("/v1/jobs").json()["items"]}
        assert job_id in {job["id"] for job in a.get("/v1/jobs").json()["items"]}
        assert job_id in {job["id"] for job in admin.get("/v1/jobs").json()["items"]}
        assert admin.get(f"/v1/jobs/{job_id}").status_code == 200


def test_concurrent_submissions_respect_a_tenants_queue_limit(api: Service, keys: Keys) -> None:
    key = api.create_key("team-c")
    time.sleep(AUTH_CACHE_S)
    with api.client(keys.admin) as admin:
        limits = admin.put("/v1/tenants/team-c/limits", json={"max_queued_jobs": 2})
        assert limits.status_code == 200, limits.text

    def submit(_: int) -> int:
        with api.client(key) as client:
            return client.post("/v1/jobs", json=JOB).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = sorted(pool.map(submit, range(6)))
    assert answers == [202, 202, 429, 429, 429, 429]
    with api.client(key) as client:
        assert client.get("/v1/jobs").json()["total"] == 2


def test_concurrent_retries_with_one_idempotency_key_create_one_job(
    api: Service, keys: Keys
) -> None:
    body = {**JOB, "seed": 11}

    def submit(_: int) -> tuple[int, str]:
        with api.client(keys.a) as client:
            response = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "retry-1"})
            return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = set(pool.map(submit, range(6)))
    assert len(answers) == 1
    status, job_id = answers.pop()
    assert status == 202
    with api.client(keys.a) as a:
        seeds = [job["spec"]["seed"] for job in a.get("/v1/jobs").json()["items"]]
        assert seeds.count(11) == 1
        conflict = a.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "retry-1"})
        assert conflict.status_code == 422
        assert job_id in conflict.json()["error"]["message"]
    with api.client(keys.admin) as admin:  # another tenant's key of the same name is its own
        other = admin.post("/v1/jobs", json=body, headers={"Idempotency-Key": "retry-1"})
        assert other.status_code == 202
        assert other.json()["id"] != job_id


def test_no_key_or_a_revoked_key_is_a_401(api: Service, keys: Keys) -> None:
    with api.client() as anonymous:
        response = anonymous.get("/v1/jobs")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="loss-search"'
    revoke = ["keys", "revoke", keys.b]
    with api.client(keys.b) as b:
        assert b.get("/v1/jobs").status_code == 200
        done = api.run_cli(*revoke)
        assert done.returncode == 0, done.stderr
        time.sleep(AUTH_CACHE_S + 0.2)
        assert b.get("/v1/jobs").status_code == 401
