"""Webhook subscriptions at the API: a URL is checked when it is given (http(s) only, public
addresses only unless the service allows private ones), a refused one leaves nothing behind,
and a job's deliveries are listed with what each carries."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings

JOB: dict[str, Any] = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "budget": {"n_trials": 3},
}
PUBLIC_URL = "https://93.184.215.14/hooks/loss-search"


def with_notify(**notify: Any) -> dict[str, Any]:
    return {**JOB, "notify": notify}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/hooks", "URL scheme should be 'http' or 'https'"),
        ("http://127.0.0.1:9000/hooks", "127.0.0.1 is a loopback address"),
        ("http://localhost/hooks", "localhost is a loopback address"),
        ("https://10.1.2.3/hooks", "10.1.2.3 is a private address"),
        ("https://169.254.169.254/latest/meta-data", "is a link-local address"),
        ("https://[::1]/hooks", "is a loopback address"),
        ("https://hooks.invalid/x", "hooks.invalid does not resolve"),
        (f"https://{'a' * 64}.example.com/x", "is not a valid host name"),
    ],
)
def test_a_notify_url_the_service_may_not_call_is_a_422_and_no_job(
    client: TestClient, url: str, reason: str
) -> None:
    response = client.post("/v1/jobs", json=with_notify(url=url))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert reason in error["message"]
    assert error["details"][0]["loc"][:3] == ["body", "notify", "url"]
    assert client.get("/v1/jobs").json()["total"] == 0


def test_private_targets_are_refused_unless_allowed_in_settings(settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    with TestClient(create_app(allowed)) as client:
        response = client.post("/v1/jobs", json=with_notify(url="http://127.0.0.1:9000/hooks"))
    assert response.status_code == 202, response.text
    assert response.json()["notify"]["url"] == "http://127.0.0.1:9000/hooks"


def test_a_job_shows_where_its_webhooks_go(client: TestClient) -> None:
    response = client.post("/v1/jobs", json=with_notify(url=PUBLIC_URL))
    assert response.status_code == 202, response.text
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["notify"] == {
        "url": PUBLIC_URL,
        "events": ["job.started", "job.succeeded", "job.failed", "job.cancelled"],
    }
    assert job["spec"].get("notify") is None  # the spec is what the engine runs
    assert job["links"]["deliveries"] == f"/v1/jobs/{job['id']}/deliveries"


@pytest.mark.parametrize(
    "events",
    [[], ["job.done"], ["job.started", "job.started"]],
)
def test_events_must_be_known_and_distinct(client: TestClient, events: list[str]) -> None:
    response = client.post("/v1/jobs", json=with_notify(url=PUBLIC_URL, events=events))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"][:3] == ["body", "notify", "events"]


def test_the_signing_secret_is_made_once_and_kept(client: TestClient) -> None:
    first = client.get("/v1/webhooks/secret").json()["secret"]
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert client.get("/v1/webhooks/secret").json()["secret"] == first


def test_an_endpoint_url_is_checked_like_a_jobs(client: TestClient) -> None:
    refused = client.post("/v1/webhooks/endpoints", json={"url": "http://192.168.0.10/hooks"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["body", "url"]
    assert client.get("/v1/webhooks/endpoints").json() == []
    created = client.post(
        "/v1/webhooks/endpoints", json={"url": PUBLIC_URL, "events": ["job.progress"]}
    )
    assert created.status_code == 201
    assert created.json()["events"] == ["job.progress"]


def test_cancelling_a_queued_job_queues_its_cancelled_webhook(client: TestClient) -> None:
    job_id = client.post("/v1/jobs", json=with_notify(url=PUBLIC_URL)).json()["id"]
    endpoint = client.post("/v1/webhooks/endpoints", json={"url": PUBLIC_URL + "/all"}).json()["id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202

    page = client.get(f"/v1/jobs/{job_id}/deliveries").json()
    assert page["total"] == 2
    by_url = {item["url"]: item for item in page["items"]}
    own, tenant_wide = by_url[PUBLIC_URL], by_url[PUBLIC_URL + "/all"]
    assert (own["endpoint_id"], tenant_wide["endpoint_id"]) == (None, endpoint)
    for delivery in (own, tenant_wide):
        assert delivery["event"] == "job.cancelled"
        assert delivery["status"] == "pending"  # the workers' dispatcher sends it
        assert delivery["attempts"] == []
        assert delivery["id"].startswith("msg_")
        assert delivery["payload"]["type"] == "job.cancelled"
        assert delivery["payload"]["data"]["job_id"] == job_id
        assert delivery["payload"]["data"]["status"] == "cancelled"


def test_a_job_without_subscribers_queues_nothing(client: TestClient) -> None:
    job_id = client.post("/v1/jobs", json=JOB).json()["id"]
    client.post(f"/v1/jobs/{job_id}/cancel")
    assert client.get(f"/v1/jobs/{job_id}/deliveries").json()["total"] == 0
