"""``loss-search keys create | list | revoke``: the API keys tenants use.

A new key is printed once, on standard output alone (so ``KEY=$(loss-search keys create ...)``
works); what it is for goes to standard error. Only its id and an argon2 hash of its secret are
stored.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from service.auth import keys as key_format
from service.auth.principal import TENANT_PATTERN, Role
from service.cli.table import print_table
from service.db import api_keys, tenants
from service.db.migrate import upgrade_database
from service.db.models import ApiKeyRow
from service.db.session import session_scope
from service.settings import Settings, get_settings

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def tenant_name(value: str) -> str:
    """``value``, if it is a valid tenant name (typer callback)."""
    if not re.fullmatch(TENANT_PATTERN, value):
        raise typer.BadParameter(
            f"{value!r} is not a tenant name: use lower-case letters, digits, '.', '_' and '-' "
            "(at most 63, starting with a letter or digit)"
        )
    return value


TenantArgument = Annotated[
    str, typer.Argument(help="the tenant's name", callback=tenant_name, show_default=False)
]
TenantOption = Annotated[
    str, typer.Option(help="the tenant the key acts for", callback=tenant_name, show_default=False)
]


def open_database(settings: Settings) -> AbstractContextManager[Session]:
    """A session on the settings' database, its tables brought up to date first: keys may be
    made before the service ever ran (a no-op when they are, as in ``loss-search up``)."""
    upgrade_database(settings.resolved_database_url)
    return session_scope(settings.resolved_database_url)


@app.command()
def create(
    tenant: TenantOption,
    role: Annotated[
        Role, typer.Option(help="member: its tenant's jobs; admin: every tenant's, and limits")
    ] = Role.MEMBER,
) -> None:
    """Make a key for TENANT and print it (once: only its hash is kept)."""
    settings = get_settings()
    key = key_format.new_key()
    with open_database(settings) as session:
        api_keys.create_key(session=session, key=key, tenant=tenant, role=role)
        tenants.ensure_tenant(session=session, name=tenant)
    typer.echo(key.token)
    typer.echo(
        f"created key {key_format.PREFIX}_{key.key_id} for tenant '{tenant}' ({role.value}). "
        "It is shown only this once: store it now. Send it as 'Authorization: Bearer <key>'.",
        err=True,
    )


@app.command("list")
def list_command(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's keys")] = None,
) -> None:
    """List keys (never their secrets): id, tenant, role, created, revoked."""
    settings = get_settings()
    with open_database(settings) as session:
        rows = api_keys.list_keys(session=session, tenant=tenant)
    if not rows:
        typer.echo("no API keys" + (f" for tenant '{tenant}'" if tenant else ""), err=True)
        return
    print_table([("ID", "TENANT", "ROLE", "CREATED", "REVOKED"), *(_line(row) for row in rows)])


@app.command()
def revoke(
    key: Annotated[str, typer.Argument(help="the key's id (as 'keys list' shows it) or the key")],
) -> None:
    """Revoke a key: API processes refuse it within LOSS_SEARCH_AUTH_CACHE_S seconds."""
    settings = get_settings()
    key_id = key_format.key_id_of(key.strip())
    if key_id is None:
        raise typer.BadParameter(f"{key!r} is neither a key id (lsk_<12 hex digits>) nor a key")
    with open_database(settings) as session:
        revoked_at = api_keys.revoke_key(session=session, key_id=key_id)
    if revoked_at is None:
        typer.echo(f"loss-search: no API key with id {key_format.PREFIX}_{key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"revoked {key_format.PREFIX}_{key_id} (at {_when(revoked_at)}); API processes refuse it "
        f"within {settings.auth_cache_s:g} s"
    )


def _line(row: ApiKeyRow) -> tuple[str, str, str, str, str]:
    revoked = _when(row.revoked_at) if row.revoked_at else "-"
    return (f"{key_format.PREFIX}_{row.id}", row.tenant, row.role, _when(row.created_at), revoked)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")
