"""The API under load: a storm of pollers and submitters, then GET /v1/jobs/{id} at 10 and 200
connections, on the embedded backend and on PostgreSQL + Redis.

    python -m bench.load [--backend embedded --backend postgres] [--duration 60]
                         [--pollers 200] [--submitters 50] [--api-workers N] [--port P]
                         [--scaling-rounds 3] [--scaling-duration 30]

Per backend it starts the API and one Celery worker as real processes on fresh state, submits a
long job (page_blocks0, f1, 2,000 trials, the most a job may ask for: it must still be
training when the last phase ends, so that every phase measures the API beside a busy worker;
the summary says whether it was) and waits until it runs with some trials done. Then:

1. Storm, for --duration seconds: wrk polls GET /v1/jobs/{id} and GET /v1/jobs/{id}/trials
   (--pollers connections, half each, each waiting --poll-interval between its polls as a
   pipeline does), an open-loop probe times GET /healthz, and --submitters Python clients POST
   jobs, 3 in 7 valid (must be 202), the rest invalid (must be 4xx). Afterwards, once the API
   has worked off its backlog: is every 202 listed by GET /v1/jobs, and is there any job in the
   database that no client got a 202 for?
2. Polling: --pollers pollers of GET /v1/jobs/{id}, paced to offer --poll-rate requests/s in
   all: the throughput and latency a fleet of pollers gets (the ≥ 500/s, p99 ≤ 100 ms target).
3. Scaling: GET /v1/jobs/{id} at 10 and at 200 connections (closed loop, --scaling-duration
   each), --scaling-rounds times, alternating which count goes first: does throughput hold as
   connections grow? The ratio is the median of the rounds' ratios, because this machine's
   load drifts between runs. A closed loop keeps every connection busy, so its latency is
   connections / throughput (Little's law: 200 / 700 per s ≈ 0.29 s) whatever the server does;
   latency targets are read from the paced phase.

Client timeout 15 s: a request answered later, or still unanswered after 15 s when wrk stops,
is a timeout ("unanswered at end" counts every request still waiting then, at most one per
connection, so it is near the connection count when wrk stops in the middle of healthy traffic).
Prints one set of markdown tables per backend and a summary with the targets.
Needs wrk (apt-get install wrk); --backend postgres needs PostgreSQL and an empty Redis database.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

import httpx

from bench.common import machine
from bench.load_checks import check_storm
from bench.load_clients import Outcome, run_clients
from bench.load_report import (
    SCALING_CONNECTIONS,
    BackendReport,
    RouteFigures,
    ScalingRound,
    backend_tables,
    summary_table,
)
from bench.load_service import RunningService, ServiceOptions, logs, running_service, say
from bench.load_wrk import WrkResult, finish, started_wrk, wrk_command
from workers.engine.spec_fields import MAX_TRIALS

CLIENT_TIMEOUT_S = 15.0
HEALTH_PROBE_EVERY_S = 0.25
SETTLE_LIMIT_S = 600.0  # how long the API may take to work off a backlog before we go on
WARM_TRIALS = 10  # the long job must have finished this many trials before the storm


def long_job(trials: int) -> dict[str, Any]:
    """The job that runs while the API is under load (its trials are what the reads return)."""
    return {"dataset": "page_blocks0.csv.gz", "metric": "f1", "budget": {"n_trials": trials}}


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.upper().removeprefix("LOSS_SEARCH_"), value


def run_backend(args: argparse.Namespace, name: str) -> BackendReport:
    """Start the service on ``name``, run the storm and the scaling runs, return the figures."""
    report = BackendReport(name=name, machine=machine(), load_before=_load())
    options = ServiceOptions(
        name,
        args.port or _free_port(),
        args.api_workers,
        args.postgres_url,
        args.redis_url,
        settings=dict(args.settings),
    )
    say(f"{name}: starting the API and a worker")
    with running_service(options) as service:
        try:
            job_id = _submit(service.url, long_job(args.trials))
            say(f"{name}: waiting for the long job to finish {WARM_TRIALS} trials")
            report.job["before the storm"] = _state(_wait_running(service.url, job_id))
            say(f"{name}: storm for {args.duration:.0f} s")
            outcomes = storm(args, service, job_id, report)
            report.job["after the storm"] = _settle(service.url, job_id, report, "storm")
            say(f"{name}: checking the jobs against the 202s")
            report.checks = check_storm(service.url, service.database_url, outcomes, job_id)
            say(f"{name}: {args.pollers} paced pollers for {args.duration:.0f} s")
            report.polling = paced_polling(service, job_id, args)
            report.job["after polling"] = _settle(service.url, job_id, report, "polling")
            for number in range(1, args.scaling_rounds + 1):
                report.scaling.append(scaling_round(service, job_id, number, args, report))
        except Exception:
            print(logs(service), file=sys.stderr, flush=True)
            raise
    report.load_after = _load()
    return report


def storm(
    args: argparse.Namespace, service: RunningService, job_id: str, report: BackendReport
) -> list[Outcome]:
    """Pollers, submitters and the /healthz probe at once; fills ``report.storm``."""
    job_url = f"{service.url}/v1/jobs/{job_id}"
    # (log name, route, url, connections)
    polls = [
        ("job", "GET /v1/jobs/{id}", job_url, args.pollers - args.pollers // 2),
        ("trials", "GET /v1/jobs/{id}/trials", f"{job_url}/trials", args.pollers // 2),
    ]
    pause_ms = round(args.poll_interval * 1000)
    with ExitStack() as running:
        runs = [
            running.enter_context(
                started_wrk(
                    wrk_command(url, clients, args.duration, CLIENT_TIMEOUT_S, pause_ms),
                    service.workdir / f"storm-{name}.log",
                )
            )
            for name, _, url, clients in polls
        ]
        clients = run_clients(
            service.url, args.submitters, args.duration, CLIENT_TIMEOUT_S, HEALTH_PROBE_EVERY_S
        )
        results = [finish(run) for run in runs]
    for (_, route, _, connections), result in zip(polls, results, strict=True):
        report.storm.append(RouteFigures.from_wrk(route, str(connections), result))
    shared = f"{args.submitters}, shared"
    for valid, label in ((True, "valid"), (False, "invalid")):
        mine = [o for o in clients.posts if o.valid is valid]
        route = f"POST /v1/jobs ({label})"
        report.storm.append(RouteFigures.from_outcomes(route, shared, mine, args.duration))
    probe = f"open loop, every {HEALTH_PROBE_EVERY_S * 1000:.0f} ms"
    report.storm.append(
        RouteFigures.from_outcomes("GET /healthz", probe, clients.probes, args.duration)
    )
    return clients.posts


def paced_polling(service: RunningService, job_id: str, args: argparse.Namespace) -> WrkResult:
    """GET /v1/jobs/{id} from ``--pollers`` clients, each pausing between polls so that all of
    them together offer about ``--poll-rate`` requests per second."""
    pause_ms = max(1, round(1000 * args.pollers / args.poll_rate))
    command = wrk_command(
        f"{service.url}/v1/jobs/{job_id}", args.pollers, args.duration, CLIENT_TIMEOUT_S, pause_ms
    )
    with started_wrk(command, service.workdir / "polling.log") as run:
        return finish(run, grace_s=args.duration + 30)


def scaling_round(
    service: RunningService,
    job_id: str,
    number: int,
    args: argparse.Namespace,
    report: BackendReport,
) -> ScalingRound:
    """One closed-loop run at each connection count. Even rounds start with the high count,
    so a drift in the machine's load does not favour one count in every round."""
    order = SCALING_CONNECTIONS if number % 2 else SCALING_CONNECTIONS[::-1]
    results: dict[int, WrkResult] = {}
    for connections in order:
        say(f"{report.name}: round {number}, {connections} connections for {args.scaling_s:.0f} s")
        results[connections] = closed_loop(service, job_id, connections, number, args)
        phase = f"round {number}, {connections} connections"
        report.job[f"after {phase}"] = _settle(service.url, job_id, report, phase)
    low, high = SCALING_CONNECTIONS
    return ScalingRound(low=results[low], high=results[high])


