"""Chaos: SIGKILL the worker holding a shard, again and again, and count what the jobs lost.

    python -m bench.chaos [--runs 20] [--shards 1 --shards 2] [--trials 16] [--timeout 300]
                          [--liveness fast|default]

Each run starts, on fresh state, a private PostgreSQL cluster (``initdb`` on a free port) and a
private ``redis-server``, the API and two Celery workers as real processes (the fault tests'
harness, ``tests/integration/servers.py``), submits a small job
of ``--shards`` shards (breast cancer, f1, ``--trials`` trials, populations of 2) and, once two
trials are complete, SIGKILLs the worker holding a running shard. No worker replaces it: the
other must finish the job. Then it reads the job back:

- jobs completed: the job ended ``succeeded`` (within ``--timeout`` seconds of the submit),
- completed trials lost: trials complete just before the kill and missing or changed after,
- budget met: ``complete + pruned`` equals the trial budget,
- baseline present: ``GET /v1/jobs/{id}/best`` names a baseline,
- trials left running: trials still ``running`` once the job ended,
- API errors: answers other than 2xx-4xx and 503 with ``Retry-After``.
- wall time: from the submit until the job ended.

``--liveness fast`` (the default) runs the workers with the fault tests' short heartbeat,
stale-shard and trial-grace times (a dead worker is noticed in about 4 s); ``--liveness
default`` with the service's own defaults (about 30 s, sweeps every 15 s): slower, but the
timing a deployment has.

Prints one markdown table per shard count (the summary, then each run); exits 1 unless every
run met all of them. A run that falls short keeps its folder (process logs) and says where.
Needs PostgreSQL's server binaries (``pg_config --bindir``) and ``redis-server``; run it from
the repository root.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import machine, table
from service.settings import Settings
from tests.integration.harness import FAST_RECOVERY
from tests.integration.servers import FaultOutcome, private_stack, shard_kill_run

SUMMARY_HEADERS = (
    "shards",
    "runs",
    "jobs completed",
    "completed trials lost",
    "budget met",
    "baseline present",
    "trials left running",
    "API errors",
    "wall time median (s)",
    "wall time max (s)",
)
RUN_HEADERS = (
    "run",
    "status",
    "complete",
    "pruned",
    "lost (re-run)",
    "failed",
    "running",
    "completed trials lost",
    "baseline",
    "API errors",
    "wall time (s)",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="SIGKILL the worker holding a shard, again and again; count what was lost.",
    )
    parser.add_argument("--runs", type=int, default=20, help="runs per shard count (20)")
    parser.add_argument(
        "--shards",
        type=int,
        action="append",
        choices=range(1, 65),
        metavar="N",
        help="shard count to try; repeat for several (default: 1 and 2)",
    )
    parser.add_argument("--trials", type=int, default=16, help="trial budget of each job (16)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds a job may take to end (300)"
    )
    parser.add_argument(
        "--liveness",
        choices=("fast", "default"),
        default="fast",
        help="heartbeat, stale-shard and trial-grace times: the tests' short ones (fast) or the "
        "service's defaults",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.trials < 4:
        parser.error("--trials must be at least 4 (two complete before the kill, and more)")
    args.shards = args.shards or [1, 2]
    return args


def liveness_env(liveness: str) -> dict[str, str]:
    """The workers' environment for ``--liveness``: nothing more for ``fast`` (the harness sets
    its short times), the settings' own defaults in place of those for ``default``."""
    if liveness == "fast":
        return {}
    fields = Settings.model_fields
    names = {key: key.removeprefix("LOSS_SEARCH_").lower() for key in FAST_RECOVERY}
    return {
        key: str(fields[name].default)
        for key, name in names.items()
        if name in fields and fields[name].default is not None
    }


def effective_times(liveness: str) -> str:
    """The liveness times the workers run with, for the heading."""
    times = {**FAST_RECOVERY, **liveness_env(liveness)}
    return ", ".join(
        f"{key.removeprefix('LOSS_SEARCH_').lower()}={value}"
        for key, value in times.items()
        if key.endswith("_S")
    )


def good(outcome: FaultOutcome) -> bool:
    """Whether the run met every target of the issue."""
    return (
        outcome.status == "succeeded"
        and not outcome.completed_lost
        and outcome.budget_met
        and outcome.baseline
        and not outcome.left_running
        and not outcome.unacceptable
    )


def summary_row(shards: int, outcomes: Sequence[FaultOutcome]) -> list[object]:
    """One row of the summary table: counts over the runs of one shard count."""
    walls = [o.wall_s for o in outcomes]
    return [
        shards,
        len(outcomes),
        sum(o.status == "succeeded" for o in outcomes),
        sum(len(o.completed_lost) for o in outcomes),
        sum(o.budget_met for o in outcomes),
        sum(o.baseline for o in outcomes),
        sum(o.left_running for o in outcomes),
        sum(len(o.unacceptable) for o in outcomes),
        statistics.median(walls) if walls else 0.0,
        max(walls, default=0.0),
    ]


def run_row(number: int, outcome: FaultOutcome) -> list[object]:
    states = outcome.states
    return [
        number,
        outcome.status,
        *(states.get(state, 0) for state in ("complete", "pruned", "lost", "failed", "running")),
        len(outcome.completed_lost),
        "yes" if outcome.baseline else "no",
        len(outcome.unacceptable),
        outcome.wall_s,
    ]


def report(shards: int, outcomes: Sequence[FaultOutcome]) -> str:
    """The tables of one shard count."""
    runs = [run_row(i, o) for i, o in enumerate(outcomes, start=1)]
    return "\n\n".join(
        [
            f"### shards = {shards}",
            table(SUMMARY_HEADERS, [summary_row(shards, outcomes)]),
            table(RUN_HEADERS, runs),
        ]
    )


def one_run(shards: int, args: argparse.Namespace, label: str) -> FaultOutcome:
    """One kill on fresh servers; the folder is removed unless the run fell short."""
    workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{shards}-"))
    started = time.monotonic()
    try:
        with private_stack(workdir) as stack:
            stack.service.extra_env.update(liveness_env(args.liveness))
            try:
                outcome = shard_kill_run(stack, shards, args.trials, timeout=args.timeout)
            finally:
                (workdir / "stack.log").write_text(stack.logs())
    except Exception as exc:  # e.g. the job failed before two trials completed: not completed
        outcome = FaultOutcome(
            status="harness error",
            budget=args.trials,
            states={},
            completed_lost=[],
            baseline=False,
            unacceptable=[],
            wall_s=time.monotonic() - started,
            error=f"{type(exc).__name__}: {exc}",
        )
    if good(outcome):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        say(f"{label}: fell short ({outcome.summary()}); logs kept in {workdir}")
    return outcome


def say(message: str) -> None:
    """Progress, on stderr, so that stdout holds only the tables."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"# Chaos: SIGKILL of a shard holder\n\n{machine()}\n")
    print(
        f"{args.runs} runs per shard count, {args.trials} trials per job, "
        f"{args.liveness} liveness times: {effective_times(args.liveness)}\n",
        flush=True,
    )
    all_good = True
    for shards in args.shards:
        outcomes = []
        for number in range(1, args.runs + 1):
            label = f"shards={shards} run {number}/{args.runs}"
            outcome = one_run(shards, args, label)
            say(f"{label}: {outcome.status} in {outcome.wall_s:.1f}s")
            outcomes.append(outcome)
        all_good = all_good and all(good(o) for o in outcomes)
        print(report(shards, outcomes) + "\n", flush=True)
    return 0 if all_good else 1


if __name__ == "__main__":
    sys.exit(main())
