"""The HTML report, opened in a real headless Chromium from the running service.

Chromium comes from Debian's packages (``apt-get install chromium``); Playwright drives it. Without
it the test is skipped, unless ``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.integration.conftest import REQUIRE_SERVICES
from tests.integration.harness import Backend, Service, job_in, wait_for

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("LOSS_SEARCH_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not CHROMIUM:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(f"LOSS_SEARCH_REQUIRE_SERVICES is set but {message}", pytrace=False)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("browser")
    data_root = workdir / "data"
    data_root.mkdir()
    backend = Backend("embedded", None, None, f"loss-search-test-{uuid.uuid4().hex[:8]}")
    service = Service(backend=backend, workdir=workdir, data_root=Path(data_root))
    try:
        service.start()
        yield service
    finally:
        service.stop()


def test_the_report_renders_in_a_browser_with_its_figures(browser_service: Service) -> None:
    with browser_service.client() as client:
        body = {
            "dataset": "builtin:breast_cancer",
            "metric": "f1",
            "budget": {"n_trials": 8},
            "confirmation": {"top_k": 2, "seeds": 2, "seeds_per_fold": 2},
        }
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 240, "the job")
        assert job["status"] == "succeeded", job["error"]
        report = client.get(f"/v1/jobs/{job_id}/report").json()
        summary, verdict = report["summary"], report["comparison"]["verdict"]

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = page.goto(f"{browser_service.url}/v1/jobs/{job_id}/report.html")
        assert response is not None
        assert response.ok
        assert page.inner_text("#summary").strip() == summary
        headline = page.inner_text("#verdict").strip()
        assert headline.startswith("Use" if verdict == "beats_baseline" else "Keep the baseline")
        rows = page.locator("#result tr")
        if verdict in ("baseline_led", "not_reliable"):  # the baseline is the answer, alone
            assert rows.count() == 2  # header, baseline
            assert "keep it" in rows.nth(1).inner_text()
            assert page.locator("#figure-lift").count() == 0  # never drawn against itself
        else:
            assert rows.count() == 3  # header, the setup returned (or tried), baseline
            assert "cross_entropy" in rows.nth(2).inner_text()
            assert page.locator("#figure-lift").count() == 1
        assert "cross_entropy" in page.inner_text("#result")
        assert "logit" in page.inner_text("#result")  # f1's threshold, as probability and logit
        figures = page.locator("figure img")
        assert figures.count() >= 2
        for index in range(figures.count()):
            image = figures.nth(index)
            width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
            assert width > 100, image.get_attribute("alt")
            assert image.bounding_box() is not None  # laid out, visible on the page
        assert "loss_fn = make_loss(" in page.inner_text("#code")
        browser.close()
    assert errors == []