def closed_loop(
    service: RunningService,
    job_id: str,
    connections: int,
    number: int,
    args: argparse.Namespace,
) -> WrkResult:
    """GET /v1/jobs/{id} from ``connections`` clients, each sending its next request as soon as
    the previous one is answered."""
    command = wrk_command(
        f"{service.url}/v1/jobs/{job_id}", connections, args.scaling_s, CLIENT_TIMEOUT_S
    )
    log = service.workdir / f"scaling-{number}-{connections}.log"
    with started_wrk(command, log) as run:
        return finish(run, grace_s=args.scaling_s + 30)


def _submit(url: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{url}/v1/jobs", json=body, timeout=120)
    if response.status_code != 202:
        raise RuntimeError(f"the long job was refused: {response.status_code} {response.text}")
    return str(response.json()["id"])


def _wait_running(url: str, job_id: str, timeout_s: float = 600) -> dict[str, Any]:
    """The job once it runs and has finished some trials (the reads have something to read)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=60).json()
        if job["status"] not in ("queued", "running"):
            raise RuntimeError(f"the long job ended before the storm: {job['status']}")
        if job["status"] == "running" and job["progress"]["finished"] >= WARM_TRIALS:
            return job
        time.sleep(1)
    raise RuntimeError(f"the long job had not finished {WARM_TRIALS} trials in {timeout_s:.0f}s")


def _settle(url: str, job_id: str, report: BackendReport, phase: str) -> str:
    """Wait until the API has worked off the requests queued during ``phase``: one more GET
    waits behind them. Records how long that took; returns the long job's state."""
    say(f"waiting for the API to work off its backlog after the {phase}")
    started = time.monotonic()
    while (waited := time.monotonic() - started) < SETTLE_LIMIT_S:
        try:
            response = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=SETTLE_LIMIT_S - waited)
        except httpx.HTTPError:
            time.sleep(1)
            continue
        if response.status_code == 200:
            report.drained_s[phase] = time.monotonic() - started
            time.sleep(2)  # requests that were mid-flight behind ours (a POST's commit) land
            return _state(response.json())
        time.sleep(1)
    report.drained_s[phase] = None
    return "unknown (the API did not answer)"


