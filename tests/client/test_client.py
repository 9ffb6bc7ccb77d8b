"""The Python client against the real API over HTTP: submitting (idempotently), errors in the
API's one shape, retries that honour Retry-After, uploads, cancelling, and a finished job's
trials, best setup, report and code."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from service.client import (
    NO_RETRIES,
    ApiError,
    AsyncClient,
    Client,
    Job,
    Retries,
    ServiceUnreachable,
)
from service.db.models import JobStatus
from service.main import create_app
from service.settings import Settings
from tests.client.conftest import SMALL_JOB, Flaky, Recorder, Worker
from tests.live_server import Server


def test_submit_returns_a_job_and_the_same_idempotency_key_returns_the_same_job(api: str) -> None:
    with Client(api) as client:
        job = client.submit(SMALL_JOB)
        assert isinstance(job, Job)
        assert job.view.status is JobStatus.QUEUED
        assert job.view.spec.budget.n_trials == 4
        # Keyword fields are the same request; each call has its own key: a second job.
        other = client.submit(**SMALL_JOB)
        assert other.id != job.id
        first = client.submit(SMALL_JOB, idempotency_key="nightly-run-42")
        again = client.submit(SMALL_JOB, idempotency_key="nightly-run-42")
        assert again.id == first.id
        assert client.jobs().total == 3


def test_a_refused_request_raises_the_apis_code_and_message(api: str) -> None:
    with Client(api) as client:
        with pytest.raises(ApiError) as refused:
            client.submit(dataset="builtin:breast_cancer", metric="mae")
        assert refused.value.status == 422
        assert refused.value.code == "validation_error"
        assert refused.value.message.startswith("metric 'mae' does not apply to a binary task")
        assert refused.value.details[0].loc == ["body", "metric"]

        with pytest.raises(ApiError) as unknown:
            client.job("no-such-job")
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        assert unknown.value.message == "no job with id 'no-such-job'"

        client.submit(SMALL_JOB, idempotency_key="k")
        with pytest.raises(ApiError) as reused:
            client.submit({**SMALL_JOB, "seed": 1}, idempotency_key="k")
        assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")


@pytest.mark.parametrize("status", [503, 429])
def test_503_and_429_are_retried_after_the_retry_after_the_service_sent(
    fast: Settings, status: int
) -> None:
    front = Flaky(create_app(fast), failures=2, status=status, retry_after="0.5")
    with Server(front) as url, Client(url) as client:
        started = time.monotonic()
        page = client.jobs()
        assert page.total == 0
    assert len(front.requests) == 3
    waits = [b[3] - a[3] for a, b in zip(front.requests, front.requests[1:], strict=False)]
    assert all(wait >= 0.5 for wait in waits), waits
    assert time.monotonic() - started < 5


def test_a_submit_whose_answer_was_lost_is_retried_and_makes_one_job(fast: Settings) -> None:
    # The service creates the job, then the answer is lost (a 503 from the way back): the retry
    # sends the same Idempotency-Key and gets that job back.
    front = Flaky(create_app(fast), failures=1, lose_answer=True, retry_after="0.2")
    with Server(front) as url, Client(url) as client:
        job = client.submit(SMALL_JOB)
        assert client.jobs().total == 1
        assert client.jobs().items[0].id == job.id
    (_, _, first, _), (_, _, second, _) = front.requests[:2]
    assert first["idempotency-key"] == second["idempotency-key"]


def test_retries_stop_at_their_limits(fast: Settings) -> None:
    front = Flaky(create_app(fast), failures=5, retry_after="0")
    with Server(front) as url:
        with Client(url, retries=Retries(attempts=2)) as client, pytest.raises(ApiError) as gave_up:
            client.jobs()
        assert (gave_up.value.status, gave_up.value.retry_after) == (503, 0)
        assert len(front.requests) == 2
        # A wait longer than the caller allows is not waited out.
        front.retry_after = "30"
        with Client(url, retries=Retries(max_wait_s=1)) as client, pytest.raises(ApiError):
            client.jobs()
        assert len(front.requests) == 3


def test_a_tenant_over_its_jobs_limit_gets_the_quota_error(fast: Settings) -> None:
    limited = fast.model_copy(update={"max_concurrent_jobs": 1})
    with Server(create_app(limited)) as url, Client(url, retries=Retries(max_wait_s=1)) as client:
        client.submit(SMALL_JOB)
        started = time.monotonic()
        with pytest.raises(ApiError) as over:
            client.submit(SMALL_JOB)
        assert time.monotonic() - started < 5  # Retry-After: 30 was more than max_wait_s
    assert (over.value.status, over.value.code, over.value.retry_after) == (
        429,
        "quota_exceeded",
        30,
    )
    assert "max_concurrent_jobs = 1" in over.value.message


def test_no_service_at_all_is_service_unreachable(fast: Settings) -> None:
    with Server(create_app(fast)) as url:
        pass  # stopped: nothing listens on its port now
    client = Client(url, retries=Retries(attempts=2, backoff_s=0.01))
    with client, pytest.raises(ServiceUnreachable, match="no answer from"):
        client.jobs()


def test_upload_a_file_once_then_submit_it(api: str, data_root: Path) -> None:
    with Client(api) as client:
        dataset = client.upload(data_root / "small.csv")
        assert dataset.reference == f"dataset:{dataset.id}"
        assert (dataset.rows, dataset.filename) == (120, "small.csv")
        assert client.upload(data_root / "small.csv").id == dataset.id  # the same bytes
        job = client.submit(dataset=dataset.reference, target="label", metric="f1")
        assert job.view.spec.dataset == dataset.reference
        with pytest.raises(ApiError) as refused:
            client.upload(data_root / "broken.csv")
        assert refused.value.status == 422


def test_cancel_a_queued_job(api: str) -> None:
    with Client(api, retries=NO_RETRIES) as client:
        job = client.submit(SMALL_JOB)
        assert job.cancel().status is JobStatus.CANCELLED
        assert job.wait().status is JobStatus.CANCELLED  # already ended: returns at once
        with pytest.raises(ApiError) as again:
            job.cancel()
        assert (again.value.status, again.value.code) == (409, "already_finished")


def test_a_finished_jobs_trials_best_setup_and_report(api: str, worker: Worker) -> None:
    with Client(api) as client:
        job = client.submit(SMALL_JOB)
        assert job.wait().status is JobStatus.SUCCEEDED
        trials = job.trials()
        assert [t.number for t in trials] == [0, 1, 2, 3]
        assert trials[0].arm == "baseline"
        by_value = [t.value for t in job.trials(sort="value") if t.value is not None]
        assert by_value == sorted(by_value, reverse=True)
        best = job.best()
        assert best.final
        assert best.metric.name == "f1"
        assert best.comparison.summary
        report = job.report()
        assert report.job.id == job.id


def test_the_best_setups_code_in_pytorch_and_keras(api: str, worker: Worker) -> None:
    # Needs GET /v1/jobs/{id}/best?format=pytorch|keras (text/x-python).
    with Client(api) as client:
        job = client.submit(SMALL_JOB)
        job.wait()
        pytorch = job.code("pytorch")
        keras = job.code("keras")
    assert not pytorch.lstrip().startswith("{")  # code, not the JSON result
    assert "torch" in pytorch
    assert "keras" in keras


def test_the_async_client_does_the_same(fast: Settings, api: str, worker: Worker) -> None:
    async def follow() -> None:
        async with AsyncClient(api) as client:
            job = await client.submit(SMALL_JOB)
            recorder = Recorder()
            assert (await job.wait(progress=recorder)).status is JobStatus.SUCCEEDED
            assert recorder.standings[-1].finished == 4
            assert {s.source for s in recorder.standings} == {"polling", "events"}
            assert len(await job.trials()) == 4
            assert (await job.best()).final
            with pytest.raises(ApiError) as unknown:
                await client.job("nope")
            assert unknown.value.code == "not_found"

    asyncio.run(follow())
