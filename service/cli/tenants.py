"""``loss-search tenants list | limits``: tenants and their limits on submissions.

The same limits an admin key sets with ``PUT /v1/tenants/{tenant}/limits``, for an operator at
the database.
"""

from __future__ import annotations

from typing import Annotated

import typer

from service import quotas
from service.cli.keys import TenantArgument, open_database
from service.cli.table import print_table
from service.db import tenants
from service.settings import get_settings

app = typer.Typer(help="List tenants; show and set their limits.", no_args_is_help=True)

Limit = Annotated[int | None, typer.Option(min=1, show_default=False)]


@app.command("list")
def list_command() -> None:
    """Every tenant with a row (one that has submitted or had limits set), with its limits in
    force and its jobs queued and running."""
    settings = get_settings()
    with open_database(settings) as session:
        names = [row.name for row in tenants.list_tenants(session=session)]
        rows = [quotas.standing(session=session, tenant=name, settings=settings) for name in names]
    if not rows:
        typer.echo("no tenants yet", err=True)
        return
    header = ("TENANT", "CONCURRENT", "QUEUED", "TRIALS/JOB", "QUEUED NOW", "RUNNING NOW")
    print_table(
        [header]
        + [
            (
                row.tenant,
                _limit(row.in_force.max_concurrent_jobs),
                _limit(row.in_force.max_queued_jobs),
                _limit(row.in_force.max_trials_per_job),
                str(row.usage.queued),
                str(row.usage.running),
            )
            for row in rows
        ]
    )


@app.command()
def limits(
    tenant: TenantArgument,
    max_concurrent_jobs: Limit = None,
    max_queued_jobs: Limit = None,
    max_trials_per_job: Limit = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="go back to the defaults before setting any given")
    ] = False,
) -> None:
    """Show TENANT's limits; with options, set its own first (the others stay as they are)."""
    settings = get_settings()
    given = {
        "max_concurrent_jobs": max_concurrent_jobs,
        "max_queued_jobs": max_queued_jobs,
        "max_trials_per_job": max_trials_per_job,
    }
    with open_database(settings) as session:
        if reset or any(value is not None for value in given.values()):
            mine = quotas.own(None if reset else tenants.get_tenant(session=session, name=tenant))
            current = {name: getattr(mine, name) for name in given}
            changed = {
                name: value if value is not None else current[name] for name, value in given.items()
            }
            tenants.set_limits(session=session, name=tenant, **changed)
        now = quotas.standing(session=session, tenant=tenant, settings=settings)
    typer.echo(f"tenant {tenant}: {now.usage.queued} jobs queued, {now.usage.running} running")
    print_table(
        [("LIMIT", "OWN", "DEFAULT", "IN FORCE")]
        + [
            (
                name,
                _own(getattr(now.own, name)),
                _limit(getattr(now.defaults, name)),
                _limit(getattr(now.in_force, name)),
            )
            for name in given
        ]
    )


def _limit(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def _own(value: int | None) -> str:
    return "(default)" if value is None else str(value)
