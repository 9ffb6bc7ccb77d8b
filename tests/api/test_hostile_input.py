"""Hostile input gets a clear 4xx in the one error shape, and leaves nothing behind.

Each case here answered 500, or was accepted, before. Every refusal must say what is wrong (the
message names the problem and, for a body field, the field), use ``{"error": {"type", "message",
"details"}}``, and leave the jobs table as it was: the table is queried directly, not through
the API.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db.models import JobRow
from service.db.session import session_scope
from service.settings import Settings

MiB = 1 << 20


def stored_jobs(settings: Settings) -> int:
    with session_scope(settings.resolved_database_url) as session:
        return int(session.scalar(select(func.count()).select_from(JobRow)) or 0)


class Reply(Protocol):
    """What the tests read of a response (TestClient's and httpx's alike)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def assert_error(response: Reply, status: int, *fragments: str) -> dict[str, Any]:
    """The response has ``status``, the one error shape, and a message with every fragment."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "message", "details"}
    assert isinstance(error["details"], list)
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def refuse(
    client: TestClient, settings: Settings, body: dict[str, Any], *fragments: str
) -> dict[str, Any]:
    """POST ``body``: a 422 whose message has every fragment, and no job row created."""
    before = stored_jobs(settings)
    error = assert_error(client.post("/v1/jobs", json=body), 422, *fragments)
    assert error["type"] == "validation_error"
    assert stored_jobs(settings) == before, "a refused job must not be stored"
    return error


def job(dataset: str, **fields: Any) -> dict[str, Any]:
    return {"dataset": dataset, "target": "label", "metric": "f1", **fields}


def write_table(path: Path, rows: int = 60, **columns: Any) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "label": np.arange(rows) % 2, **columns})
    frame.to_csv(path, index=False)


# Dataset references -------------------------------------------------------------------------


def test_a_truncated_gzip_file_is_refused_as_truncated(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    rows = "\n".join(f"{i},{i % 2}" for i in range(5000))
    whole = gzip.compress(f"x,label\n{rows}\n".encode())
    (data_root / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    error = refuse(client, settings, job("cut.csv.gz"), "cut.csv.gz", "truncated")
    assert error["details"][0]["loc"] == ["body", "dataset"]


def test_a_file_that_is_not_gzip_despite_its_name_is_refused(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    (data_root / "plain.csv.gz").write_text("x,label\n1,0\n")
    refuse(client, settings, job("plain.csv.gz"), "could not read dataset file 'plain.csv.gz'")


@pytest.mark.parametrize("field", ["dataset", "test_dataset"])
def test_a_symlink_loop_is_refused_as_a_loop(
    client: TestClient, settings: Settings, data_root: Path, field: str
) -> None:
    write_table(data_root / "real.csv")
    (data_root / "ping.csv").symlink_to(data_root / "pong.csv")
    (data_root / "pong.csv").symlink_to(data_root / "ping.csv")
    (data_root / "self.csv").symlink_to(data_root / "self.csv")
    for looping in ("ping.csv", "self.csv"):
        body = {**job("real.csv"), field: looping}
        error = refuse(client, settings, body, repr(looping), "symbolic link loop")
        assert error["details"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("field", ["dataset", "test_dataset"])
@pytest.mark.parametrize("reference", ["small\x00.csv", "\x00", "sub/\x00/small.csv"])
def test_a_nul_byte_in_a_reference_is_refused(
    client: TestClient, settings: Settings, field: str, reference: str
) -> None:
    body = {**job("small.csv"), field: reference}
    error = refuse(client, settings, body, field, "NUL byte")
    assert error["details"][0]["loc"] == ["body", field]


def test_a_nul_byte_hidden_in_a_file_url_is_refused(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    refuse(client, settings, job(f"file://{data_root}/small%00.csv"), "NUL byte")


@pytest.mark.parametrize("field", ["dataset", "test_dataset"])
def test_a_file_name_too_long_for_the_file_system_is_refused(
    client: TestClient, settings: Settings, field: str
) -> None:
    body = {**job("small.csv"), field: "n" * 296 + ".csv"}
    error = refuse(client, settings, body, "300 characters", "too long")
    assert error["details"][0]["loc"] == ["body", field]


def test_a_path_of_4096_characters_is_refused(client: TestClient, settings: Settings) -> None:
    path = "d/" * 2045 + "xy.csv"
    assert len(path) == 4096
    refuse(client, settings, job(path), "(4096 characters) is too long for the file system")
    refuse(client, settings, job(path + "v"), "dataset", "at most 4096 characters")


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("~no-such-user-here/small.csv", "home directory that does not exist"),
        ("file://[::1/small.csv", "not a valid file URL"),
        ("small.csv\n", "control character '\\n'"),
    ],
)
def test_other_malformed_references_are_refused(
    client: TestClient, settings: Settings, reference: str, fragment: str
) -> None:
    refuse(client, settings, job(reference), fragment)


# Dataset contents ---------------------------------------------------------------------------


def test_duplicate_column_names_are_refused_and_named(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    # pandas would read the second 'label' as 'label.1': a copy of the target among the features.
    (data_root / "twice.csv").write_text(
        "x,label,label\n" + "\n".join(f"{i},{i % 2},{i % 2}" for i in range(60)) + "\n"
    )
    error = refuse(
        client, settings, job("twice.csv"), "duplicate column names", "'label' (2 times)"
    )
    assert error["details"][0]["loc"] == ["body", "dataset"]
    write_table(data_root / "fine.csv")
    body = {**job("fine.csv"), "test_dataset": "twice.csv"}
    error = refuse(client, settings, body, "duplicate column names", "'label'")
    assert error["details"][0]["loc"] == ["body", "test_dataset"]


def test_duplicate_column_names_in_parquet_are_refused(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array(np.arange(60) % 2)
    table = pa.Table.from_arrays([pa.array(np.arange(60.0)), values, values], ["x", "t", "t"])
    pq.write_table(table, data_root / "twice.parquet")
    refuse(client, settings, job("twice.parquet", target="t"), "duplicate column names", "'t'")


def test_a_target_of_lists_is_refused(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    nested = pa.array([[i, i + 1] for i in range(60)], type=pa.list_(pa.int64()))
    table = pa.table({"x": pa.array(np.arange(60.0)), "t": nested})
    pq.write_table(table, data_root / "nested.parquet")
    body = job("nested.parquet", target="t")
    refuse(client, settings, body, "target column 't' holds lists or records")


@pytest.mark.parametrize("huge", [1e308, -1e308, 1e200])
def test_a_regression_target_too_large_to_standardise_is_refused(
    client: TestClient, settings: Settings, data_root: Path, huge: float
) -> None:
    values = np.linspace(1.0, 2.0, 60)
    values[7] = huge
    write_table(data_root / "huge.csv", y=values)
    body = job("huge.csv", target="y", task="regression", metric="mae")
    error = refuse(client, settings, body, "column 'y'", "too large to standardise")
    assert error["details"][0]["loc"] == ["body", "target"]


def test_a_huge_target_in_the_test_file_is_refused(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    write_table(data_root / "train.csv", y=np.linspace(1.0, 2.0, 60))
    write_table(data_root / "test.csv", rows=20, y=[1e308] * 20)
    body = job("train.csv", target="y", task="regression", metric="mae", test_dataset="test.csv")
    error = refuse(client, settings, body, "column 'y'", "too large")
    assert error["details"][0]["loc"] == ["body", "test_dataset"]


def test_an_infinite_regression_target_names_its_column(
    client: TestClient, settings: Settings, data_root: Path
) -> None:
    values = np.linspace(1.0, 2.0, 60)
    values[3] = np.inf
    write_table(data_root / "inf.csv", y=values)
    body = job("inf.csv", target="y", task="regression", metric="mae")
    refuse(client, settings, body, "column 'y'", "1 infinite values")


@pytest.mark.parametrize("k", [3, 4, 100])
def test_top_k_accuracy_with_k_not_below_the_classes_is_refused(
    client: TestClient, settings: Settings, k: int
) -> None:
    body = {"dataset": "builtin:wine", "metric": {"name": "top_k_accuracy", "params": {"k": k}}}
    error = refuse(client, settings, body, f"k={k}", "the target has 3 classes", "always 1.0")
    assert error["details"][0]["loc"] == ["body", "metric"]


def test_top_k_accuracy_below_the_classes_is_accepted(client: TestClient) -> None:
    body = {"dataset": "builtin:wine", "metric": {"name": "top_k_accuracy", "params": {"k": 2}}}
    assert client.post("/v1/jobs", json=body).status_code == 202


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
        ({"metric": {"name": "f1", "params": {f"p{i}": 1 for i in range(11)}}}, "metric.object"),
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
    from service.main import create_app

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
