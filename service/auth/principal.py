"""Tenants and roles: who a request acts for, and what it may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field

DEFAULT_TENANT = "default"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"

TenantName = Annotated[
    str,
    Field(
        pattern=TENANT_PATTERN,
        description="Lower-case letters, digits, '.', '_' and '-', at most 63 characters, "
        "starting with a letter or digit.",
    ),
]


class Role(StrEnum):
    """A member sees its own tenant's jobs; an admin sees every tenant's and sets limits."""

    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Principal:
    """The tenant a request acts for, its role, and the key it presented (None: auth open)."""

    tenant: str
    role: Role
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, tenant: str) -> bool:
        """Whether this principal may see a resource of ``tenant``."""
        return self.is_admin or tenant == self.tenant


def anonymous(default_tenant: str) -> Principal:
    """Whoever calls while auth is open: the default tenant, seeing every job as before keys
    existed (an operator who turns auth off has chosen not to separate tenants)."""
    return Principal(tenant=default_tenant, role=Role.ADMIN)
