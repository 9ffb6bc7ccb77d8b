"""``loss-search``: start the API, a worker, or both; bring the database up to date.

``loss-search up`` is the one-command start: it migrates the database, starts the API and one
worker process on the configured (by default embedded) database and broker, prints the URL, and
stops both on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence

from service.db.migrate import upgrade_database
from service.settings import Settings, get_settings

logger = logging.getLogger("loss_search")

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
    upgrade_database(settings.resolved_database_url)


def up(settings: Settings) -> int:
    """Run the API and one worker until Ctrl-C or until either stops."""
    migrate(settings)
    url = f"http://{settings.api_host}:{settings.api_port}"
    children = {
        "api": subprocess.Popen(api_command(settings)),
        "worker": subprocess.Popen(worker_command(settings)),
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loss-search", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="migrate, then run the API and one worker (Ctrl-C stops both)")
    commands.add_parser("api", help="run the API server")
    worker = commands.add_parser("worker", help="run one worker process")
    worker.add_argument(
        "--name", default="worker", help="worker name (several per host need distinct names)"
    )
    commands.add_parser("migrate", help="create or upgrade the database tables")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    if args.command == "up":
        return up(settings)
    if args.command == "migrate":
        migrate(settings)
        return 0
    command = (
        api_command(settings) if args.command == "api" else worker_command(settings, args.name)
    )
    os.execv(command[0], command)  # replace this process: signals reach the server directly
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
