"""Datasets: a file is uploaded once (the same bytes again give the same dataset), profiled
column by column, named by jobs as ``dataset:<id>``, and kept while a job needs it. A refused
upload leaves nothing behind."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key

# A gzip stream cut in half: its header is fine, its data ends early.
_LINES = "".join(f"{i},{i * 7919 % 10007}\n" for i in range(20_000)).encode()
CUT_GZIP = gzip.compress(b"a,b\n" + _LINES)[:20_000]
JOB: dict[str, Any] = {"metric": "f1", "target": "label", "budget": {"n_trials": 3}}


def upload(client: TestClient, name: str, content: bytes, **kwargs: Any) -> Any:
    return client.post("/v1/datasets", files={"file": (name, content)}, **kwargs)


def stored_files(settings: Settings, *, samples: bool = False) -> list[Path]:
    """The store's files (or, with ``samples``, the samples kept beside them)."""
    store = Path(settings.resolved_dataset_store)
    found = sorted(p for p in store.glob("*") if p.is_file()) if store.exists() else []
    return [p for p in found if (".sample." in p.name) == samples]


@pytest.fixture
def small_csv(data_root: Path) -> bytes:
    return (data_root / "small.csv").read_bytes()


def test_an_upload_is_stored_once_and_profiled(
    client: TestClient, settings: Settings, small_csv: bytes
) -> None:
    response = upload(client, "small.csv", small_csv)
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["reference"] == f"dataset:{dataset['id']}"
    assert dataset["fingerprint"] == hashlib.sha256(small_csv).hexdigest()
    assert (dataset["size_bytes"], dataset["format"], dataset["rows"]) == (
        len(small_csv),
        "csv",
        120,
    )
    columns = {c["name"]: c for c in dataset["columns"]}
    assert [c["name"] for c in dataset["columns"]] == ["a", "b", "c", "colour", "label"]
    assert columns["a"] == {
        "name": "a",
        "type": "numeric",
        "missing": 0,
        "distinct": 120,  # counted up to 200, the most classes a target may have
        "target_for": ["regression"],
    }
    assert columns["colour"]["type"] == "categorical"
    assert columns["colour"]["distinct"] == 3
    assert columns["colour"]["target_for"] == ["multiclass"]
    assert columns["label"]["target_for"] == ["binary", "multilabel", "regression"]
    assert [p.name for p in stored_files(settings)] == [f"{dataset['fingerprint']}.csv"]
    # A submission reads the sample kept beside it, never the whole file.
    (sample,) = stored_files(settings, samples=True)
    assert sample.name == f"{dataset['fingerprint']}.sample.csv"

    again = upload(client, "renamed.csv", small_csv)
    assert again.status_code == 200
    assert again.json()["id"] == dataset["id"]
    assert len(stored_files(settings)) == 1
    assert client.get(f"/v1/datasets/{dataset['id']}").json() == dataset
    assert client.get("/v1/datasets").json()["total"] == 1


def test_parquet_arrow_and_compressed_csv_profile_alike(
    client: TestClient, data_root: Path, tmp_path: Path, small_csv: bytes
) -> None:
    frame = pd.read_csv(data_root / "small.csv")
    frame.to_feather(tmp_path / "small.feather")
    shapes = set()
    for name, content in [
        ("small.parquet", (data_root / "small.parquet").read_bytes()),
        ("small.feather", (tmp_path / "small.feather").read_bytes()),
        ("small.csv.gz", gzip.compress(small_csv)),
    ]:
        response = upload(client, name, content)
        assert response.status_code == 201, (name, response.text)
        body = response.json()
        shapes.add(
            (body["rows"], tuple((c["name"], c["type"], c["missing"]) for c in body["columns"]))
        )
    assert len(shapes) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.xlsx", b"PK\x03\x04", "is not a supported file"),
        ("broken.parquet", b"\x00\x01 not parquet", "could not read 'broken.parquet' as a table"),
        ("cut.csv.gz", CUT_GZIP, "the file is truncated"),
        ("twice.csv", b"a,a,label\n1,2,0\n", "appears more than once"),
    ],
)
def test_a_file_that_is_not_a_table_is_a_422_and_leaves_nothing(
    client: TestClient, settings: Settings, name: str, content: bytes, message: str
) -> None:
    response = upload(client, name, content)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert error["details"][0]["loc"] == ["body", "file"]
    assert stored_files(settings) == []
    assert client.get("/v1/datasets").json()["total"] == 0


