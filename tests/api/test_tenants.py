"""Tenants: every route needs a key once keys exist, and a job is seen only by its own tenant
(and admins). Another tenant gets exactly the answer it would get for a job that does not exist.

The route tables are built from the app's own OpenAPI document, so a new route fails these tests
until it is classified here and, under ``/v1/jobs/{job_id}``, checks the tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth.principal import Role
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key, revoke

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}
# Routes under /v1 that name no job; each must say whose data it shows (see the tests below).
COLLECTIONS = {
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/metrics"),
    ("GET", "/v1/losses"),
}
JOB_ROUTE = "/v1/jobs/{job_id}"
# A tenant's own routes: another member gets 404 reading them, 403 changing them.
TENANT_ROUTE = "/v1/tenants/{tenant}"
# The caller's own tenant's webhooks: nobody else's are ever listed, changed or shown.
WEBHOOKS_ROUTE = "/v1/webhooks"
# A tenant's datasets: another tenant gets 404 (tests/api/test_datasets.py checks each route).
DATASETS_ROUTE = "/v1/datasets"
LIMITS = {"max_queued_jobs": 5}
ENDPOINT = {"url": "https://93.184.215.14/hooks"}  # a public address: no DNS lookup needed
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/jobs"): JOB,
    ("PUT", "/v1/tenants/{tenant}/limits"): LIMITS,
    ("POST", "/v1/webhooks/endpoints"): ENDPOINT,
}


def operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) in the app's OpenAPI document."""
    paths: dict[str, dict[str, Any]] = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def call(
    client: TestClient,
    method: str,
    path: str,
    job_id: str = "",
    key: str | None = None,
    tenant: str = "team-a",
) -> Any:  # the test client's response (starlette picks httpx or httpx2)
    headers = bearer(key) if key else {}
    body = BODIES.get((method, path))
    url = path.replace("{job_id}", job_id).replace("{tenant}", tenant)
    if path.endswith("/events"):  # a stream that lasts as long as the job: read its head only
        with client.stream(method, url, headers=headers) as response:
            if response.status_code != 200:
                response.read()
            return response
    return client.request(method, url, json=body, headers=headers)


def job_routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, p) for m, p in operations(client) if p.startswith(JOB_ROUTE)]


@dataclass
class Tenants:
    """Two tenants with a member key each, an admin, and the API (auth on: keys exist)."""

    client: TestClient
    settings: Settings
    a: str
    b: str
    admin: str

    def submit(self, key: str) -> str:
        response = self.client.post("/v1/jobs", json=JOB, headers=bearer(key))
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id


@pytest.fixture
def tenants(settings: Settings) -> Iterator[Tenants]:
    # Keys are read afresh on every request, so a revocation shows at once.
    configured = settings.model_copy(update={"auth_cache_s": 0.0})
    a = issue_key(configured, "team-a")
    b = issue_key(configured, "team-b")
    admin = issue_key(configured, "platform", Role.ADMIN)
    with TestClient(create_app(configured)) as client:
        yield Tenants(client, configured, a, b, admin)


def test_every_route_is_classified(client: TestClient) -> None:
    unknown = [
        (method, path)
        for method, path in operations(client)
        if (method, path) not in PUBLIC | COLLECTIONS
        and path not in (JOB_ROUTE, WEBHOOKS_ROUTE, DATASETS_ROUTE)
        and not path.startswith(
            (JOB_ROUTE + "/", TENANT_ROUTE + "/", WEBHOOKS_ROUTE + "/", DATASETS_ROUTE + "/")
        )
    ]
    assert unknown == [], (
        "new routes: say in tests/api/test_tenants.py whose data they show, and check the "
        f"tenant in them: {unknown}"
    )


def test_every_route_but_the_probes_needs_a_key(tenants: Tenants) -> None:
    job_id = tenants.submit(tenants.a)
    for method, path in operations(tenants.client):
        if (method, path) in PUBLIC:
            assert call(tenants.client, method, path).status_code == 200, path
            continue
        missing = call(tenants.client, method, path, job_id)
        assert missing.status_code == 401, (method, path, missing.text)
        assert missing.headers["www-authenticate"] == 'Bearer realm="loss-search"'
        assert missing.json()["error"]["type"] == "unauthorized"
        assert "Authorization: Bearer <key>" in missing.json()["error"]["message"]
        forged = call(tenants.client, method, path, job_id, key=tenants.a[:-4] + "AAAA")
        assert forged.status_code == 401, (method, path, forged.text)
        assert forged.headers["www-authenticate"] == (
            'Bearer realm="loss-search", error="invalid_token"'
        )
        assert forged.json()["error"] == {
            "type": "unauthorized",
            "message": "the API key is not valid",
            "details": [],
        }


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-key", "Bearer lsk_000000000000_" + "x" * 43],
)
def test_a_malformed_or_unknown_key_is_a_401(tenants: Tenants, header: str) -> None:
    response = tenants.client.get("/v1/jobs", headers={"Authorization": header})
    assert response.status_code == 401
    assert "invalid_token" in response.headers["www-authenticate"]
    assert response.json()["error"]["type"] == "unauthorized"


