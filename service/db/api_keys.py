"""API key repository: the CLI creates, lists and revokes keys; the API looks them up.

The API's lookups are async Core queries on its read engine (like :mod:`service.db.reads`):
they run on the event loop, beside the polls they guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from service.auth.keys import NewKey
from service.auth.principal import Role
from service.db.models import ApiKeyRow, utcnow

_KEYS = ApiKeyRow.__table__


@dataclass(frozen=True)
class StoredKey:
    """What the API needs to check a presented key."""

    key_id: str
    tenant: str
    role: Role
    secret_hash: str
    revoked: bool


def create_key(*, session: Session, key: NewKey, tenant: str, role: Role) -> ApiKeyRow:
    """Store ``key``'s id and hash for ``tenant`` with ``role``."""
    row = ApiKeyRow(id=key.key_id, tenant=tenant, role=role.value, secret_hash=key.secret_hash)
    session.add(row)
    session.flush()
    return row


def list_keys(*, session: Session, tenant: str | None = None) -> list[ApiKeyRow]:
    """Every key (of one tenant, if given), oldest first, revoked ones included."""
    query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    if tenant is not None:
        query = query.where(ApiKeyRow.tenant == tenant)
    return list(session.scalars(query).all())


def revoke_key(*, session: Session, key_id: str) -> datetime | None:
    """Revoke the key now; returns when it was revoked (earlier, if it already was), or None
    when there is no such key."""
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        session.refresh(row)
    return row.revoked_at


def active_keys(*, session: Session) -> int:
    """How many keys are not revoked."""
    query = select(func.count()).select_from(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None))
    return int(session.execute(query).scalar_one())


_FIND = select(_KEYS).where(_KEYS.c.id == bindparam("key_id"))
_ANY_ACTIVE = select(_KEYS.c.id).where(_KEYS.c.revoked_at.is_(None)).limit(1)


async def find_key(connection: AsyncConnection, key_id: str) -> StoredKey | None:
    """The key with ``key_id``, revoked or not; None if there is none."""
    row = (await connection.execute(_FIND, {"key_id": key_id})).first()
    if row is None:
        return None
    return StoredKey(
        row.id, row.tenant, Role(row.role), row.secret_hash, row.revoked_at is not None
    )


async def any_active_key(connection: AsyncConnection) -> bool:
    """Whether at least one key is not revoked (auth ``auto`` then requires keys)."""
    return (await connection.execute(_ANY_ACTIVE)).first() is not None
