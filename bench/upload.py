"""Uploading a dataset: the time and the API's memory to upload and validate a large CSV, and a
body over the limit refused without the API's memory growing.

    python -m bench.upload [--size-mb 1024] [--columns 20] [--limit-mb 100] [--interval-ms 50]

Generates a CSV once (``--columns`` numeric columns, one categorical, a 0/1 ``label``), written
in chunks so it is never whole in memory, into a temporary folder. Starts the real API
(``python -m service.cli api``, no worker) on the embedded defaults in a fresh temporary data
directory on a free loopback port, and while each upload runs samples the API process's
resident memory (``/proc/<pid>/status`` VmRSS, its child processes included) every
``--interval-ms`` on a thread. The cases:

- upload: ``POST /v1/datasets`` with the file streamed from disk as a multipart body with a
  declared Content-Length (what ``httpx`` ``files=`` sends); expects 201 with the rows and
  columns, and the SHA-256 the generator computed,
- upload again: the same bytes (the dedupe path); expects 200 and the same id,
- a job submitted on the upload (``dataset:<id>``: its checks read the sample kept beside it),
  and one on the same file named in a data root (its checks read the file's target column
  whole); expects 202 both times,
- then the API restarted with ``LOSS_SEARCH_MAX_UPLOAD_BYTES`` at ``--limit-mb``, and the file
  sent twice more: with its Content-Length declared (refused before the body is read) and
  chunked, no length declared (counted as it arrives); expects 413 both times.

Columns: "sent s" is when the client had written the whole body (from the start of the
request); "stored s" when the API had the file in the store (the stored file's modification
time; the rest, up to "seconds", is profiling it and recording it); MB/s is the file's size
over "seconds". RSS before is the API's resident memory just before the request, peak the
highest sample during it, after once it answered. Prints one markdown table; removes the
file, the data directory and the processes afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from bench.common import machine, table

MiB = 1 << 20
CHUNK_ROWS = 50_000
READ_BYTES = MiB
CATEGORIES = ["north", "south", "east", "west", "centre"]
HEADERS = (
    "case",
    "status",
    "seconds",
    "sent s",
    "stored s",
    "MB/s",
    "RSS before MiB",
    "peak RSS MiB",
    "growth MiB",
    "RSS after MiB",
    "result",
)


@dataclass(frozen=True)
class Generated:
    path: Path
    size: int
    rows: int
    columns: int
    sha256: str


def generate_csv(path: Path, size_bytes: int, numeric: int, seed: int) -> Generated:
    """Write a CSV of at least ``size_bytes`` in chunks of ``CHUNK_ROWS`` rows, hashing it."""
    rng = np.random.default_rng(seed)
    digest, written, rows = hashlib.sha256(), 0, 0
    with path.open("wb") as out:
        while written < size_bytes:
            n = CHUNK_ROWS
            data: dict[str, pa.Array] = {
                f"x{i}": pa.array(np.round(rng.standard_normal(n), 4)) for i in range(numeric)
            }
            data["region"] = pa.array(np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)])
            data["label"] = pa.array(rng.integers(0, 2, n))
            buffer = io.BytesIO()
            options = pa_csv.WriteOptions(include_header=rows == 0)
            pa_csv.write_csv(pa.table(data), buffer, write_options=options)
            chunk = buffer.getvalue()
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            rows += n
    return Generated(path, written, rows, numeric + 2, digest.hexdigest())


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (0 for a process gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return total


class RssSampler:
    """Samples a process tree's resident memory on a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int, interval_s: float) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.before = tree_rss_bytes(pid)
        self.peak = self.before
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = tree_rss_bytes(self.pid)
        self.peak = max(self.peak, self.after)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self.samples += 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Api:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path


