"""``loss-search submit | jobs | show | best | cancel``: a service's jobs from the command line,
through the Python client (:mod:`service.client`).

Every command takes ``--url`` (or ``LOSS_SEARCH_URL``; default http://127.0.0.1:8000) and
``--api-key`` (or ``LOSS_SEARCH_API_KEY``). What a script reads (a job id, JSON, code, tables) is
on standard output; progress and errors are on standard error. Exit codes: :class:`Exit`.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console, RenderableType

from service.cli.job_views import best_table, job_table, jobs_rows
from service.cli.table import print_table
from service.client import ApiError, Client, Job, ServiceUnreachable
from service.client.connection import API_KEY_ENV, URL_ENV
from service.db.models import JobStatus
from workers.engine.spec import Family, Task


class Exit(IntEnum):
    """The exit codes scripts may rely on."""

    OK = 0  # submit --wait: the job succeeded
    JOB_FAILED = 1
    USAGE = 2  # a bad option, or the API refused the request (a 4xx; click uses 2 for usage too)
    JOB_CANCELLED = 3
    NOT_FOUND = 4
    UNAVAILABLE = 5  # the service answered 5xx or not at all (after the client's retries)
    INTERRUPTED = 130  # submit --wait stopped by Ctrl-C (the job goes on); the shell's own code


EXIT_CODES = (
    "Exit codes: 0 success (submit --wait: the job succeeded); 1 the job failed; 2 usage error, "
    "or the API refused the request (a 4xx: its message is printed); 3 the job was cancelled; "
    "4 not found; 5 the service is unavailable or unreachable (5xx, no connection); 130 "
    "submit --wait stopped by Ctrl-C (the job goes on)."
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_ENV,
        help="The service (default http://127.0.0.1:8000).",
        show_default=False,
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar=API_KEY_ENV, help="An API key of your tenant.", show_default=False
    ),
]
JobArgument = Annotated[str, typer.Argument(help="The job's id.", show_default=False)]


class Shown(StrEnum):
    """What ``best`` prints."""

    TABLE = "table"
    JSON = "json"
    PYTORCH = "pytorch"
    KERAS = "keras"


# A dataset reference the API reads itself (builtin:, dataset:, file://, s3://, https://, ...).
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def register(app: typer.Typer) -> None:
    """Add the commands to ``app``."""
    app.command(epilog=EXIT_CODES)(submit)
    app.command("jobs", epilog=EXIT_CODES)(list_jobs)
    app.command(epilog=EXIT_CODES)(show)
    app.command(epilog=EXIT_CODES)(best)
    app.command(epilog=EXIT_CODES)(cancel)


def submit(
    data: Annotated[
        str,
        typer.Argument(
            help="A local file (uploaded first), or a reference the API reads: builtin:<name>, "
            "dataset:<id>, a path under the service's data roots, a URL.",
            show_default=False,
        ),
    ],
    metric: Annotated[
        str, typer.Option(help="The metric the model is judged by (GET /v1/metrics).")
    ],
    target: Annotated[
        list[str] | None, typer.Option(help="The target column (repeat for several).")
    ] = None,
    task: Annotated[
        Task | None, typer.Option(help="Inferred from the target when omitted.")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="The trial budget, baseline included.")] = None,
    timeout_s: Annotated[float | None, typer.Option(help="No new trial after this long.")] = None,
    population: Annotated[int | None, typer.Option(help="Trials trained together.")] = None,
    family: Annotated[list[Family] | None, typer.Option(help="Search only this family.")] = None,
    loss: Annotated[list[str] | None, typer.Option(help="Search only this loss (repeat).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seeds the splits and the search.")] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            help="A JSON file of job fields (as POST /v1/jobs takes them: params, confirmation, "
            "warm_start, tags, ...); the options above override it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job to its end, then show its result.")
    ] = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Submit a job; print its id, or with --wait follow it and show the result."""
    options: dict[str, Any] = {
        "target": target,
        "task": task,
        "families": family,
        "losses": loss,
        "seed": seed,
        "budget": _without_none(n_trials=trials, timeout_s=timeout_s),
        "parallelism": _without_none(population_size=population),
    }
    with _client(url, api_key) as client:
        given = {"dataset": _dataset(client, data), "metric": metric, **_without_none(**options)}
        job = client.submit({**_spec_file(spec), **given})
        if not wait:
            typer.echo(job.id)
            return
        typer.echo(f"job {job.id} submitted; following it (Ctrl-C stops following)", err=True)
        try:
            ended = job.wait(progress=True)
        except KeyboardInterrupt:
            typer.echo(
                f"stopped following job {job.id}; it goes on: loss-search show {job.id}", err=True
            )
            raise typer.Exit(Exit.INTERRUPTED) from None
        _finish(job, ended.status)


