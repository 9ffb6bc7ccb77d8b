"""Starting the service: ``up`` (API and one worker), ``api``, ``worker``, ``migrate``.

``loss-search up`` is the one-command start: it migrates the database, starts the API and one
worker process on the configured (by default embedded) database and broker, prints the URL and
whether requests need a key, and stops both on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Annotated

import typer

from service.auth.exposure import ExposedWithoutAuth, check_exposure, describe, is_loopback
from service.db.api_keys import active_keys
from service.db.migrate import upgrade_database
from service.db.session import session_scope
from service.settings import Settings, get_settings

logger = logging.getLogger("loss_search")

# prometheus_client's multiprocess mode: every process writes its metrics into files there.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The worker is started by module path, so the service never imports worker code.
WORKER_APP = "workers.celery_app"


def worker_command(settings: Settings, name: str = "worker") -> list[str]:
    """The command line of one Celery worker process (one training slot)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "--app",
        WORKER_APP,
        "worker",
        "--queues",
        settings.queue_name,
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


def api_command(settings: Settings) -> list[str]:
    """The command line of the API server (``api_workers`` processes on one port)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "service.main:create_app",
        "--factory",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
        "--workers",
        str(settings.resolved_api_workers),
        "--access-log" if settings.api_access_log else "--no-access-log",
    ]


def migrate(settings: Settings) -> None:
    """Create or upgrade the database tables."""
    upgrade_database(settings.resolved_database_url)


def count_keys(settings: Settings) -> int:
    """How many API keys are active (not revoked)."""
    with session_scope(settings.resolved_database_url, settings.database_pool) as session:
        return active_keys(session=session)


def refuse_if_exposed(settings: Settings) -> None:
    """Exit (code 2) rather than serve a non-loopback address with auth off by default."""
    if is_loopback(settings.api_host):
        return
    try:
        check_exposure(settings, count_keys(settings))
    except ExposedWithoutAuth as exc:
        typer.echo(f"loss-search: {exc}", err=True)
        raise typer.Exit(2) from None


def children_environment(settings: Settings) -> dict[str, str]:
    """The API's and the worker's environment: with a shared Prometheus multiprocess directory
    (a fresh one under the data directory unless one is set), so that the API's /metrics adds
    up the worker's counts too."""
    env = dict(os.environ)
    if not env.get(MULTIPROC_ENV):
        path = settings.resolved_data_dir / "metrics"
        shutil.rmtree(path, ignore_errors=True)  # the files of an earlier run's processes
        path.mkdir()
        env[MULTIPROC_ENV] = str(path)
    return env


def run_up(settings: Settings) -> int:
    """Run the API and one worker until Ctrl-C or until either stops."""
    migrate(settings)
    refuse_if_exposed(settings)
    url = f"http://{settings.api_host}:{settings.api_port}"
    env = children_environment(settings)
    children = {
        "api": subprocess.Popen(api_command(settings), env=env),
        "worker": subprocess.Popen(worker_command(settings), env=env),
    }
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    announced = False
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    logger.error("%s exited with code %s; stopping", name, child.returncode)
                    exit_code = child.returncode or 1
                    stopping = True
            if not announced and _healthy(url):
                print(
                    f"loss-search is up: {url}  (API docs: {url}/docs; Ctrl-C stops it)", flush=True
                )
                print(describe(settings, count_keys(settings)), flush=True)
                announced = True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    return exit_code


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def up() -> None:
    """Migrate, then run the API and one worker (Ctrl-C stops both)."""
    raise typer.Exit(run_up(get_settings()))


def api() -> None:
    """Run the API server."""
    settings = get_settings()
    refuse_if_exposed(settings)
    _replace_process(api_command(settings))


def worker(
    name: Annotated[
        str, typer.Option(help="worker name (several per host need distinct names)")
    ] = "worker",
) -> None:
    """Run one worker process."""
    _replace_process(worker_command(get_settings(), name))


def migrate_command() -> None:
    """Create or upgrade the database tables."""
    migrate(get_settings())


def _replace_process(command: list[str]) -> None:
    os.execv(command[0], command)  # replace this process: signals reach the server directly


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loss-search`` command."""
    app.command()(up)
    app.command()(api)
    app.command()(worker)
    app.command("migrate")(migrate_command)
