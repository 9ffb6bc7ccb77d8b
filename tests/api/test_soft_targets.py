"""POST /v1/jobs with soft targets: accepted when every row is a distribution, refused with 422
and the one error shape otherwise, with nothing stored (the API runs the engine's inspection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_job_validation import assert_refused

CLASSES = ("cat", "dog", "fox")


def write_soft(data_root: Path, name: str, broken: dict[int, str] | None = None) -> None:
    """60 rows of a feature and three class probabilities; ``broken`` replaces whole rows'
    probabilities (``"0.5,0.5,0.5"``) to make them wrong."""
    rows = []
    for i in range(60):
        major = i % 3
        probabilities = ["0.1", "0.1", "0.1"]
        probabilities[major] = "0.8"
        cells = (broken or {}).get(i, ",".join(probabilities))
        rows.append(f"{i * 0.5},{cells}")
    (data_root / name).write_text("x," + ",".join(CLASSES) + "\n" + "\n".join(rows) + "\n")


def soft_job(dataset: str = "soft.csv", **fields: Any) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "target": list(CLASSES),
        "task": "multiclass",
        "metric": "kl_divergence",
        **fields,
    }


def test_a_soft_target_job_is_accepted_as_multiclass(client: TestClient, data_root: Path) -> None:
    write_soft(data_root, "soft.csv")
    response = client.post("/v1/jobs", json=soft_job())
    assert response.status_code == 202, response.text
    spec = response.json()["spec"]
    assert (spec["task"], spec["target"]) == ("multiclass", list(CLASSES))
    assert spec["metric"]["name"] == "kl_divergence"


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (
            "0.5,0.5,0.5",
            "soft targets must sum to 1 in every row (within 0.01); 1 rows do not, "
            "the first (row 4) sums to 1.5",
        ),
        ("1.2,-0.2,0.0", "1 rows hold a negative probability, the first is row 4"),
        ("0.5,,0.5", "1 rows hold a missing (NaN) or infinite probability, the first is row 4"),
        ("0.5,high,0.5", "soft target column 'dog' must hold probabilities"),
    ],
)
def test_rows_that_are_not_distributions_are_refused_at_post(
    client: TestClient, data_root: Path, row: str, fragment: str
) -> None:
    write_soft(data_root, "soft.csv", broken={4: row})
    error = assert_refused(client, soft_job(), fragment)
    assert error["details"][0]["loc"] == ["body", "target"]


def test_without_the_task_several_columns_stay_multilabel(
    client: TestClient, data_root: Path
) -> None:
    write_soft(data_root, "soft.csv")
    body = soft_job(metric="micro_f1")
    del body["task"]
    assert_refused(client, body, "multilabel target column 'cat' must hold 0/1")


def test_a_hard_label_loss_is_refused_for_soft_targets(client: TestClient, data_root: Path) -> None:
    write_soft(data_root, "soft.csv")
    error = assert_refused(
        client,
        soft_job(metric="accuracy", losses=["focal"]),
        "loss 'focal' takes hard class labels",
        "losses for soft targets: brier, cross_entropy, kl_divergence",
    )
    assert error["details"][0]["loc"] == ["body", "losses"]


def test_a_separate_test_file_of_soft_targets_is_checked_too(
    client: TestClient, data_root: Path
) -> None:
    write_soft(data_root, "soft.csv")
    write_soft(data_root, "holdout.csv", broken={2: "0.2,0.2,0.2"})
    error = assert_refused(
        client, soft_job(test_dataset="holdout.csv"), "soft targets must sum to 1"
    )
    assert error["details"][0]["loc"] == ["body", "test_dataset"]


def test_the_catalogue_says_which_losses_take_soft_targets(client: TestClient) -> None:
    losses = {
        item["name"]: item
        for item in client.get("/v1/losses", params={"task": "multiclass"}).json()
    }
    assert losses["kl_divergence"]["soft_targets"]
    assert losses["kl_divergence"]["soft_only"]
    assert losses["cross_entropy"]["soft_targets"]
    assert not losses["cross_entropy"]["soft_only"]
    assert not losses["focal"]["soft_targets"]
    metrics = {item["name"] for item in client.get("/v1/metrics").json()}
    assert "kl_divergence" in metrics
