"""The service under load in ``bench.load``: the API and one worker as real processes.

Each backend gets fresh state that is removed afterwards, also on Ctrl-C or an error: a
temporary data directory (the embedded SQLite database and broker live there), or a new
PostgreSQL database and an empty Redis database (flushed afterwards). The processes are started
through the project's CLI, the way ``make up`` and the end-to-end tests start them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from psycopg import sql

from bench.common import BENCH_DATASETS
from service.settings import Settings

SHIELDED = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ServiceOptions:
    """How to start the service for one backend."""

    backend: str  # "embedded" or "postgres"
    port: int
    api_workers: int | None
    postgres_admin_url: str
    redis_url: str
    settings: dict[str, str] = field(default_factory=dict)  # NAME -> value, LOSS_SEARCH_ implied


@dataclass(frozen=True)
class RunningService:
    """A started API and worker: where to reach them and where their state is."""

    url: str
    database_url: str
    workdir: Path


@contextmanager
def running_service(options: ServiceOptions) -> Iterator[RunningService]:
    """Start the API and one worker on fresh state; stop and remove everything on exit."""
    with ExitStack() as cleanup:
        # Restored last: a second Ctrl-C (or SIGTERM) during the cleanup must not cut it short.
        for sig in SHIELDED:
            cleanup.callback(signal.signal, sig, signal.getsignal(sig))
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="loadbench-")))
        database_url, broker_url = cleanup.enter_context(_backend_state(options))
        env = service_env(options, workdir, database_url, broker_url)
        settings = Settings(_env_file=None, data_dir=workdir / "state", database_url=database_url)
        _migrate(env, workdir)
        for name, args in (("api", ["api"]), ("worker", ["worker", "--name", "loadbench"])):
            cleanup.enter_context(_process(name, args, env, workdir))
        cleanup.callback(say, "stopping the service and removing its state")
        for sig in SHIELDED:
            cleanup.callback(signal.signal, sig, signal.SIG_IGN)  # runs first on the way out
        service = RunningService(
            f"http://127.0.0.1:{options.port}", settings.resolved_database_url, workdir
        )
        _wait_ready(service)
        yield service


def service_env(
    options: ServiceOptions, workdir: Path, database_url: str | None, broker_url: str | None
) -> dict[str, str]:
    """The environment of the service's processes: this one's, minus any service settings, plus
    the benchmark's (one torch thread, so the worker leaves a core to the API)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOSS_SEARCH_")}
    env.pop("DATABASE_URL", None)
    env.pop("BROKER_URL", None)
    env.update(
        {
            "LOSS_SEARCH_DATA_DIR": str(workdir / "state"),
            "LOSS_SEARCH_DATA_ROOTS": BENCH_DATASETS,
            "LOSS_SEARCH_API_PORT": str(options.port),
            "LOSS_SEARCH_QUEUE_NAME": f"loadbench-{uuid.uuid4().hex[:8]}",
            "LOSS_SEARCH_TORCH_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if options.api_workers is not None:
        env["LOSS_SEARCH_API_WORKERS"] = str(options.api_workers)
    env.update({f"LOSS_SEARCH_{name}": value for name, value in options.settings.items()})
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if broker_url is not None:
        env["BROKER_URL"] = broker_url
    return env


@contextmanager
def _backend_state(options: ServiceOptions) -> Iterator[tuple[str | None, str | None]]:
    """The database and broker URLs; None means the embedded default in the data directory."""
    if options.backend == "embedded":
        yield None, None
        return
    with (
        _postgres_database(options.postgres_admin_url) as database,
        _redis_database(options.redis_url) as broker,
    ):
        yield database, broker


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    """A new, uniquely named database, dropped (connections and all) afterwards."""
    name = f"loadbench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def _redis_database(url: str) -> Iterator[str]:
    """A Redis database that must be empty (so flushing it afterwards loses nobody's data)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    keys = client.dbsize()
    if keys:
        raise RuntimeError(
            f"Redis database {url} holds {keys} keys; give an empty one with --redis-url"
        )
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def _migrate(env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loss-search migrate failed:\n{done.stderr[-3000:]}")


@contextmanager
def _process(
    name: str, args: list[str], env: dict[str, str], workdir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``loss-search <args>`` in its own process group, logging to ``<name>.log``; the whole
    group is stopped on exit (uvicorn and Celery may have children)."""
    with (workdir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            env=env,
            cwd=workdir,  # no stray .env file is read from here
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us only; we stop it
        )
        try:
            yield process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    # A worker in the middle of a job waits for it on SIGTERM (warm shutdown); the grace period
    # bounds that, and the job's state is thrown away with the database anyway.
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 30.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(service: RunningService, timeout_s: float = 180) -> None:
    """Wait until ``/readyz`` says the database and broker are reachable."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{service.url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API was not ready after {timeout_s:.0f}s:\n{logs(service)}")


def say(message: str) -> None:
    """Progress, on stderr, so that stdout holds only the tables."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def logs(service: RunningService, tail_chars: int = 3000) -> str:
    """The end of each process log, for error messages."""
    parts = [
        f"--- {log.name} ---\n{log.read_text(errors='replace')[-tail_chars:]}"
        for log in sorted(service.workdir.glob("*.log"))
    ]
    return "\n".join(parts)