def test_another_tenants_job_is_a_404_on_every_job_route(tenants: Tenants) -> None:
    job_id = tenants.submit(tenants.a)
    unknown = {"type": "not_found", "message": f"no job with id {job_id!r}", "details": []}
    routes = job_routes(tenants.client)
    assert ("POST", "/v1/jobs/{job_id}/cancel") in routes
    for method, path in routes:
        response = call(tenants.client, method, path, job_id, key=tenants.b)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error": unknown}, (method, path)
        # Exactly what a job that does not exist gets.
        nowhere = call(tenants.client, method, path, "no-such-job", key=tenants.b)
        assert nowhere.status_code == 404
        assert set(nowhere.headers) == set(response.headers), (method, path)
    # B's cancel did nothing; A's own requests reach the job.
    assert (
        tenants.client.get(f"/v1/jobs/{job_id}", headers=bearer(tenants.a)).json()["status"]
        == "queued"
    )
    for method, path in routes:
        response = call(tenants.client, method, path, job_id, key=tenants.a)
        assert response.status_code in (200, 202, 409), (method, path, response.text)


def test_an_admin_reaches_every_tenants_job(tenants: Tenants) -> None:
    job_id = tenants.submit(tenants.a)
    for method, path in job_routes(tenants.client):
        response = call(tenants.client, method, path, job_id, key=tenants.admin)
        assert response.status_code in (200, 202, 409), (method, path, response.text)
    assert call(tenants.client, "GET", JOB_ROUTE, "no-such-job", tenants.admin).status_code == 404


def test_a_tenants_limits_are_its_own_and_only_an_admin_sets_them(tenants: Tenants) -> None:
    routes = [(m, p) for m, p in operations(tenants.client) if p.startswith(TENANT_ROUTE)]
    assert ("PUT", "/v1/tenants/{tenant}/limits") in routes
    for method, path in routes:
        own = call(tenants.client, method, path, key=tenants.a, tenant="team-a")
        other = call(tenants.client, method, path, key=tenants.b, tenant="team-a")
        admin = call(tenants.client, method, path, key=tenants.admin, tenant="team-a")
        assert admin.status_code == 200, (method, path, admin.text)
        if method == "GET":
            assert own.status_code == 200, (method, path, own.text)
            assert other.status_code == 404, (method, path, other.text)
            assert other.json()["error"]["message"] == "no tenant named 'team-a'"
        else:
            for member in (own, other):
                assert member.status_code == 403, (method, path, member.text)
                assert member.json()["error"] == {
                    "type": "forbidden",
                    "message": "only an admin key may do this",
                    "details": [],
                }


def test_each_tenant_lists_only_its_own_jobs_and_an_admin_lists_all(tenants: Tenants) -> None:
    a_jobs = {tenants.submit(tenants.a) for _ in range(2)}
    b_job = tenants.submit(tenants.b)
    admin_job = tenants.submit(tenants.admin)

    def listed(key: str, **params: Any) -> tuple[set[str], int]:
        page = tenants.client.get("/v1/jobs", params=params, headers=bearer(key)).json()
        return {job["id"] for job in page["items"]}, page["total"]

    assert listed(tenants.a) == (a_jobs, 2)
    assert listed(tenants.b) == ({b_job}, 1)
    assert listed(tenants.admin) == ({*a_jobs, b_job, admin_job}, 4)
    assert listed(tenants.b, status="queued") == ({b_job}, 1)
    tenants.client.post(f"/v1/jobs/{b_job}/cancel", headers=bearer(tenants.b))
    assert listed(tenants.b, status="queued") == (set(), 0)
    assert listed(tenants.a, status="cancelled") == (set(), 0)


def test_each_tenant_has_its_own_webhook_endpoints_and_secret(tenants: Tenants) -> None:
    client, a, b = tenants.client, bearer(tenants.a), bearer(tenants.b)
    created = client.post("/v1/webhooks/endpoints", json=ENDPOINT, headers=a)
    assert created.status_code == 201, created.text
    endpoint = created.json()["id"]

    assert [e["id"] for e in client.get("/v1/webhooks/endpoints", headers=a).json()] == [endpoint]
    assert client.get("/v1/webhooks/endpoints", headers=b).json() == []
    assert client.delete(f"/v1/webhooks/endpoints/{endpoint}", headers=b).status_code == 404
    assert (
        client.delete(
            f"/v1/webhooks/endpoints/{endpoint}", headers=bearer(tenants.admin)
        ).status_code
        == 404
    )
    secrets = {client.get("/v1/webhooks/secret", headers=h).json()["secret"] for h in (a, b)}
    assert len(secrets) == 2
    assert client.delete(f"/v1/webhooks/endpoints/{endpoint}", headers=a).status_code == 204
    assert client.get("/v1/webhooks/endpoints", headers=a).json() == []


