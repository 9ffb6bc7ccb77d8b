"""POST /v1/jobs refuses malformed jobs with 422 and a message a person can act on.

Nothing invalid may reach the queue: every test also checks that no job row was created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient


def post(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/v1/jobs", json=body)
    payload: dict[str, Any] = response.json()
    return response.status_code, payload


def assert_refused(client: TestClient, body: dict[str, Any], *fragments: str) -> dict[str, Any]:
    status, payload = post(client, body)
    assert status == 422, payload
    error: dict[str, Any] = payload["error"]
    assert error["type"] == "validation_error"
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    assert client.get("/v1/jobs").json()["total"] == 0, "a refused job must not be stored"
    return error


def test_unknown_metric_lists_the_valid_ones(client: TestClient) -> None:
    error = assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "f2"},
        "unknown metric 'f2'",
        "roc_auc",
    )
    assert error["details"][0]["loc"] == ["body", "metric"]


def test_metric_that_does_not_fit_the_task(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "mae"},
        "'mae' does not apply to a binary task",
        "f1",
    )
    assert_refused(client, {"dataset": "builtin:diabetes", "metric": "f1"}, "regression", "mape")


def test_metric_parameters_are_checked(client: TestClient) -> None:
    assert_refused(
        client,
        {
            "dataset": "builtin:breast_cancer",
            "metric": {"name": "recall_at_precision", "params": {"min_precision": 1.5}},
        },
        "min_precision=1.5 is out of range",
    )
    assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": {"name": "f1", "params": {"beta": 2}}},
        "has no parameter 'beta'",
    )


@pytest.mark.parametrize(
    ("dataset", "fragment"),
    [
        ("builtin:mnist", "unknown builtin dataset 'mnist'"),
        ("missing.csv", "was not found under the data roots"),
        ("broken.csv", "could not read dataset file 'broken.csv'"),
        ("empty.csv", "could not read dataset file 'empty.csv'"),
        ("notes.txt", "unsupported file type"),
        ("s3://bucket/data.csv", "dataset URLs are not enabled on this service"),
        ("ftp://host/data.csv", "scheme 'ftp' are not supported"),
    ],
)
def test_unreadable_or_missing_dataset(client: TestClient, dataset: str, fragment: str) -> None:
    error = assert_refused(
        client, {"dataset": dataset, "metric": "f1", "target": "label"}, fragment
    )
    assert error["details"][0]["loc"] == ["body", "dataset"]


@pytest.mark.parametrize(
    "dataset",
    ["../outside.csv", "sub/../../outside.csv", "file:///etc/passwd.csv", "/etc/outside.csv"],
)
def test_paths_outside_the_data_roots_are_refused(
    client: TestClient, data_root: Path, dataset: str
) -> None:
    (data_root.parent / "outside.csv").write_text("a,label\n1,0\n")
    assert_refused(client, {"dataset": dataset, "metric": "f1", "target": "label"}, "outside")


def test_symlink_leading_outside_the_roots_is_refused(client: TestClient, data_root: Path) -> None:
    secret = data_root.parent / "secret.csv"
    secret.write_text("a,label\n1,0\n")
    (data_root / "innocent.csv").symlink_to(secret)
    assert_refused(
        client, {"dataset": "innocent.csv", "metric": "f1", "target": "label"}, "outside"
    )


def test_missing_target_column_names_the_columns(client: TestClient) -> None:
    error = assert_refused(
        client,
        {"dataset": "small.csv", "metric": "f1", "target": "outcome"},
        "target column 'outcome' is not in the dataset",
        "'label'",
    )
    assert error["details"][0]["loc"] == ["body", "target"]


def test_single_class_target(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "single_class.csv", "metric": "f1", "target": "label"},
        "single class",
    )


def test_task_that_contradicts_the_target(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "builtin:wine", "metric": "f1", "task": "binary"},
        "needs exactly 2 classes",
    )


@pytest.mark.parametrize(
    ("budget", "field"),
    [
        ({"n_trials": 0}, "budget.n_trials"),
        ({"n_trials": 100_000}, "budget.n_trials"),
        ({"timeout_s": 1}, "budget.timeout_s"),
        ({"n_trials": 5, "epochs": 3}, "budget.epochs"),
    ],
)
def test_budgets_out_of_bounds(client: TestClient, budget: dict[str, Any], field: str) -> None:
    assert_refused(
        client, {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": budget}, field
    )


def test_unknown_family_and_unknown_fields(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "f1", "families": ["magic"]},
        "families.0",
    )
    assert_refused(
        client, {"dataset": "builtin:breast_cancer", "metric": "f1", "colour": "red"}, "colour"
    )
    assert_refused(client, {"metric": "f1"}, "dataset", "Field required")


def test_family_with_no_loss_for_the_metric(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "builtin:diabetes", "metric": "mae", "families": ["surrogate"]},
        "no loss in families ['surrogate']",
    )


def test_malformed_json_gets_the_shared_error_shape(client: TestClient) -> None:
    response = client.post(
        "/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "validation_error"


def test_listed_losses_must_exist_and_fit_the_task(client: TestClient) -> None:
    error = assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "f1", "losses": ["focal", "magic"]},
        "unknown loss 'magic'",
    )
    assert error["details"][0]["loc"] == ["body", "losses"]
    assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "f1", "losses": ["huber"]},
        "loss 'huber' is not defined for a binary task",
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"focal": {"gamma": [0.5, 30.0]}}, "focal.gamma [0.5, 30.0] is outside the supported"),
        ({"focal": {"beta": 2.0}}, "focal has no searchable parameter 'beta'"),
        ({"focul": {"gamma": 2.0}}, "params name 'focul'"),
        ({"training": {"learning_rate": [0.1, 0.5]}}, "training.learning_rate"),
    ],
)
def test_parameter_overrides_are_checked_against_the_catalogue(
    client: TestClient, params: dict[str, Any], fragment: str
) -> None:
    error = assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "f1", "params": params},
        fragment,
    )
    assert error["details"][0]["loc"] == ["body", "params"]


def test_mape_refuses_targets_equal_to_zero(client: TestClient, data_root: Path) -> None:
    (data_root / "zeros.csv").write_text(
        "x,y\n" + "\n".join(f"{i},{i % 4}" for i in range(60)) + "\n"
    )
    assert_refused(
        client,
        {"dataset": "zeros.csv", "target": "y", "metric": "mape", "task": "regression"},
        "metric 'mape' divides by the target, and 15 rows have target 0",
    )


@pytest.mark.parametrize("metric", ["msle", "rmsle", "poisson_deviance"])
def test_log_and_count_metrics_refuse_negative_targets(
    client: TestClient, data_root: Path, metric: str
) -> None:
    (data_root / "signed.csv").write_text(
        "x,y\n" + "\n".join(f"{i},{i % 5 - 1}" for i in range(60)) + "\n"
    )
    assert_refused(
        client,
        {"dataset": "signed.csv", "target": "y", "metric": metric, "task": "regression"},
        f"metric '{metric}' needs non-negative targets",
    )


def test_multilabel_targets_must_be_zero_one_columns(client: TestClient, data_root: Path) -> None:
    rows = [f"{i},{i % 2},{(i // 2) % 2},{i % 3}" for i in range(60)]
    (data_root / "labels.csv").write_text("x,l_a,l_b,l_c\n" + "\n".join(rows) + "\n")
    assert_refused(
        client,
        {"dataset": "labels.csv", "target": "l_*", "metric": "micro_f1"},
        "multilabel target column 'l_c' must hold 0/1",
    )
    assert_refused(
        client,
        {"dataset": "labels.csv", "target": ["l_a", "l_b"], "metric": "f1"},
        "'f1' does not apply to a multilabel task",
    )


def write_folds(data_root: Path, folds: list[str]) -> None:
    rows = [f"{i},{i % 2},{fold}" for i, fold in enumerate(folds)]
    (data_root / "folds.csv").write_text("x,label,fold\n" + "\n".join(rows) + "\n")


def test_a_split_column_must_exist_and_hold_split_names(
    client: TestClient, data_root: Path
) -> None:
    write_folds(data_root, ["train"] * 40 + ["test"] * 20)
    body = {"dataset": "folds.csv", "target": "label", "metric": "f1"}
    error = assert_refused(client, {**body, "split_column": "fold_id"}, "'fold_id' is not in")
    assert error["details"][0]["loc"] == ["body", "split_column"]
    assert_refused(client, {**body, "split_column": "label"}, "also a target column")
    write_folds(data_root, ["train"] * 40 + ["dev"] * 20)
    assert_refused(client, {**body, "split_column": "fold"}, "'dev'", "train, validation or test")


def test_a_test_dataset_must_exist_and_share_the_columns(
    client: TestClient, data_root: Path
) -> None:
    write_folds(data_root, ["train"] * 60)
    (data_root / "other.csv").write_text("x,label\n" + "\n".join(f"{i},{i % 2}" for i in range(9)))
    body = {"dataset": "folds.csv", "target": "label", "metric": "f1"}
    error = assert_refused(client, {**body, "test_dataset": "absent.csv"}, "not found")
    assert error["details"][0]["loc"] == ["body", "test_dataset"]
    assert_refused(client, {**body, "test_dataset": "other.csv"}, "lacks 1", "'fold'")
    assert_refused(
        client,
        {**body, "test_dataset": "other.csv", "split_column": "fold"},
        "either split_column or test_dataset",
    )


def test_a_valid_split_column_is_accepted_and_kept_on_the_job(
    client: TestClient, data_root: Path
) -> None:
    write_folds(data_root, ["train"] * 40 + ["validation"] * 10 + ["test"] * 10)
    body = {"dataset": "folds.csv", "target": "label", "metric": "f1", "split_column": "fold"}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["spec"]["split_column"] == "fold"


def test_a_split_must_leave_every_class_some_training_rows(
    client: TestClient, data_root: Path
) -> None:
    rows = [f"{i},{int(i >= 40)},{'train' if i < 40 else 'test'}" for i in range(60)]
    (data_root / "folds.csv").write_text("x,label,fold\n" + "\n".join(rows) + "\n")
    body = {"dataset": "folds.csv", "target": "label", "metric": "f1", "split_column": "fold"}
    error = assert_refused(client, body, "no example of class '1'")
    assert error["details"][0]["loc"] == ["body", "split_column"]

    rows = [f"{i},{i % 2}" for i in range(60)]
    (data_root / "two.csv").write_text("x,label\n" + "\n".join(rows) + "\n")
    (data_root / "three.csv").write_text("x,label\n" + "\n".join(f"{i},{i % 3}" for i in range(9)))
    body = {"dataset": "two.csv", "target": "label", "metric": "macro_f1", "task": "multiclass"}
    error = assert_refused(client, {**body, "test_dataset": "three.csv"}, "class '2'")
    assert error["details"][0]["loc"] == ["body", "test_dataset"]


def _cost_job(costs: object, dataset: str = "builtin:breast_cancer") -> dict[str, Any]:
    return {"dataset": dataset, "metric": {"name": "expected_cost", "params": {"costs": costs}}}


@pytest.mark.parametrize(
    ("costs", "fragment"),
    [
        ([[0, 1, 2], [1, 0, 2]], "must be square"),
        ([[0, 1], [1]], "must be square"),
        ([[0, 1, 1], [1, 0, 1], [1, 1, 0]], "is 3 x 3 but the target has 2 classes"),
        ([[0, -1], [5, 0]], "must be finite and non-negative"),
        ([[0, 0], [0, 0]], "every decision costs the same"),
        ([[3, 1], [5, 0]], "must be the smallest cost in row 0"),
        ([[0, "1"], [5, 0]], "number"),
        ([[0, None], [5, 0]], "number"),
        ([[0, True], [5, 0]], "number"),
        ([0, 1], "list"),
        ("0 1; 5 0", "must be a list of rows"),
        ([], "must be square"),
    ],
)
def test_a_bad_cost_matrix_is_refused_at_post(
    client: TestClient, costs: object, fragment: str
) -> None:
    error = assert_refused(client, _cost_job(costs), fragment)
    assert error["details"], error
    assert error["details"][0]["loc"][:2] == ["body", "metric"]


def test_a_cost_matrix_must_be_given_and_sized_for_the_classes(client: TestClient) -> None:
    assert_refused(
        client,
        {"dataset": "builtin:breast_cancer", "metric": "expected_cost"},
        "needs the parameter 'costs'",
    )
    # iris has three classes: a 2 x 2 matrix cannot say what each decision costs.
    assert_refused(client, _cost_job([[0, 1], [5, 0]], "builtin:iris"), "target has 3 classes")


def test_a_good_cost_matrix_is_stored_as_given(client: TestClient) -> None:
    response = client.post("/v1/jobs", json=_cost_job([[0, 1], [5, 0.5]]))
    assert response.status_code == 202, response.json()
    spec = response.json()["spec"]
    assert spec["metric"] == {
        "name": "expected_cost",
        "params": {"costs": [[0.0, 1.0], [5.0, 0.5]]},
    }
    assert response.json()["direction"] == "minimize"
