"""Warm start, end to end: a job's best setup runs as the first trial after the baseline of a
later job that names it (or finds it by the data's fingerprint, with "auto"), attributed to the
earlier job in the trials and in the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.settings import Settings
from workers.jobs import run_shard

JOB: dict[str, Any] = {
    "metric": "f1",
    "target": "label",
    "families": ["proxy"],
    "parallelism": {"population_size": 2},
    "confirmation": {"top_k": 1, "seeds": 2, "seeds_per_fold": 2},
}


def run(client: TestClient, settings: Settings, **fields: Any) -> str:
    created = client.post("/v1/jobs", json={**JOB, **fields})
    assert created.status_code == 202, created.text
    job_id: str = created.json()["id"]
    run_shard(job_id, 0, settings)
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job["error"]
    return job_id


def trials(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
    return items


def best(client: TestClient, job_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = client.get(f"/v1/jobs/{job_id}/best").json()
    return payload


def test_earlier_best_setups_run_first_and_say_where_they_came_from(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    content = (data_root / "small.csv").read_bytes()
    dataset = client.post("/v1/datasets", files={"file": ("small.csv", content)}).json()
    reference = dataset["reference"]
    # Trained at a learning rate the later jobs' baselines do not use, so that the earlier best
    # setup (often the plain loss, when nothing beats it) is not a repeat of their baseline.
    first = run(
        client,
        settings,
        dataset=reference,
        budget={"n_trials": 2},
        params={"training": {"learning_rate": 0.002}},
    )
    first_best = best(client, first)["best"]
    assert first_best["training"]["learning_rate"] == 0.002
    assert best(client, first)["warm_start"] == []
    assert all(t["warm_start_from"] is None for t in trials(client, first))

    named = run(
        client,
        settings,
        dataset=reference,
        budget={"n_trials": 3},
        warm_start={"from_jobs": [first]},
    )
    baseline, warm, *_ = trials(client, named)
    assert baseline["arm"] == "baseline"
    assert warm["arm"] == "warm_start"
    assert warm["warm_start_from"] == first
    assert (warm["loss"], warm["loss_params"]) == (first_best["loss"], first_best["loss_params"])
    assert warm["training"]["learning_rate"] == first_best["training"]["learning_rate"]
    assert warm["state"] == "complete"
    assert best(client, named)["warm_start"] == [
        {
            "from_job": first,
            "loss": first_best["loss"],
            "loss_params": first_best["loss_params"],
            "learning_rate": first_best["training"]["learning_rate"],
            "batch_size": first_best["training"]["batch_size"],
            "trial_number": warm["number"],
            "used": True,
            "reason": None,
        }
    ]

    # "auto": the tenant's succeeded jobs on the same bytes, newest first. A job on other data
    # (the same rows as Parquet: another fingerprint) is not one of them.
    other = run(client, settings, dataset="small.parquet", budget={"n_trials": 2})
    auto = run(client, settings, dataset=reference, budget={"n_trials": 3}, warm_start="auto")
    planned = best(client, auto)["warm_start"]
    assert [entry["from_job"] for entry in planned] == [named, first]
    assert other not in [entry["from_job"] for entry in planned]
    used = [entry for entry in planned if entry["used"]]
    assert used
    assert used[0]["trial_number"] == 1
    by_number = {t["number"]: t for t in trials(client, auto)}
    for entry in planned:
        if entry["used"]:
            trial = by_number[entry["trial_number"]]
            assert (trial["arm"], trial["warm_start_from"]) == ("warm_start", entry["from_job"])
        else:  # the same setup twice, the baseline's own, or no room left in the budget
            assert entry["reason"], entry


def test_a_setup_the_job_does_not_search_is_skipped_with_the_reason(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    first = run(client, settings, dataset="small.csv", budget={"n_trials": 2})
    first_loss = best(client, first)["best"]["loss"]
    narrowed = run(
        client,
        settings,
        dataset="small.csv",
        budget={"n_trials": 2},
        families=["weighted"],
        warm_start={"from_jobs": [first]},
    )
    (entry,) = best(client, narrowed)["warm_start"]
    assert entry["used"] is False
    assert entry["trial_number"] is None
    assert entry["reason"] == f"loss {first_loss!r} is not searched by this job"
    assert all(t["arm"] != "warm_start" for t in trials(client, narrowed))
