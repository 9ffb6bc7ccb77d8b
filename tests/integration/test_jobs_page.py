"""The jobs page (``/ui``) in a real headless Chromium, against the running API and a worker.

It loads, a job submitted meanwhile appears, its progress advances while the page watches, its
link opens the report; then keys are turned on and the same page asks for one, shows a key only
its own tenant's jobs, and opens the report through the key. No console errors throughout.
Chromium as in ``test_report_in_browser.py``: without it the test is skipped, unless
``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from service.settings import Settings
from tests.api.keys import issue_key
from tests.integration.conftest import REQUIRE_SERVICES
from tests.integration.harness import Backend, Service, job_in, wait_for
from tests.integration.test_report_in_browser import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.integration

# A small job that ends in seconds (its report and verdict), and a long one that the page
# watches advance, two trials trained at a time, until the test cancels it.
SMALL = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "budget": {"n_trials": 8},
    "confirmation": {"top_k": 2, "seeds": 2, "seeds_per_fold": 2},
}
LONG = {**SMALL, "budget": {"n_trials": 500}, "parallelism": {"population_size": 2}}


@pytest.fixture(scope="module")
def page_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not CHROMIUM:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(f"LOSS_SEARCH_REQUIRE_SERVICES is set but {message}", pytrace=False)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("jobs-page")
    data_root = workdir / "data"
    data_root.mkdir()
    backend = Backend("embedded", None, None, f"loss-search-test-{uuid.uuid4().hex[:8]}")
    service = Service(backend=backend, workdir=workdir, data_root=Path(data_root))
    service.extra_env["LOSS_SEARCH_AUTH_CACHE_S"] = "0"  # the first key turns auth on at once
    try:
        service.start()
        yield service
    finally:
        service.stop()


def issue(service: Service, tenant: str) -> str:
    """A member key of ``tenant`` in the service's database (made here: the CLI takes seconds)."""
    settings = Settings(_env_file=None, data_dir=service.workdir / "state", database_url=None)
    return issue_key(settings, tenant)


def finished_trials(row: Locator) -> tuple[int, int]:
    """The row's "finished / planned" count, checked against its progress bar (one snapshot)."""
    text, value, top = row.evaluate(
        "tr => [tr.querySelector('.count').textContent, tr.querySelector('progress').value,"
        " tr.querySelector('progress').max]"
    )
    finished, planned = (int(n) for n in text.split("/"))
    assert (value, top) == (finished, planned)
    return finished, planned


def watch_progress(
    service: Service, row: Locator, page: Page, readings: int = 3, timeout: float = 120
) -> list[int]:
    """The first ``readings`` different finished counts the row shows, in order."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seen) < readings:
        if time.monotonic() > deadline:
            raise AssertionError(f"the page showed only {seen} in {timeout:.0f}s\n{service.logs()}")
        finished, _ = finished_trials(row)
        if not seen or finished != seen[-1]:
            seen.append(finished)
        page.wait_for_timeout(200)
    return seen


def test_the_jobs_page_follows_a_job_to_its_report_with_and_without_keys(
    page_service: Service,
) -> None:
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.goto(f"{page_service.url}/ui").ok  # type: ignore[union-attr]
        page.locator("#empty").wait_for()  # "No jobs yet", from the API's answer

        with page_service.client() as client:  # auth is open: no key yet
            # The long job first: the one worker trains it at once, so the page sees it
            # advance however long the small job's confirmation would have taken before it.
            long_id = client.post("/v1/jobs", json=LONG).json()["id"]
            long_row = page.locator(f'tr[data-job-id="{long_id}"]')
            long_row.wait_for(timeout=30_000)
            seen = watch_progress(page_service, long_row, page)
            assert seen == sorted(seen), seen  # it advanced while the page watched
            assert seen[-1] < 500, seen
            assert client.post(f"/v1/jobs/{long_id}/cancel").status_code == 202
            expect(long_row.locator(".status span")).to_have_text("cancelled", timeout=60_000)
            job_id = client.post("/v1/jobs", json=SMALL).json()["id"]
            job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 180, "the job")
            assert job["status"] == "succeeded", job["error"]
            summary = client.get(f"/v1/jobs/{job_id}/report").json()["summary"]
        row = page.locator(f'tr[data-job-id="{job_id}"]')
        expect(row.locator(".status span")).to_have_text("succeeded")
        assert finished_trials(row) == (8, 8)
        assert row.locator(".metric").inner_text() == "f1"
        assert row.locator(".dataset").inner_text() == "builtin:breast_cancer"
        assert row.locator(".best").inner_text() != "—"
        expect(row.locator(".verdict")).not_to_have_text("—")  # asked once the job succeeded

        row.locator("a.job-link").click()
        page.wait_for_url(f"**/v1/jobs/{job_id}/report.html")
        assert page.inner_text("#summary").strip() == summary

        # Keys on: the page asks for one and shows each key its own tenant's jobs only.
        own = issue(page_service, "default")  # the tenant of jobs submitted while open
        other = issue(page_service, "team-b")
        page.goto(f"{page_service.url}/ui")
        page.locator("#key-form").wait_for()
        assert page.locator("#jobs tbody tr").count() == 0
        page.fill("#key", other)
        page.click("#key-form button")
        page.locator("#empty").wait_for()
        assert page.locator("#jobs tbody tr").count() == 0
        assert other not in page.url  # the key never reaches a URL
        page.click("#forget-key")
        page.fill("#key", own)
        page.click("#key-form button")
        row.locator("a.job-link").click()  # fetched with the key, opened as a local copy
        page.wait_for_url("blob:**")
        assert page.inner_text("#summary").strip() == summary
        browser.close()
    assert errors == []
