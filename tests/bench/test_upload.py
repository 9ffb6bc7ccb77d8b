"""bench.upload at a tiny size: its file, its memory sampling, and the four cases end to end
against the real API process (so the benchmark does not rot)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest

from bench.upload import generate_csv, main, parse_args, tree_rss_bytes


def test_the_defaults_are_a_gibibyte_and_a_hundred_mebibyte_limit() -> None:
    args = parse_args([])
    assert (args.size_mb, args.columns, args.limit_mb, args.interval_ms) == (1024, 20, 100, 50)


@pytest.mark.parametrize("argv", [["--size-mb", "0"], ["--size-mb", "10", "--limit-mb", "10"]])
def test_nonsense_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_the_file_has_the_size_rows_and_hash_it_reports(tmp_path: Path) -> None:
    data = generate_csv(tmp_path / "f.csv", 1 << 20, numeric=3, seed=0)
    content = data.path.read_bytes()
    assert data.size == len(content) >= 1 << 20
    assert data.sha256 == hashlib.sha256(content).hexdigest()
    read = pa_csv.read_csv(data.path)
    assert read.num_rows == data.rows
    assert read.column_names == ["x0", "x1", "x2", "region", "label"]
    assert set(read["label"].to_pylist()) == {0, 1}


def test_this_process_has_resident_memory() -> None:
    assert tree_rss_bytes(os.getpid()) > 1 << 20
    assert tree_rss_bytes(2**22 + 1) == 0  # no such process


def test_a_small_upload_is_stored_deduplicated_and_refused_over_the_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = main(["--size-mb", "3", "--columns", "4", "--limit-mb", "1"])
    assert [o.status for o in outcomes] == ["201", "200", "202", "202", "413", "413"]
    assert outcomes[0].body is not None
    assert isinstance(outcomes[0].body["rows"], int)
    assert outcomes[0].body["rows"] > 0
    assert all(o.rss_peak >= o.rss_before > 0 for o in outcomes)
    printed = capsys.readouterr().out
    assert "| upload (Content-Length) | 201 |" in printed
    assert "UNEXPECTED" not in printed
