"""Job views are shared by the pollers of a job for a short while, and never outlive a cancel."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi.testclient import TestClient

from service.api.view_cache import ViewCache
from service.db import jobs as jobs_repo
from service.db import trials as trials_repo
from service.db.session import session_scope
from service.settings import Settings
from workers.engine.trial_records import running_record

pytestmark = pytest.mark.anyio
JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}


class CountingLoad:
    """A view that takes a while to read, counting the reads."""

    def __init__(self, view: bytes | None = b"{}") -> None:
        self.view, self.reads = view, 0

    async def __call__(self) -> bytes | None:
        self.reads += 1
        await asyncio.sleep(0.05)
        return self.view


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_concurrent_pollers_of_one_job_share_one_read() -> None:
    cache, load = ViewCache(ttl_s=5), CountingLoad()
    views = await asyncio.gather(*(cache.get("job", load) for _ in range(50)))
    assert views == [b"{}"] * 50
    assert load.reads == 1
    assert await cache.get("job", load) == b"{}"
    assert load.reads == 1


async def test_a_view_is_read_again_once_it_expires() -> None:
    cache, load = ViewCache(ttl_s=0.1), CountingLoad()
    await cache.get("job", load)
    await asyncio.sleep(0.15)
    await cache.get("job", load)
    assert load.reads == 2


async def test_a_missing_job_is_not_remembered() -> None:
    cache, load = ViewCache(ttl_s=5), CountingLoad(view=None)
    assert await cache.get("job", load) is None
    assert await cache.get("job", load) is None
    assert load.reads == 2


async def test_a_dropped_view_is_read_afresh_even_if_a_read_was_under_way() -> None:
    cache, load = ViewCache(ttl_s=5), CountingLoad()
    under_way = asyncio.ensure_future(cache.get("job", load))
    await asyncio.sleep(0.01)
    cache.drop("job")  # the job changed while the read was running: its view may be old
    await under_way
    await cache.get("job", load)
    assert load.reads == 2


async def test_a_zero_ttl_turns_caching_off() -> None:
    cache, load = ViewCache(ttl_s=0), CountingLoad()
    await cache.get("job", load)
    await cache.get("job", load)
    assert load.reads == 2


def test_a_cancel_is_seen_by_the_next_poll(client: TestClient) -> None:
    job_id = client.post("/v1/jobs", json=JOB).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # now cached
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_a_poll_may_be_half_a_second_late(client: TestClient, settings: Settings) -> None:
    job_id = client.post("/v1/jobs", json=JOB).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
    with session_scope(settings.resolved_database_url) as session:  # changed behind the API
        jobs_repo.request_cancel(session=session, job_id=job_id)
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
    time.sleep(settings.read_cache_s + 0.1)
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_pollers_of_a_trials_page_share_it_for_half_a_second(
    client: TestClient, settings: Settings
) -> None:
    job_id = client.post("/v1/jobs", json=JOB).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}/trials").json()["total"] == 0  # now cached
    started = {"loss": "focal", "family": "weighted", "learning_rate": 0.01, "seed": 3}
    with session_scope(settings.resolved_database_url) as session:  # a worker's write
        record = running_record(0, started)
        trials_repo.record_trials(session=session, job_id=job_id, records=[record], maximize=True)
    assert client.get(f"/v1/jobs/{job_id}/trials").json()["total"] == 0
    other_page = client.get(f"/v1/jobs/{job_id}/trials", params={"limit": 10}).json()
    assert other_page["total"] == 1  # each page is its own entry
    time.sleep(settings.read_cache_s + 0.1)
    page = client.get(f"/v1/jobs/{job_id}/trials").json()
    assert page["total"] == 1
    assert page["items"][0]["training"] == {
        "learning_rate": 0.01,
        "batch_size": None,
        "seed": 3,
        "best_epoch": None,
        "epochs_trained": None,
    }


def test_an_unknown_job_has_no_trials_page(client: TestClient) -> None:
    response = client.get("/v1/jobs/no-such-job/trials")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