@contextmanager
def running_api(workdir: Path, settings: dict[str, str]) -> Iterator[Api]:
    """The API alone on the embedded defaults, in a fresh data directory under ``workdir``."""
    port = free_port()
    data_dir = workdir / f"state-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOSS_SEARCH_")}
    env.pop("DATABASE_URL", None)
    env.pop("BROKER_URL", None)
    env.update(
        {
            "LOSS_SEARCH_DATA_DIR": str(data_dir),
            "LOSS_SEARCH_API_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **{f"LOSS_SEARCH_{name}": value for name, value in settings.items()},
        }
    )
    command = [sys.executable, "-m", "service.cli"]
    migrate = subprocess.run([*command, "migrate"], env=env, cwd=workdir, capture_output=True)
    if migrate.returncode != 0:
        raise RuntimeError(f"migrate failed: {migrate.stderr.decode(errors='replace')}")
    log = (workdir / f"api-{port}.log").open("ab")
    process = subprocess.Popen(
        [*command, "api"],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = Api(f"http://127.0.0.1:{port}", process, data_dir)
    try:
        _wait_ready(api, workdir / f"api-{port}.log")
        yield api
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _wait_ready(api: Api, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{api.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API was not ready within {timeout} s")


class MultipartBody:
    """The file as a multipart body (field ``file``), read from disk a MiB at a time; records
    when its last byte was handed to the connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.length = len(self.head) + path.stat().st_size + len(self.tail)
        self.sent_at: float | None = None
        self.sent_bytes = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.sent_bytes += len(self.head)
        with self.path.open("rb") as source:
            while chunk := source.read(READ_BYTES):
                yield chunk
                self.sent_bytes += len(chunk)
        yield self.tail
        self.sent_bytes += len(self.tail)
        self.sent_at = time.perf_counter()


@dataclass
class Outcome:
    case: str
    status: str
    seconds: float
    sent_s: float | None
    stored_s: float | None
    size: int
    rss_before: int
    rss_peak: int
    rss_after: int
    result: str
    body: dict[str, object] | None = None

    def row(self) -> list[object]:
        return [
            self.case,
            self.status,
            self.seconds,
            "" if self.sent_s is None else self.sent_s,
            "" if self.stored_s is None else self.stored_s,
            self.size / 1e6 / self.seconds,
            self.rss_before / MiB,
            self.rss_peak / MiB,
            (self.rss_peak - self.rss_before) / MiB,
            self.rss_after / MiB,
            self.result,
        ]


def upload(
    api: Api, case: str, data: Generated, interval_s: float, declare_length: bool = True
) -> Outcome:
    """POST the file to /v1/datasets while sampling the API's memory."""
    body = MultipartBody(data.path)
    headers = {"Content-Type": body.content_type}
    if declare_length:
        headers["Content-Length"] = str(body.length)
    status, result, answer = "", "", None
    wall_started = time.time()
    with (
        httpx.Client(timeout=httpx.Timeout(1800)) as client,
        RssSampler(api.process.pid, interval_s) as memory,
    ):
        started = time.perf_counter()
        try:
            response = client.post(f"{api.url}/v1/datasets", content=body, headers=headers)
            status = str(response.status_code)
            answer = response.json()
        except httpx.HTTPError as exc:
            status = f"{type(exc).__name__}"
            result = f"no answer: {exc}"[:120]
        seconds = time.perf_counter() - started
    sent_s = None if body.sent_at is None else body.sent_at - started
    stored_s = None
    if isinstance(answer, dict) and "fingerprint" in answer:
        # The file itself (not its sample, written after profiling): <sha256>.csv.
        stored = next(api.data_dir.rglob(f"{answer['fingerprint']}{data.path.suffix}"), None)
        if stored is not None and stored.stat().st_mtime >= wall_started:  # not kept from before
            stored_s = stored.stat().st_mtime - wall_started
        result = f"{answer.get('rows')} rows, {len(answer.get('columns', []))} columns"
    elif isinstance(answer, dict) and "error" in answer:
        error = answer["error"]
        code = error.get("type") if isinstance(error, dict) else error
        result = f"{code}; {body.sent_bytes / MiB:.0f} MiB sent"
    elif not result:
        result = f"{body.sent_bytes / MiB:.0f} MiB sent"
    return Outcome(
        case,
        status,
        seconds,
        sent_s,
        stored_s,
        data.size,
        memory.before,
        memory.peak,
        memory.after,
        result,
        answer if isinstance(answer, dict) else None,
    )


def submit(api: Api, case: str, dataset: str, data: Generated, interval_s: float) -> Outcome:
    """POST a job on ``dataset`` (the generated file's ``label``) while sampling the API's
    memory: how long the submission's checks of the data take."""
    job = {"dataset": dataset, "target": "label", "metric": "f1", "budget": {"n_trials": 10}}
    with (
        httpx.Client(timeout=httpx.Timeout(1800)) as client,
        RssSampler(api.process.pid, interval_s) as memory,
    ):
        started = time.perf_counter()
        response = client.post(f"{api.url}/v1/jobs", json=job)
        seconds = time.perf_counter() - started
    answer = response.json()
    task = answer.get("spec", {}).get("task") if response.status_code == 202 else None
    result = f"task {task}" if task else str(answer.get("error", {}).get("message", ""))[:120]
    return Outcome(
        case,
        str(response.status_code),
        seconds,
        None,
        None,
        data.size,
        memory.before,
        memory.peak,
        memory.after,
        result,
        answer,
    )


def run(args: argparse.Namespace, workdir: Path) -> list[Outcome]:
    """Generate the file, run the six cases, check what they answered."""
    started = time.perf_counter()
    data = generate_csv(workdir / "upload.csv", args.size_mb * MiB, args.columns, args.seed)
    print(
        f"Generated {data.path.name}: {data.size} bytes ({data.size / MiB:.0f} MiB), "
        f"{data.rows} rows, {data.columns} columns in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    interval = args.interval_ms / 1000
    outcomes = []
    with running_api(workdir, {"DATA_ROOTS": str(workdir)}) as api:
        first = upload(api, "upload (Content-Length)", data, interval)
        outcomes.append(first)
        print(f"  {first.case}: {first.status} in {first.seconds:.1f} s", flush=True)
        again = upload(api, "same bytes again (dedupe)", data, interval)
        outcomes.append(again)
        print(f"  {again.case}: {again.status} in {again.seconds:.1f} s", flush=True)
        reference = str((first.body or {}).get("reference", "dataset:none"))
        for case, dataset in (
            ("job on the upload (reads its sample)", reference),
            ("job on the same file in a data root (reads it whole)", data.path.name),
        ):
            job = submit(api, case, dataset, data, interval)
            outcomes.append(job)
            print(f"  {job.case}: {job.status} in {job.seconds:.1f} s", flush=True)
    limit = str(args.limit_mb * MiB)
    with running_api(workdir, {"MAX_UPLOAD_BYTES": limit}) as api:
        for declare in (True, False):
            label = "Content-Length" if declare else "chunked, no length"
            case = f"over a {args.limit_mb} MiB limit ({label})"
            refused = upload(api, case, data, interval, declare_length=declare)
            outcomes.append(refused)
            print(f"  {refused.case}: {refused.status} in {refused.seconds:.1f} s", flush=True)
    check(outcomes, data)
    return outcomes


def check(outcomes: Sequence[Outcome], data: Generated) -> None:
    """Say plainly where an answer is not what the service promises."""
    first, again, on_sample, on_file, *refused = outcomes
    problems = [
        f"{o.case}: {o.status}, expected 202" for o in (on_sample, on_file) if o.status != "202"
    ]
    if first.status != "201" or first.body is None:
        problems.append(f"upload: {first.status}, expected 201")
    else:
        if first.body.get("rows") != data.rows:
            problems.append(f"upload: {first.body.get('rows')} rows, expected {data.rows}")
        if first.body.get("fingerprint") != data.sha256:
            problems.append("upload: the fingerprint is not the file's SHA-256")
    if again.status != "200" or (again.body or {}).get("id") != (first.body or {}).get("id"):
        problems.append(f"dedupe: {again.status}, expected 200 with the same id")
    problems += [f"{o.case}: {o.status}, expected 413" for o in refused if o.status != "413"]
    for problem in problems:
        print(f"UNEXPECTED: {problem}", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size-mb", type=_positive, default=1024, help="CSV size in MiB")
    parser.add_argument("--columns", type=_positive, default=20, help="numeric columns")
    parser.add_argument(
        "--limit-mb", type=_positive, default=100, help="LOSS_SEARCH_MAX_UPLOAD_BYTES, MiB"
    )
    parser.add_argument("--interval-ms", type=_positive, default=50, help="RSS sampling period")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.limit_mb >= args.size_mb:
        parser.error("--limit-mb must be smaller than --size-mb (the refused cases)")
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> list[Outcome]:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the API stopped, the file and data directory removed.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="uploadbench-") as tmp:
            outcomes = run(args, Path(tmp))
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"\nMachine: {machine()}")
    print(
        f"File: {args.size_mb} MiB CSV, {args.columns} numeric + 1 categorical + label columns; "
        f"RSS sampled every {args.interval_ms} ms\n"
    )
    print(table(HEADERS, [outcome.row() for outcome in outcomes]))
    return outcomes


if __name__ == "__main__":
    main()
