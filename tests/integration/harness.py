"""Real processes for integration tests: the API server and Celery workers, started through the
project's own CLI against a real database and broker, and an HTTP client to talk to them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
BENCH_DATASETS = Path(__file__).resolve().parents[2] / "bench" / "datasets"

# Short intervals so lost workers are noticed in seconds, not minutes.
FAST_RECOVERY = {
    "LOSS_SEARCH_JOB_HEARTBEAT_S": "0.5",
    "LOSS_SEARCH_JOB_STALE_AFTER_S": "4",
    "LOSS_SEARCH_REAPER_INTERVAL_S": "1",
    "LOSS_SEARCH_RESEND_AFTER_S": "3",
    "LOSS_SEARCH_TRIAL_HEARTBEAT_S": "1",
    "LOSS_SEARCH_TRIAL_GRACE_S": "4",
    "LOSS_SEARCH_TORCH_THREADS": "1",
}


@dataclass(frozen=True)
class Backend:
    """A database and broker pair; None means the embedded SQLite default."""

    name: str
    database_url: str | None
    broker_url: str | None
    queue_name: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """The API and workers of one backend, each a real OS process."""

    backend: Backend
    workdir: Path
    data_root: Path
    port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    key: str | None = None  # an API key the test made for itself (create_key), if it needs one

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOSS_SEARCH_")}
        env.pop("DATABASE_URL", None)
        env.pop("BROKER_URL", None)
        env.update(FAST_RECOVERY)
        env.update(
            {
                "LOSS_SEARCH_DATA_DIR": str(self.workdir / "state"),
                "LOSS_SEARCH_DATA_ROOTS": f"{self.data_root},{BENCH_DATASETS}",
                "LOSS_SEARCH_API_PORT": str(self.port),
                "LOSS_SEARCH_QUEUE_NAME": self.backend.queue_name,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.backend.database_url:
            env["DATABASE_URL"] = self.backend.database_url
        if self.backend.broker_url:
            env["BROKER_URL"] = self.backend.broker_url
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes its children too
        )

    def start(self, worker: bool = True) -> None:
        """Migrate, start the API (and one worker unless told not to), wait until ready."""
        migrate = self.run_cli("migrate")
        assert migrate.returncode == 0, migrate.stderr
        self.api = self._spawn("api", "api")
        if worker:
            self.start_worker("worker-1")
        wait_for(lambda: self._ready(), timeout=120, what="the API to become ready")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._spawn(name, "worker", "--name", name)

    def wait_worker_ready(self, name: str, timeout: float = 120) -> None:
        """Wait until the worker's log says it consumes from the queue."""
        log = self.workdir / f"{name}.log"

        def ready() -> bool:
            return (
                log.exists()
                and f"{name}@" in log.read_text(errors="replace")
                and (" ready." in log.read_text(errors="replace"))
            )

        wait_for(ready, timeout, f"worker {name} to be ready")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker: no clean shutdown, no chance to acknowledge or hand back."""
        process = self.workers.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in [*self.workers.values(), *([self.api] if self.api else [])]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), *([self.api] if self.api else [])]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client of the API, presenting ``key`` if given."""
        headers = {"Authorization": f"Bearer {key}"} if key else None
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``loss-search ARGS`` on this service's database and settings."""
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def create_key(self, tenant: str, role: str = "member") -> str:
        """A new API key made with ``loss-search keys create``, as an operator makes one."""
        done = self.run_cli("keys", "create", "--tenant", tenant, "--role", role)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def logs(self) -> str:
        """The tail of every process log, for failure messages."""
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            parts.append(f"--- {log.name} ---\n" + log.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def job_in(client: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in statuses else None


# --- Fault runs: a client that records every answer, reads that take an outage for "not yet" ---


@dataclass(frozen=True)
class Answer:
    """One request and what came back (status 0: no answer at all)."""

    method: str
    path: str
    status: int
    retry_after: str | None = None
    error: str | None = None

    def acceptable(self) -> bool:
        """No 5xx, except 503 with ``Retry-After`` (an outage the API says it is waiting out)."""
        if self.status == 503:
            return self.retry_after is not None
        return 0 < self.status < 500

    def __str__(self) -> str:
        said = self.error or f"{self.status} retry-after={self.retry_after}"
        return f"{self.method} {self.path} → {said}"


class _RecordingTransport(httpx.HTTPTransport):
    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self._answers = answers

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            self._answers.append(Answer(request.method, path, 0, error=repr(exc)))
            raise
        retry_after = response.headers.get("retry-after")
        self._answers.append(Answer(request.method, path, response.status_code, retry_after))
        return response


def recording_client(service: Service, answers: list[Answer]) -> httpx.Client:
    """A client of ``service`` that appends every answer (or failure to answer) to ``answers``."""
    return httpx.Client(base_url=service.url, timeout=30, transport=_RecordingTransport(answers))


def read_json(client: httpx.Client, path: str, **params: Any) -> Any | None:
    """GET ``path`` as JSON; None when it did not answer 200 (an outage, a result not yet there)."""
    try:
        response = client.get(path, params=params)
    except httpx.TransportError:
        return None  # recorded by the client; the caller's checks fail on it
    return response.json() if response.status_code == 200 else None


def job_now(client: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any] | None:
    """Like :func:`job_in`, but an outage (503) or no answer reads as "not yet"."""
    job: dict[str, Any] | None = read_json(client, f"/v1/jobs/{job_id}")
    return job if job is not None and (not statuses or job["status"] in statuses) else None


def trials_by_number(client: httpx.Client, job_id: str) -> dict[int, dict[str, Any]] | None:
    """Every trial record of the job (at most 500), by trial number."""
    page = read_json(client, f"/v1/jobs/{job_id}/trials", limit=500)
    return None if page is None else {trial["number"]: trial for trial in page["items"]}


def worker_holding(service: Service, shard: dict[str, Any]) -> str | None:
    """The name of this service's worker process that holds ``shard`` (a job's shard view).

    A shard's worker reads ``host:pid``; the CLI execs Celery (solo pool), so that pid is the
    process the harness started.
    """
    holder = str(shard.get("worker") or "")
    pid = holder.rpartition(":")[2]
    if shard.get("status") != "running" or not pid.isdigit():
        return None
    return next((n for n, p in service.workers.items() if p.pid == int(pid)), None)
