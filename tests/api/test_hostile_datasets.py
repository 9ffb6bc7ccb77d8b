"""Hostile dataset references and dataset contents get a 422 that names the problem.

Each case here answered 500, or was accepted, before: truncated or mislabelled gzip files,
symlink loops, NUL bytes, names and paths too long for the file system, duplicate column names
(a silent target leak), targets that cannot be standardised or counted, and a top-k metric that
is always 1.0. Nothing is stored for any of them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.api.hostile import job, refuse, write_table

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
