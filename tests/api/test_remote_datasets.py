"""Datasets named by URL, against a real S3-compatible server (moto, its own process) and a
real HTTP file server: checked at submission from metadata and a sample, pinned to the version
validated, read by the worker at exactly that version, and refused with a clear 4xx where the
request is at fault."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings
from tests.object_store import CREDENTIALS, S3Server, file_server, s3_server
from workers.jobs import run_shard

JOB: dict[str, Any] = {
    "metric": "f1",
    "target": "label",
    "budget": {"n_trials": 2},
    "families": ["proxy"],
    "parallelism": {"population_size": 2},
    "confirmation": {"top_k": 1, "seeds": 2, "seeds_per_fold": 2},
}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("moto")) as server:
        server.bucket("train", versioned=True)
        server.bucket("plain")
        server.bucket("other")
        yield server


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never wait for an instance role
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture
def remote(settings: Settings, s3: S3Server, credentials: None) -> Settings:
    return settings.model_copy(
        update={
            "dataset_sources": ["s3://train/", "s3://plain/", "http://127.0.0.1:"],
            "s3_endpoint_url": s3.endpoint,
        }
    )


@pytest.fixture
def api(remote: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(remote)) as client:
        yield client


@pytest.fixture
def csv_bytes(data_root: Path) -> bytes:
    return (data_root / "small.csv").read_bytes()


def submit(api: TestClient, url: str) -> Any:
    return api.post("/v1/jobs", json={**JOB, "dataset": url})


def finished(api: TestClient, remote: Settings, job_id: str) -> dict[str, Any]:
    run_shard(job_id, 0, remote)
    job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
    return job


def test_an_s3_dataset_runs_at_the_version_it_was_validated_at(
    api: TestClient, remote: Settings, s3: S3Server, csv_bytes: bytes
) -> None:
    put = s3.put("train", "sets/small.csv", csv_bytes)
    created = submit(api, "s3://train/sets/small.csv")
    assert created.status_code == 202, created.text
    assert created.json()["spec"]["dataset"] == "s3://train/sets/small.csv"
    assert created.json()["spec"]["task"] == "binary"  # planned from a sample

    # The object is replaced before a worker starts: the job still reads what it validated.
    s3.put("train", "sets/small.csv", b"a,label\n" + b"1,0\n" * 50)
    job = finished(api, remote, created.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    source = api.get(f"/v1/jobs/{job['id']}/best").json()["dataset"]["source"]
    assert source["reference"] == "s3://train/sets/small.csv"
    assert source["version"] == put["VersionId"]
    assert source["fingerprint"] == hashlib.sha256(csv_bytes).hexdigest()
    assert source["size_bytes"] == len(csv_bytes)


def test_an_object_changed_in_a_store_without_versions_fails_the_job_saying_so(
    api: TestClient, remote: Settings, s3: S3Server, csv_bytes: bytes
) -> None:
    s3.put("plain", "small.csv", csv_bytes)
    created = submit(api, "s3://plain/small.csv")
    assert created.status_code == 202, created.text
    s3.put("plain", "small.csv", csv_bytes + b"0.1,0.2,0.3,red,1\n")
    job = finished(api, remote, created.json()["id"])
    assert job["status"] == "failed"
    assert "changed after the job was submitted" in job["error"]


def test_a_compressed_csv_is_sampled_without_reading_it_whole(
    api: TestClient, remote: Settings, s3: S3Server, csv_bytes: bytes
) -> None:
    s3.put("train", "small.csv.gz", gzip.compress(csv_bytes))
    created = submit(api, "s3://train/small.csv.gz")
    assert created.status_code == 202, created.text
    assert finished(api, remote, created.json()["id"])["status"] == "succeeded"


def test_an_http_dataset_is_read_and_its_version_recorded(
    api: TestClient, remote: Settings, data_root: Path
) -> None:
    with file_server(data_root) as base:
        created = submit(api, f"{base}small.csv")
        assert created.status_code == 202, created.text
        job = finished(api, remote, created.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    source = api.get(f"/v1/jobs/{job['id']}/best").json()["dataset"]["source"]
    assert source["version"]  # the server's Last-Modified: it sends no ETag


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://other/small.csv", "is not under an allowed dataset source; allowed: s3://train/"),
        ("gs://train/small.csv", "is not under an allowed dataset source"),
        ("s3://train/small.xlsx", "is not a supported file"),
        ("s3://train/nothing-here.csv", "does not exist"),
    ],
)
def test_a_url_the_service_may_not_or_cannot_read_is_a_422(
    api: TestClient, url: str, message: str
) -> None:
    response = submit(api, url)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert error["details"][0]["loc"] == ["body", "dataset"]
    assert api.get("/v1/jobs").json()["total"] == 0


def test_a_corrupt_object_is_a_422(api: TestClient, s3: S3Server) -> None:
    s3.put("train", "broken.parquet", b"PAR1 this is not a parquet file")
    response = submit(api, "s3://train/broken.parquet")
    assert response.status_code == 422
    assert "could not be read as a table" in response.json()["error"]["message"]


def test_without_configured_sources_urls_are_refused(client: TestClient) -> None:
    response = client.post("/v1/jobs", json={**JOB, "dataset": "s3://train/small.csv"})
    assert response.status_code == 422
    assert "LOSS_SEARCH_DATASET_SOURCES" in response.json()["error"]["message"]


def test_missing_credentials_are_the_services_fault_not_the_requests(
    api: TestClient, s3: S3Server, csv_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("train", "small.csv", csv_bytes)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    response = submit(api, "s3://train/small.csv")
    assert response.status_code == 503
    assert "no credentials" in response.json()["error"]["message"]


def test_an_object_too_big_for_a_workers_memory_is_refused_from_its_size(
    remote: Settings, s3: S3Server, csv_bytes: bytes
) -> None:
    s3.put("train", "big.csv", csv_bytes * 200)  # ~1 MB of CSV: ~3 MB in a worker
    small_workers = remote.model_copy(update={"worker_memory_bytes": 1 << 20})
    with TestClient(create_app(small_workers)) as client:
        response = submit(client, "s3://train/big.csv")
    assert response.status_code == 413
    assert "LOSS_SEARCH_WORKER_MEMORY_BYTES" in response.json()["error"]["message"]
