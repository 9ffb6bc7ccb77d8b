"""How bench.load turns wrk's report line and the submitters' outcomes into figures."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load_clients import Outcome, percentile
from bench.load_report import BackendReport, RouteFigures, ScalingRound
from bench.load_wrk import parse_report, wrk_command

REPORT = (
    "Running 30s test @ http://127.0.0.1:8000/v1/jobs/x\n"
    "wrk-report duration_us=2000000 responses=10 late=2 connect_errors=1 read_errors=2 "
    "write_errors=0 in_time=8 p50_us=1500 p95_us=9000 p99_us=12000.5 max_us=14000 c2xx=6 "
    "c3xx=1 c4xx=2 c5xx=1 cother=0 in_flight=4 stuck=3\n"
)


def test_the_report_line_gives_counts_and_milliseconds() -> None:
    result = parse_report(REPORT)
    assert (result.responses, result.ok, result.client_errors, result.server_errors) == (
        10,
        6,
        2,
        1,
    )
    assert (result.other, result.socket_errors, result.unanswered) == (1, 3, 4)
    assert result.timeouts == 5  # two late answers and three requests never answered
    assert result.errors == 2 + 1 + 1 + 3
    assert result.ok_per_s == 3.0
    assert (result.p50_ms, result.p99_ms) == (1.5, 12.0005)


def test_no_answer_in_time_means_no_latency() -> None:
    text = REPORT.replace("p50_us=1500", "p50_us=-1").replace("max_us=14000", "max_us=-1")
    result = parse_report(text)
    assert result.p50_ms is None
    assert result.max_ms is None


def test_a_missing_report_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="wrk-report"):
        parse_report("unable to connect to 127.0.0.1:1 Connection refused\n")


def _closed_loop(ok_per_s: float) -> str:
    ok = round(ok_per_s * 2)  # the report's runs last 2 s
    return REPORT.replace("c2xx=6", f"c2xx={ok}")


def test_the_scaling_ratio_is_the_median_of_the_rounds() -> None:
    rounds = [
        ScalingRound(low=parse_report(_closed_loop(low)), high=parse_report(_closed_loop(high)))
        for low, high in ((100, 70), (100, 90), (50, 45), (100, 95))
    ]
    report = BackendReport(name="postgres", machine="m", load_before="0")
    report.scaling.extend(rounds[:3])
    assert report.ratio == pytest.approx(0.9)  # of 0.7, 0.9 and 0.9
    report.scaling.append(rounds[3])
    assert report.ratio == pytest.approx(0.9)  # of 0.7, 0.9, 0.9, 0.95: between the middle two


def test_a_round_without_2xx_at_the_low_count_gives_no_ratio() -> None:
    silent = ScalingRound(low=parse_report(_closed_loop(0)), high=parse_report(_closed_loop(5)))
    report = BackendReport(name="embedded", machine="m", load_before="0")
    report.scaling.append(silent)
    assert silent.ratio is None
    assert report.ratio is None


def test_invalid_bodies_must_be_refused_and_valid_ones_accepted() -> None:
    invalid = [
        Outcome(False, 422, 0.01, None, None),
        Outcome(False, 202, 0.02, "job-1", None),  # accepted although invalid: an error
        Outcome(False, None, 15.0, None, "timeout"),
    ]
    figures = RouteFigures.from_outcomes("POST /v1/jobs (invalid)", "2", invalid, duration_s=2)
    assert (figures.expected_4xx, figures.count_2xx, figures.errors) == (1, 1, 1)
    assert figures.timeouts == 1
    assert figures.expected_per_s == 0.5
    valid = [Outcome(True, 202, 0.01, "a", None), Outcome(True, 422, 0.01, None, None)]
    figures = RouteFigures.from_outcomes("POST /v1/jobs (valid)", "2", valid, duration_s=1)
    assert (figures.unexpected_4xx, figures.errors, figures.expected_per_s) == (1, 1, 1.0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None


class _Teapot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418 if self.path == "/teapot" else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Teapot)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_lua_script_counts_statuses_against_a_real_server(server: str) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("LOSS_SEARCH_REQUIRE_SERVICES") == "1":
            pytest.fail("wrk is not installed, and CI requires this test to run")
        pytest.skip("wrk is not installed")
    command = wrk_command(f"{server}/teapot", connections=2, duration_s=1, timeout_s=5)
    output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    result = parse_report(output.stdout)
    assert result.responses > 0
    assert result.client_errors == result.responses
    assert result.ok == result.timeouts == 0