def test_a_revoked_key_is_refused(tenants: Tenants) -> None:
    assert tenants.client.get("/v1/jobs", headers=bearer(tenants.a)).status_code == 200
    revoke(tenants.settings, tenants.a)
    response = tenants.client.get("/v1/jobs", headers=bearer(tenants.a))
    assert response.status_code == 401
    assert "has been revoked" in response.json()["error"]["message"]
    assert tenants.client.get("/v1/jobs", headers=bearer(tenants.b)).status_code == 200


def test_a_key_is_trusted_for_auth_cache_s_then_read_again(settings: Settings) -> None:
    cached = settings.model_copy(update={"auth_cache_s": 60.0})
    key = issue_key(cached, "team-a")
    with TestClient(create_app(cached)) as client:
        assert client.get("/v1/jobs", headers=bearer(key)).status_code == 200
        revoke(cached, key)
        # Within auth_cache_s this process still trusts what it checked...
        assert client.get("/v1/jobs", headers=bearer(key)).status_code == 200
    with TestClient(create_app(cached)) as fresh:  # ...a process that reads the row refuses it.
        assert fresh.get("/v1/jobs", headers=bearer(key)).status_code == 401


def test_with_no_key_the_embedded_api_is_open_as_before(client: TestClient) -> None:
    response = client.post("/v1/jobs", json=JOB)
    assert response.status_code == 202
    assert client.get("/v1/jobs").json()["total"] == 1
    assert client.get(f"/v1/jobs/{response.json()['id']}").status_code == 200
    # Sending a key that is not one is still an error, not silently ignored.
    assert client.get("/v1/jobs", headers=bearer("lsk_000000000000_" + "x" * 43)).status_code == 401


def test_jobs_submitted_while_open_belong_to_the_default_tenant(settings: Settings) -> None:
    open_settings = settings.model_copy(update={"auth_cache_s": 0.0})
    with TestClient(create_app(open_settings)) as client:
        job_id = client.post("/v1/jobs", json=JOB).json()["id"]
        member = issue_key(open_settings, "team-a")
        default = issue_key(open_settings, "default")
        admin = issue_key(open_settings, "platform", Role.ADMIN)
        # The first key turns auth on.
        assert client.get(f"/v1/jobs/{job_id}").status_code == 401
        assert client.get(f"/v1/jobs/{job_id}", headers=bearer(member)).status_code == 404
        assert client.get(f"/v1/jobs/{job_id}", headers=bearer(default)).status_code == 200
        assert client.get(f"/v1/jobs/{job_id}", headers=bearer(admin)).status_code == 200


def test_auth_required_refuses_requests_without_a_key_even_with_no_key(settings: Settings) -> None:
    required = settings.model_copy(update={"auth": "required"})
    with TestClient(create_app(required)) as client:
        assert client.get("/v1/jobs").status_code == 401
        assert client.get("/healthz").status_code == 200


def test_auth_off_serves_requests_without_a_key_even_with_keys(settings: Settings) -> None:
    off = settings.model_copy(update={"auth": "off"})
    key = issue_key(off, "team-a")
    with TestClient(create_app(off)) as client:
        anonymous = client.post("/v1/jobs", json=JOB).json()["id"]
        assert client.get(f"/v1/jobs/{anonymous}").status_code == 200
        # A key still says who is asking.
        assert client.get(f"/v1/jobs/{anonymous}", headers=bearer(key)).status_code == 404


def test_the_api_refuses_to_start_open_on_a_public_address(settings: Settings) -> None:
    public = settings.model_copy(update={"api_host": "0.0.0.0"})
    with pytest.raises(RuntimeError, match="LOSS_SEARCH_AUTH=off"), TestClient(create_app(public)):
        pass
    explicit = public.model_copy(update={"auth": "off"})
    with TestClient(create_app(explicit)) as client:
        assert client.get("/v1/jobs").status_code == 200


def test_on_a_public_address_auth_never_falls_open(settings: Settings) -> None:
    public = settings.model_copy(update={"api_host": "0.0.0.0", "auth_cache_s": 0.0})
    key = issue_key(public, "team-a")
    with TestClient(create_app(public)) as client:
        assert client.get("/v1/jobs").status_code == 401
        revoke(public, key)  # the last key: on 127.0.0.1 auth would be open again
        assert client.get("/v1/jobs").status_code == 401


def test_the_openapi_document_says_which_routes_need_a_key(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (method.upper(), path) in PUBLIC:
                assert "security" not in operation, path
                continue
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], (method, path)
