"""wrk as the load generator of ``bench.load``: start runs, read back their figures.

Every run uses one connection per wrk thread (``-t N -c N``) so that the Lua script
(``load_wrk.lua``) can tell which requests were still unanswered when wrk stopped, and how long
they had waited. The script prints one ``wrk-report key=value ...`` line from wrk's own latency
histogram (with p95, which ``--latency`` does not print); the ``--latency`` summary lands in the
same log, which an error message quotes when a run fails.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("load_wrk.lua")
REPORT_PREFIX = "wrk-report "


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured. Latencies cover the responses that came within the timeout."""

    duration_s: float
    responses: int
    late: int  # answered, but only after the client timeout
    stuck: int  # never answered, and already waiting longer than the timeout when wrk stopped
    unanswered: int  # waiting for an answer when wrk stopped, for however long (≤ connections)
    socket_errors: int
    ok: int  # 2xx (a late one is also a timeout)
    client_errors: int  # 4xx
    server_errors: int  # 5xx
    other: int  # 1xx, 3xx or unparseable statuses
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def timeouts(self) -> int:
        """Requests not answered within the client timeout, late or never."""
        return self.late + self.stuck

    @property
    def errors(self) -> int:
        """Answers other than 2xx, and connection errors."""
        return self.client_errors + self.server_errors + self.other + self.socket_errors

    @property
    def ok_per_s(self) -> float:
        """Successful responses per second: what a client can rely on, not fast failures."""
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True)
class WrkRun:
    """A wrk process started in the background, with the file its output goes to."""

    process: subprocess.Popen[bytes]
    log: Path


def wrk_command(
    url: str, connections: int, duration_s: float, timeout_s: float, delay_ms: int = 0
) -> list[str]:
    """The wrk command line for ``connections`` closed-loop clients (paced if ``delay_ms``)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    return [
        wrk,
        f"--threads={connections}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "--latency",
        f"--script={SCRIPT}",
        url,
        "--",
        str(max(1, round(timeout_s))),
        str(delay_ms),
    ]


@contextmanager
def started_wrk(command: list[str], log: Path) -> Iterator[WrkRun]:
    """Run ``command`` in the background; on the way out make sure it is gone."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield WrkRun(process, log)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # wrk stops its threads and reports
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def finish(run: WrkRun, grace_s: float = 30) -> WrkResult:
    """Wait for ``run`` to end and read its figures."""
    code = run.process.wait(timeout=grace_s)
    text = run.log.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"wrk exited with {code}:\n{text[-2000:]}")
    return parse_report(text)


def parse_report(text: str) -> WrkResult:
    """The figures of the ``wrk-report`` line that ``load_wrk.lua`` prints."""
    lines = [line for line in text.splitlines() if line.startswith(REPORT_PREFIX)]
    if not lines:
        raise ValueError(f"no {REPORT_PREFIX.strip()!r} line in wrk's output:\n{text[-2000:]}")
    fields = dict(item.split("=", 1) for item in lines[-1][len(REPORT_PREFIX) :].split())
    value = {key: float(raw) for key, raw in fields.items()}
    return WrkResult(
        duration_s=value["duration_us"] / 1e6,
        responses=int(value["responses"]),
        late=int(value["late"]),
        stuck=int(value["stuck"]),
        unanswered=int(value["in_flight"]),
        socket_errors=int(value["connect_errors"] + value["read_errors"] + value["write_errors"]),
        ok=int(value["c2xx"]),
        client_errors=int(value["c4xx"]),
        server_errors=int(value["c5xx"]),
        other=int(value["c3xx"] + value["cother"]),
        p50_ms=_ms(value["p50_us"]),
        p95_ms=_ms(value["p95_us"]),
        p99_ms=_ms(value["p99_us"]),
        max_ms=_ms(value["max_us"]),
    )


def _ms(microseconds: float) -> float | None:
    # The script writes -1 when no response came in time, so there is no distribution.
    return microseconds / 1000 if microseconds >= 0 else None
