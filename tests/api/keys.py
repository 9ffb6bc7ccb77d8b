"""API keys for the API tests, made the way ``loss-search keys create`` makes them."""

from __future__ import annotations

from service.auth import keys
from service.auth.principal import Role
from service.db import api_keys
from service.db.session import session_scope
from service.settings import Settings


def issue_key(settings: Settings, tenant: str, role: Role = Role.MEMBER) -> str:
    """A new key for ``tenant`` stored in the settings' database; returns the key itself."""
    key = keys.new_key()
    with session_scope(settings.resolved_database_url) as session:
        api_keys.create_key(session=session, key=key, tenant=tenant, role=role)
    return key.token


def revoke(settings: Settings, token: str) -> None:
    """Revoke the key ``token`` (as ``loss-search keys revoke`` does)."""
    key_id = keys.key_id_of(token)
    assert key_id is not None
    with session_scope(settings.resolved_database_url) as session:
        assert api_keys.revoke_key(session=session, key_id=key_id) is not None


def bearer(token: str) -> dict[str, str]:
    """The request headers that present ``token``."""
    return {"Authorization": f"Bearer {token}"}
