"""A job's data on the worker: an uploaded dataset is read from the store, and every result
says exactly which bytes it came from."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.settings import Settings
from workers.jobs import run_shard

JOB: dict[str, Any] = {
    "metric": "f1",
    "target": "label",
    "budget": {"n_trials": 2},
    "families": ["proxy"],
    "parallelism": {"population_size": 2},
    "confirmation": {"top_k": 1, "seeds": 2, "seeds_per_fold": 2},
}


def run(client: TestClient, settings: Settings, dataset: str) -> dict[str, Any]:
    created = client.post("/v1/jobs", json={**JOB, "dataset": dataset})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    run_shard(job_id, 0, settings)
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job["error"]
    source: dict[str, Any] = client.get(f"/v1/jobs/{job_id}/best").json()["dataset"]["source"]
    return source


def test_an_uploaded_dataset_is_searched_and_recorded_by_id_and_fingerprint(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    content = (data_root / "small.csv").read_bytes()
    dataset = client.post("/v1/datasets", files={"file": ("small.csv", content)}).json()
    source = run(client, settings, dataset["reference"])
    assert source == {
        "reference": dataset["reference"],
        "dataset_id": dataset["id"],
        "fingerprint": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "version": None,
        "rows": 120,
        "columns": 5,
    }


def test_a_data_root_file_is_recorded_with_its_fingerprint(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    source = run(client, settings, "small.csv")
    content = (data_root / "small.csv").read_bytes()
    assert source["reference"] == "small.csv"
    assert source["fingerprint"] == hashlib.sha256(content).hexdigest()
    assert source["size_bytes"] == len(content)
    assert source["rows"] == 120
