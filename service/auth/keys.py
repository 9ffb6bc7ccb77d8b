"""API keys: ``lsk_<id>_<secret>``. The id finds the stored row; only an argon2 hash of the
secret is stored, so a copy of the database gives no working key.

The id is not secret (``loss-search keys list`` shows it, and ``keys revoke`` takes it); the
secret is 256 random bits, printed once when the key is created.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PREFIX = "lsk"
ID_HEX_CHARS = 12
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{{ID_HEX_CHARS}}})_([A-Za-z0-9_-]{{32,128}})$")
_ID = re.compile(rf"^(?:{PREFIX}_)?([0-9a-f]{{{ID_HEX_CHARS}}})$")
# argon2-cffi's defaults (RFC 9106's low-memory profile). A check costs ~50-200 ms of CPU, so the
# API checks a key once and then trusts it briefly (service.auth.authenticator).
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``token`` is shown once; ``key_id`` and ``secret_hash`` are stored."""

    key_id: str
    token: str
    secret_hash: str


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split into the id that finds it and the secret to check."""

    key_id: str
    secret: str


def new_key() -> NewKey:
    """A fresh random key and the hash of its secret."""
    key_id = secrets.token_hex(ID_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", _HASHER.hash(secret))


def parse(token: str) -> PresentedKey | None:
    """The parts of a presented key, or None when it is not shaped like one of ours."""
    match = _KEY.match(token)
    return PresentedKey(match[1], match[2]) if match else None


def key_id_of(text: str) -> str | None:
    """A key id given as the id itself, as ``lsk_<id>``, or as a whole key; None otherwise."""
    whole = parse(text)
    if whole is not None:
        return whole.key_id
    match = _ID.match(text)
    return match[1] if match else None


def verify(secret_hash: str, secret: str) -> bool:
    """Whether ``secret`` is the one hashed in ``secret_hash`` (slow on purpose: argon2)."""
    try:
        return _HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