def _state(job: dict[str, Any]) -> str:
    progress = job["progress"]
    return f"{job['status']}, {progress['finished']}/{progress['planned']} trials finished"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _revision() -> str:
    """The commit of the code under test, and whether the service's code differs from it."""
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "service", "workers", "migrations"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = " with uncommitted changes to the service" if changed.stdout.strip() else ""
    return (head.stdout.strip() or "unknown") + dirty


def _interrupted(signum: int, _frame: object) -> NoReturn:
    # SIGTERM takes the same way out as Ctrl-C, through every cleanup on the stack.
    raise KeyboardInterrupt


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", action="append", choices=["embedded", "postgres"])
    parser.add_argument("--duration", type=float, default=60, help="seconds per phase")
    parser.add_argument(
        "--scaling-rounds", type=int, default=3,
        help="closed-loop rounds (10 and 200 connections each); the ratio is their median",
    )  # fmt: skip
    parser.add_argument(
        "--scaling-duration", dest="scaling_s", type=float, default=30,
        help="seconds per closed-loop run",
    )  # fmt: skip
    parser.add_argument("--pollers", type=int, default=200, help="wrk connections in the storm")
    parser.add_argument("--submitters", type=int, default=50, help="concurrent POST clients")
    parser.add_argument(
        "--poll-interval", type=float, default=0.4,
        help="seconds a storm poller waits between its polls",
    )  # fmt: skip
    parser.add_argument(
        "--poll-rate", type=float, default=550,
        help="requests/s all pollers offer together in the polling phase",
    )  # fmt: skip
    parser.add_argument("--api-workers", type=int, help="passed as LOSS_SEARCH_API_WORKERS")
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument(
        "--set",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting for the API and the worker, e.g. API_THREADS=4 "
        "(becomes LOSS_SEARCH_API_THREADS); repeatable",
    )
    parser.add_argument("--trials", type=int, default=MAX_TRIALS, help="budget of the long job")
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin connection; a database is created and dropped",
    )  # fmt: skip
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/11",
        help="an empty Redis database; flushed afterwards",
    )  # fmt: skip
    args = parser.parse_args()
    if args.pollers < 2 or args.submitters < 1 or args.duration < 1 or args.scaling_s < 1:
        parser.error(
            "--pollers must be at least 2, --submitters at least 1, "
            "--duration and --scaling-duration 1 s"
        )
    if args.scaling_rounds < 1:
        parser.error("--scaling-rounds must be at least 1")
    if min(args.duration, args.scaling_s) <= CLIENT_TIMEOUT_S:
        # A request can only be seen waiting past the timeout in a run longer than it.
        print(
            f"note: with a phase of {CLIENT_TIMEOUT_S:.0f} s or less, unanswered requests are not "
            "timeouts yet; see the 'unanswered at end' column",
            file=sys.stderr,
        )
    return args


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    backends = list(dict.fromkeys(args.backend or ["embedded", "postgres"]))
    revision = _revision()  # before the run: the tables describe the code that was measured
    reports = [run_backend(args, name) for name in backends]
    print(f"\n## bench.load, commit {revision}, {datetime.date.today().isoformat()}\n")
    print(
        f"{args.pollers} pollers (storm: {args.poll_interval:g} s between polls; polling phase: "
        f"{args.poll_rate:g} requests/s offered), {args.submitters} submitters, "
        f"{args.duration:.0f} s per phase, {args.scaling_rounds} scaling rounds of "
        f"{args.scaling_s:.0f} s per run, "
        f"client timeout {CLIENT_TIMEOUT_S:.0f} s, long job {long_job(args.trials)}, "
        f"LOSS_SEARCH_API_WORKERS={args.api_workers or 'unset'}"
        + "".join(f", LOSS_SEARCH_{name}={value}" for name, value in args.settings)
        + "\n"
    )
    for report in reports:
        print(backend_tables(report, args.duration, args.scaling_s) + "\n")
    print("### Summary\n\n" + summary_table(reports))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; everything the benchmark started is stopped", file=sys.stderr)
        sys.exit(130)
