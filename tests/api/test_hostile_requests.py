"""Hostile request bodies and query strings get a 4xx in the one error shape.

Non-finite numbers, oversized lists, dicts and strings, control characters, bodies over the size
limit (by declared length or as they stream in) and paging beyond 64-bit integers: each answered
500 or was accepted before. Nothing is stored for any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings
from tests.api.hostile import Reply, assert_error, refuse, stored_jobs

MiB = 1 << 20


# Request bodies -----------------------------------------------------------------------------


def post_raw(client: TestClient, text: str) -> Reply:
    """POST a body exactly as written (json.dumps would refuse NaN)."""
    return client.post("/v1/jobs", content=text, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('"params": {"training": {"learning_rate": NaN}}', "params.training.learning_rate"),
        ('"params": {"focal": {"gamma": [0.5, Infinity]}}', "params.focal.gamma"),
        ('"budget": {"timeout_s": Infinity}', "budget.timeout_s"),
        ('"metric": {"name": "fbeta", "params": {"beta": -Infinity}}', "metric"),
        ('"seed": NaN', "seed"),
        ('"budget": {"n_trials": 1e400}', "budget.n_trials"),
    ],
)
def test_non_finite_numbers_anywhere_are_refused(
    client: TestClient, settings: Settings, body: str, field: str
) -> None:
    text = '{"dataset": "builtin:breast_cancer", "metric": "f1", ' + body + "}"
    if '"metric": {' in body:
        text = '{"dataset": "builtin:breast_cancer", ' + body + "}"
    error = assert_error(post_raw(client, text), 422, field)
    assert "finite" in error["message"] or "valid integer" in error["message"]
    assert stored_jobs(settings) == 0


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"losses": ["focal"] * 101}, "losses: List should have at most 100 items"),
        ({"target": [f"l{i}" for i in range(1001)]}, "at most 1000 items"),
        ({"target": "t" * 257}, "at most 256 characters"),
        ({"families": ["proxy"] * 4}, "families: List should have at most 3 items"),
        (
            {"params": {f"loss{i}": {} for i in range(101)}},
            "params: Dictionary should have at most",
        ),
        ({"params": {"focal": {f"p{i}": 1.0 for i in range(21)}}}, "params.focal"),
        ({"params": {"focal": {"gamma": [0.5, 1.0, 2.0]}}}, "at most 2 items"),
        ({"metric": {"name": "f1", "params": {f"p{i}": 1 for i in range(11)}}}, "metric.params"),
        ({"metric": "m" * 65}, "at most 64 characters"),
        ({"split_column": "s" * 257}, "split_column"),
        ({"seed": True}, "seed: Input should be a valid integer"),
        ({"budget": {"n_trials": "30"}}, "budget.n_trials: Input should be a valid integer"),
    ],
)
def test_every_list_dict_and_string_is_bounded(
    client: TestClient, settings: Settings, extra: dict[str, Any], fragment: str
) -> None:
    refuse(
        client, settings, {"dataset": "builtin:breast_cancer", "metric": "f1", **extra}, fragment
    )


def test_control_characters_are_refused_in_every_name(
    client: TestClient, settings: Settings
) -> None:
    base = {"dataset": "builtin:breast_cancer", "metric": "f1"}
    refuse(client, settings, {**base, "target": "tar\x00get"}, "target", "NUL byte")
    refuse(client, settings, {**base, "losses": ["foc\x07al"]}, "losses.0", "'\\x07'")
    refuse(client, settings, {**base, "metric": "f1\x00"}, "metric", "NUL byte")


def test_a_body_over_the_size_limit_is_refused_by_its_declared_length(
    client: TestClient, settings: Settings
) -> None:
    ten_mib_of_losses = {"dataset": "builtin:breast_cancer", "metric": "f1"}
    ten_mib_of_losses["losses"] = ["focal"] * (10 * MiB // 8)  # type: ignore[assignment]
    error = assert_error(
        client.post("/v1/jobs", json=ten_mib_of_losses), 413, "1048576 bytes", "MAX_REQUEST_BYTES"
    )
    assert error["type"] == "request_too_large"
    assert stored_jobs(settings) == 0


def test_a_streamed_body_over_the_size_limit_is_refused_as_it_arrives(
    client: TestClient, settings: Settings
) -> None:
    def chunks() -> Iterator[bytes]:
        # A generator has no length: the body goes chunked, with no Content-Length to check.
        yield b'{"dataset": "builtin:breast_cancer", "metric": "f1", "losses": ["focal"'
        for _ in range(4 * MiB // 4096):
            yield b', "focal"' * 455 + b" "
        yield b"]}"

    response = client.post(
        "/v1/jobs", content=chunks(), headers={"content-type": "application/json"}
    )
    error = assert_error(response, 413, "larger than", "1048576 bytes")
    assert error["type"] == "request_too_large"
    assert stored_jobs(settings) == 0


def test_the_size_limit_is_a_setting(settings: Settings) -> None:
    small = settings.model_copy(update={"max_request_bytes": 100})
    with TestClient(create_app(small)) as client:
        body = {"dataset": "builtin:breast_cancer", "metric": "f1", "losses": ["focal"] * 20}
        assert_error(client.post("/v1/jobs", json=body), 413, "at most 100 bytes")
        assert client.get("/v1/jobs").status_code == 200


# Query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("offset=9223372036854775808", "offset: Input should be less than or equal to 1000000000"),
        ("offset=-1", "offset"),
        ("limit=100000", "limit"),
        ("limit=abc", "limit"),
    ],
)
def test_paging_parameters_are_bounded(client: TestClient, query: str, fragment: str) -> None:
    error = assert_error(client.get(f"/v1/jobs?{query}"), 422, fragment)
    assert error["details"][0]["loc"][0] == "query"


def test_the_largest_offset_still_answers(client: TestClient) -> None:
    page = client.get("/v1/jobs?offset=1000000000").json()
    assert page["items"] == []
    assert page["offset"] == 1_000_000_000
