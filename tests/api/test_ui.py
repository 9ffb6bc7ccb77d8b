"""The jobs page (``/ui``): a shell with no job data, which reads the JSON API with the person's
key; a tenant's key never shows another tenant's jobs through any call the page makes."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.auth.principal import Role
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}
COLUMNS = ["job", "status", "created", "dataset", "metric", "trials", "best so far", "verdict"]


def page_calls(job_id: str) -> list[str]:
    """Every request the page's script makes (the template's fetches, links and refreshes)."""
    base = f"/v1/jobs/{job_id}"
    return [f"{base}", f"{base}/best", f"{base}/report.html"]


def test_the_page_is_a_shell_with_its_own_script_only(client: TestClient) -> None:
    job_id = client.post("/v1/jobs", json=JOB).json()["id"]
    response = client.get("/ui")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert job_id not in html  # the data comes from the API, through the script
    assert 'data-needs-key="false"' in html
    assert re.findall(r"<th>([^<]*)</th>", html) == COLUMNS
    for element in ('id="jobs"', 'id="key-form"', 'type="password"', 'id="notice"'):
        assert element in html
    # Nothing from elsewhere (the machine may have no internet), and only the nonce'd script runs.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script src" not in html
    nonce = re.search(r"script-src 'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    assert html.count("<script") == html.count(f'<script nonce="{nonce.group(1)}">') == 1
    assert "form-action 'none'" in response.headers["content-security-policy"]
    assert nonce.group(1) not in client.get("/ui").text  # a fresh nonce per page
    assert client.get("/openapi.json").json()["paths"].get("/ui") is None  # not the API's


def test_with_keys_the_page_asks_for_one_and_each_key_sees_its_tenant_only(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"auth_cache_s": 0.0})
    a = issue_key(configured, "team-a")
    b = issue_key(configured, "team-b")
    admin = issue_key(configured, "platform", Role.ADMIN)
    with TestClient(create_app(configured)) as client:
        job_a = client.post("/v1/jobs", json=JOB, headers=bearer(a)).json()["id"]
        job_b = client.post("/v1/jobs", json=JOB, headers=bearer(b)).json()["id"]
        page = client.get("/ui")  # served without a key: it holds nothing
        assert page.status_code == 200
        assert 'data-needs-key="true"' in page.text
        assert job_a not in page.text
        assert job_b not in page.text
        assert client.get("/v1/jobs?limit=20&offset=0").status_code == 401

        def listed(key: str) -> set[str]:
            response = client.get("/v1/jobs?limit=20&offset=0", headers=bearer(key))
            assert response.status_code == 200
            return {job["id"] for job in response.json()["items"]}

        assert listed(a) == {job_a}
        assert listed(b) == {job_b}
        assert listed(admin) == {job_a, job_b}
        for path in page_calls(job_b):
            response = client.get(path, headers=bearer(a))
            assert response.status_code == 404, path
            assert job_b in response.json()["error"]["message"]  # the unknown-job answer
        assert client.get(page_calls(job_a)[0], headers=bearer(a)).status_code == 200
