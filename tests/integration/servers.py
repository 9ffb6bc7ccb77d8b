"""Private PostgreSQL and Redis servers for fault tests, on free ports in a test's own folder.

Fault tests stop and restart the database or the broker; they must never touch the machine's
own services, so each test starts its own: a PostgreSQL cluster made with ``initdb`` (run as
the ``postgres`` user when the tests run as root, which PostgreSQL refuses) and a
``redis-server`` that keeps nothing on disk.

:func:`private_stack` runs the API on both, and :func:`fault_outcome` reads what a job looks like
after a fault (the fault tests and ``bench/chaos.py`` share them).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.integration.harness import (
    Answer,
    Backend,
    Service,
    free_port,
    job_now,
    read_json,
    recording_client,
    trials_by_number,
    wait_for,
    worker_holding,
)

END_STATES = ("succeeded", "failed", "cancelled")


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl live (Debian keeps them off PATH)."""
    found = shutil.which("pg_config")
    if found is None:
        raise RuntimeError("pg_config is not on PATH: install PostgreSQL's server package")
    out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust authentication, loopback only).

    Its folder is made under the system's temporary directory, not under pytest's: the
    ``postgres`` user must be able to reach it, and pytest's folders are private to root.
    """

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loss-search-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*_as_postgres_user(), str(postgres_bindir() / args[0]), *args[1:]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def create(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A throw-away redis-server that keeps nothing on disk (a restart loses every message)."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.root)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._up, 30, "the private redis-server")
        return self

    def _up(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@dataclass
class PrivateStack:
    """The API (and the workers a test starts) on a private PostgreSQL and a private Redis."""

    postgres: PrivatePostgres
    redis: PrivateRedis
    service: Service

    def start_workers(self, *names: str) -> None:
        """Start these workers and wait until each consumes from the queue."""
        for name in names:
            self.service.start_worker(name)
        for name in names:
            self.service.wait_worker_ready(name)

    def logs(self) -> str:
        """The service's logs and the end of PostgreSQL's."""
        log = self.postgres.root / "postgres.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        return f"{self.service.logs()}\n--- postgres.log ---\n{tail}"


@contextlib.contextmanager
def private_stack(workdir: Path) -> Iterator[PrivateStack]:
    """Start a private PostgreSQL and Redis and the API on them (no worker); stop all after.

    The service runs with the harness's short recovery intervals (``FAST_RECOVERY``). Redis
    logs into ``workdir`` beside the API and workers, so ``service.logs()`` shows it too.
    """
    postgres = PrivatePostgres().create()
    redis = PrivateRedis(workdir)
    service: Service | None = None
    try:
        redis.start()
        backend = Backend("private", postgres.url, redis.url, f"faults-{uuid.uuid4().hex[:8]}")
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        service = Service(backend=backend, workdir=workdir, data_root=workdir / "data")
        service.start(worker=False)
        yield PrivateStack(postgres, redis, service)
    finally:
        if service is not None:
            service.stop()
        redis.stop()
        postgres.destroy()


@dataclass
class FaultOutcome:
    """How a job came out of a fault: what the issue's checks look at."""

    status: str
    budget: int
    states: dict[str, int]  # trial records by state
    completed_lost: list[str]  # trials complete before the fault, now missing or changed
    baseline: bool  # GET /best names a baseline
    unacceptable: list[Answer]  # 5xx other than 503 + Retry-After, and requests never answered
    wall_s: float
    error: str | None = None

    @property
    def budget_met(self) -> bool:
        return self.states.get("complete", 0) + self.states.get("pruned", 0) == self.budget

    @property
    def left_running(self) -> int:
        return self.states.get("running", 0)

    def summary(self) -> str:
        return (
            f"status={self.status} error={self.error!r} budget={self.budget} "
            f"states={self.states} completed_lost={self.completed_lost} "
            f"baseline={self.baseline} unacceptable={[str(a) for a in self.unacceptable[:10]]}"
        )


def completed_trials(trials: dict[int, dict[str, Any]] | None) -> dict[int, Any]:
    """The value of every complete trial, by trial number."""
    return {n: t["value"] for n, t in (trials or {}).items() if t["state"] == "complete"}


def fault_outcome(
    client: httpx.Client,
    job_id: str,
    before: dict[int, Any],
    answers: list[Answer],
    started: float,
) -> FaultOutcome:
    """Read the job after a fault and compare its trials with ``before`` (complete ones)."""
    job = wait_for(lambda: job_now(client, job_id), 60, "the job view after the fault")
    trials = wait_for(lambda: trials_by_number(client, job_id), 60, "the trials after the fault")
    states: dict[str, int] = {}
    for trial in trials.values():
        states[trial["state"]] = states.get(trial["state"], 0) + 1
    lost = []
    for number, value in sorted(before.items()):
        now = trials.get(number)
        if now is None or now["state"] != "complete" or now["value"] != value:
            found = None if now is None else (now["state"], now["value"])
            lost.append(f"trial {number}: complete {value} before, {found} after")
    best = read_json(client, f"/v1/jobs/{job_id}/best")
    return FaultOutcome(
        status=job["status"],
        budget=job["progress"]["planned"],
        states=states,
        completed_lost=lost,
        baseline=best is not None and best.get("baseline") is not None,
        unacceptable=[answer for answer in answers if not answer.acceptable()],
        wall_s=time.monotonic() - started,
        error=job["error"],
    )


def kill_a_shard_holder(
    service: Service, client: httpx.Client, job_id: str, min_complete: int, timeout: float = 240
) -> tuple[str, dict[int, Any]]:
    """Once ``min_complete`` trials are complete and a worker of ``service`` runs a shard of the
    job, SIGKILL that worker; return its name and the trials that were complete just before."""

    def holder() -> str | None:
        job = job_now(client, job_id, "running")
        if job is None or job["progress"]["complete"] < min_complete:
            return None
        return next(filter(None, (worker_holding(service, s) for s in job["shards"])), None)

    name = wait_for(holder, timeout, f"{min_complete} complete trials and a shard holder", 0.1)
    before = completed_trials(trials_by_number(client, job_id))
    service.kill_worker(name)
    return name, before


def shard_kill_job(shards: int, n_trials: int = 16, seed: int = 7) -> dict[str, Any]:
    """A small job split into ``shards`` shards, long enough to kill a worker in the middle."""
    return {
        "dataset": "builtin:breast_cancer",
        "metric": "f1",
        "budget": {"n_trials": n_trials},
        "seed": seed,
        "parallelism": {"shards": shards, "population_size": 2},
        "confirmation": {"top_k": 1, "seeds": 2, "seeds_per_fold": 2},
    }


def shard_kill_run(
    stack: PrivateStack, shards: int, n_trials: int = 16, seed: int = 7, timeout: float = 300
) -> FaultOutcome:
    """The chaos case: two workers, a job of ``shards`` shards; once two trials are complete,
    SIGKILL the worker holding a running shard, start no other, and wait for the job to end.

    A job that does not end within ``timeout`` comes back with its last status (``running``).
    """
    stack.start_workers("worker-1", "worker-2")
    answers: list[Answer] = []
    with recording_client(stack.service, answers) as api:
        started = time.monotonic()
        created = api.post("/v1/jobs", json=shard_kill_job(shards, n_trials, seed))
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        _, before = kill_a_shard_holder(stack.service, api, job_id, min_complete=2)
        with contextlib.suppress(AssertionError):  # timed out: the outcome says how it stands
            wait_for(lambda: job_now(api, job_id, *END_STATES), timeout, "the job to end", 0.5)
        return fault_outcome(api, job_id, before, answers, started)