def list_jobs(
    status: Annotated[JobStatus | None, typer.Option(help="Only jobs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 20,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """List jobs, newest first."""
    with _client(url, api_key) as client:
        page = client.jobs(status=status.value if status else None, limit=limit)
    if not page.items:
        typer.echo("no jobs" + (f" {status.value}" if status else ""), err=True)
        return
    print_table(jobs_rows(page.items))
    if page.total > len(page.items):
        typer.echo(f"({len(page.items)} of {page.total} jobs: --limit shows more)", err=True)


def show(
    job_id: JobArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON.")] = False,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show one job: status, progress, best so far, error."""
    with _client(url, api_key) as client:
        view = client.job(job_id).view
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        Console().print(job_table(view))


def best(
    job_id: JobArgument,
    shown: Annotated[
        Shown,
        typer.Option(
            "--format", help="table: a summary; json: the whole result; pytorch, keras: code."
        ),
    ] = Shown.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it to this file.", dir_okay=False)
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Show the best loss setup of a job, its comparison with the baseline, or its code."""
    with _client(url, api_key) as client:
        job = client.job(job_id)
        if shown in (Shown.PYTORCH, Shown.KERAS):
            text = job.code("pytorch" if shown is Shown.PYTORCH else "keras")
        elif shown is Shown.JSON:
            text = job.best().model_dump_json(indent=2) + "\n"
        elif output is None:
            Console().print(best_table(job.best()))  # the terminal's width and colours
            return
        else:
            text = _plain(best_table(job.best()))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    typer.echo(f"wrote {output}", err=True)


def cancel(job_id: JobArgument, url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Cancel a job: at once if queued, at the next trial boundary if running."""
    with _client(url, api_key) as client:
        view = client.job(job_id).cancel()
    if view.status is JobStatus.CANCELLED:
        typer.echo(f"job {view.id} cancelled")
    else:
        typer.echo(f"job {view.id} is {view.status.value}: it stops at the next trial boundary")


@contextmanager
def _client(url: str | None, api_key: str | None) -> Iterator[Client]:
    """A client; what goes wrong with a request is printed and becomes the exit code."""
    try:
        with Client(url, api_key) as client:
            yield client
    except ApiError as exc:
        typer.echo(f"loss-search: {exc.status} {exc.code}: {exc.message}", err=True)
        raise typer.Exit(_exit_code(exc.status)) from None
    except ServiceUnreachable as exc:
        typer.echo(f"loss-search: {exc}", err=True)
        raise typer.Exit(Exit.UNAVAILABLE) from None
    except ValidationError as exc:  # the job, checked before it is sent
        typer.echo(f"loss-search: invalid job: {exc}", err=True)
        raise typer.Exit(Exit.USAGE) from None


def _exit_code(status: int) -> Exit:
    if status == 404:
        return Exit.NOT_FOUND
    return Exit.UNAVAILABLE if status >= 500 else Exit.USAGE


def _dataset(client: Client, data: str) -> str:
    """``data`` as the API reads it: a local file is uploaded first."""
    path = Path(data).expanduser()
    if _SCHEME.match(data) or not path.is_file():
        return data
    uploaded = client.upload(path)
    typer.echo(f"uploaded {path} as {uploaded.reference} ({uploaded.rows} rows)", err=True)
    return uploaded.reference


def _spec_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        fields = json.loads(path.read_text())
    except ValueError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc}", param_hint="--spec") from None
    if not isinstance(fields, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object", param_hint="--spec")
    return fields


def _finish(job: Job, status: JobStatus) -> None:
    """Show how the followed job ended and exit with its code."""
    if status is JobStatus.SUCCEEDED:
        Console().print(best_table(job.best()))
        return
    typer.echo(
        f"job {job.id} {status.value}" + (f": {job.view.error}" if job.view.error else ""), err=True
    )
    raise typer.Exit(Exit.JOB_CANCELLED if status is JobStatus.CANCELLED else Exit.JOB_FAILED)


def _without_none(**values: Any) -> dict[str, Any]:
    """The options given (typer passes None, or an empty list for a repeatable option)."""
    return {name: value for name, value in values.items() if value not in (None, [], {})}


def _plain(table: RenderableType) -> str:
    """``table`` as plain text, for a file."""
    text = io.StringIO()
    Console(file=text, width=120, color_system=None).print(table)
    return text.getvalue()