def test_a_file_over_the_upload_limit_is_a_413_and_leaves_nothing(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_upload_bytes": 10_000})
    with TestClient(create_app(limited)) as client:
        response = upload(client, "big.csv", b"a,label\n" + b"1,0\n" * 30_000)
        assert response.status_code == 413
        assert "LOSS_SEARCH_MAX_UPLOAD_BYTES" in response.json()["error"]["message"]
        assert upload(client, "ok.csv", b"a,label\n" + b"1,0\n" * 100).status_code == 201
    assert len(stored_files(limited)) == 1


def test_a_job_names_an_upload_and_keeps_it_until_it_ends(
    client: TestClient, settings: Settings, small_csv: bytes
) -> None:
    dataset = upload(client, "small.csv", small_csv).json()
    created = client.post("/v1/jobs", json={**JOB, "dataset": dataset["reference"]})
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["spec"]["dataset"] == dataset["reference"]  # as asked, not the store's path
    assert job["spec"]["task"] == "binary"  # planned from the uploaded file

    refused = client.delete(f"/v1/datasets/{dataset['id']}")
    assert refused.status_code == 409
    assert job["id"] in refused.json()["error"]["message"]
    client.post(f"/v1/jobs/{job['id']}/cancel")
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
    assert client.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    assert stored_files(settings) == []


def test_an_unknown_dataset_id_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/jobs", json={**JOB, "dataset": "dataset:ds_nothing"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "no dataset with id 'ds_nothing'" in error["message"]
    assert error["details"][0]["loc"] == ["body", "dataset"]


def test_a_tenant_cannot_see_or_use_another_tenants_dataset(
    settings: Settings, small_csv: bytes
) -> None:
    a_key, b_key = issue_key(settings, "team-a"), issue_key(settings, "team-b")
    configured = settings.model_copy(update={"auth_cache_s": 0.0})
    with TestClient(create_app(configured)) as client:
        a, b = bearer(a_key), bearer(b_key)
        dataset = upload(client, "small.csv", small_csv, headers=a).json()
        assert client.get(f"/v1/datasets/{dataset['id']}", headers=b).status_code == 404
        assert client.delete(f"/v1/datasets/{dataset['id']}", headers=b).status_code == 404
        assert client.get("/v1/datasets", headers=b).json()["total"] == 0
        used = client.post("/v1/jobs", json={**JOB, "dataset": dataset["reference"]}, headers=b)
        assert used.status_code == 422
        # The same bytes uploaded by team B are its own dataset (sharing the stored file).
        theirs = upload(client, "small.csv", small_csv, headers=b)
        assert theirs.status_code == 201
        assert theirs.json()["id"] != dataset["id"]
        assert client.delete(f"/v1/datasets/{dataset['id']}", headers=a).status_code == 204
        assert len(stored_files(configured)) == 1  # team B's dataset still needs the file


def test_a_dataset_too_big_for_a_workers_memory_is_refused_naming_the_limit(
    settings: Settings, small_csv: bytes
) -> None:
    small_workers = settings.model_copy(update={"worker_memory_bytes": 1 << 20})
    big = b"a,b,c,d,label\n" + b"0.1,0.2,0.3,0.4,1\n" * 10_000  # 10,000 x 5 x 8 B x 3 > 1 MiB
    with TestClient(create_app(small_workers)) as client:
        response = upload(client, "big.csv", big)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["type"] == "dataset_too_large"
        assert "LOSS_SEARCH_WORKER_MEMORY_BYTES" in error["message"]
        assert upload(client, "small.csv", small_csv).status_code == 201
    assert len(stored_files(small_workers)) == 1
