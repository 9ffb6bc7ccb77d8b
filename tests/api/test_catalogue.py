"""GET /v1/metrics and GET /v1/losses: the whole catalogue, filterable."""

from __future__ import annotations

from fastapi.testclient import TestClient

from workers.engine.losses import LOSSES
from workers.engine.metrics import METRICS


def test_every_metric_is_listed_with_its_contract(client: TestClient) -> None:
    metrics = {m["name"]: m for m in client.get("/v1/metrics").json()}
    assert set(metrics) == set(METRICS)
    f1 = metrics["f1"]
    assert f1["tasks"] == ["binary"]
    assert f1["direction"] == "maximize"
    assert f1["threshold_tuned_for"] == ["binary"]
    kappa = metrics["cohen_kappa"]
    assert kappa["params"] == [
        {
            "name": "weights",
            "kind": "choice",
            "required": False,
            "default": "quadratic",
            "low": None,
            "high": None,
            "choices": ["linear", "quadratic"],
            "integer": False,
            "description": "disagreement weights for ordinal classes",
        }
    ]
    assert metrics["mae"]["direction"] == "minimize"
    cost = metrics["expected_cost"]
    assert cost["direction"] == "minimize"
    assert cost["threshold_tuned_for"] == ["binary", "multiclass"]
    (costs,) = cost["params"]
    assert costs["name"] == "costs"
    assert costs["kind"] == "matrix"
    assert costs["required"] is True
    assert costs["default"] is None
    assert "rows = true class" in costs["description"]
    assert metrics["fbeta"]["params"][0]["kind"] == "number"
    # multiclass: class offsets; multilabel: a threshold per label
    assert metrics["macro_f1"]["threshold_tuned_for"] == ["multiclass", "multilabel"]
    # calibration metrics: a temperature, never a threshold
    assert metrics["log_loss"]["temperature_tuned_for"] == ["binary", "multiclass"]
    assert metrics["ece"]["temperature_tuned_for"] == ["binary", "multiclass", "multilabel"]
    assert metrics["log_loss"]["threshold_tuned_for"] == []
    assert f1["temperature_tuned_for"] == []
    assert metrics["roc_auc"]["temperature_tuned_for"] == []  # a ranking ignores any T


def test_metrics_filter_by_task(client: TestClient) -> None:
    names = {m["name"] for m in client.get("/v1/metrics", params={"task": "multilabel"}).json()}
    assert names == {n for n, m in METRICS.items() if "multilabel" in {t.value for t in m.tasks}}


def test_every_loss_is_listed_with_parameters_and_reference(client: TestClient) -> None:
    losses = {loss["name"]: loss for loss in client.get("/v1/losses").json()}
    assert set(losses) == set(LOSSES)
    focal = losses["focal"]
    assert focal["family"] == "weighted"
    assert focal["reference"].startswith("Lin et al.")
    assert {p["name"] for p in focal["params"]} == {"gamma", "alpha"}
    for loss in losses.values():
        assert loss["reference"]
        assert loss["summary"]
        for param in loss["params"]:
            assert param["low"] <= param["default"] <= param["high"]


def test_losses_filter_by_task_family_and_metric(client: TestClient) -> None:
    for_f1 = {x["name"] for x in client.get("/v1/losses", params={"metric": "f1"}).json()}
    assert {"soft_f1", "cross_entropy", "focal"} <= for_f1
    assert "pairwise_auc" not in for_f1
    assert "soft_expected_cost" not in for_f1
    for_cost = {
        x["name"] for x in client.get("/v1/losses", params={"metric": "expected_cost"}).json()
    }
    assert {"soft_expected_cost", "mixed_soft_expected_cost", "cost_weighted_ce"} <= for_cost
    surrogates = client.get("/v1/losses", params={"family": "surrogate", "task": "binary"}).json()
    assert surrogates
    assert all(x["family"] == "surrogate" and "binary" in x["tasks"] for x in surrogates)
    unknown = client.get("/v1/losses", params={"metric": "f7"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"] == "unknown metric 'f7'"
