"""``loss-search keys``: the real command line, as an operator runs it, against a real database
that the real API then checks keys against."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer

KEY = re.compile(r"^(lsk_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
REPO = Path(__file__).resolve().parents[2]


def loss_search(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``loss-search ARGS`` on the settings' data directory; its exit code and output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOSS_SEARCH_")}
    environment.pop("DATABASE_URL", None)
    environment |= {"LOSS_SEARCH_DATA_DIR": str(settings.data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def create(settings: Settings, tenant: str, *more: str) -> str:
    done = loss_search(settings, "keys", "create", "--tenant", tenant, *more)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def key_id(key: str) -> str:
    match = KEY.match(key)
    assert match, key
    return match[1]


def secret(key: str) -> str:
    match = KEY.match(key)
    assert match, key
    return match[2]


@pytest.fixture
def fresh(settings: Settings) -> Settings:
    """The test settings, keys read afresh by the API on every request."""
    return settings.model_copy(update={"auth_cache_s": 0.0})


def test_create_prints_the_key_once_and_stores_only_its_hash(fresh: Settings) -> None:
    done = loss_search(fresh, "keys", "create", "--tenant", "team-a")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    match = KEY.match(key)
    assert match, done.stdout  # the key alone on standard output: KEY=$(loss-search keys create)
    assert "shown only this once" in done.stderr
    key_id, secret = match[1], match[2]
    assert f"{key_id} for tenant 'team-a' (member)" in done.stderr
    with sqlite3.connect(fresh.resolved_database_url.removeprefix("sqlite:///")) as database:
        rows = database.execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1
    assert not any(secret in str(column) for column in rows[0])
    assert any(str(column).startswith("$argon2id$") for column in rows[0])

    with TestClient(create_app(fresh)) as client:
        submitted = client.post(
            "/v1/jobs", json={"dataset": "builtin:iris", "metric": "accuracy"}, headers=bearer(key)
        )
        assert submitted.status_code == 202, submitted.text
        assert client.get("/v1/jobs").status_code == 401  # a key exists: auth is on


def test_list_shows_every_key_without_its_secret(fresh: Settings) -> None:
    member = create(fresh, "team-a")
    admin = create(fresh, "platform", "--role", "admin")
    done = loss_search(fresh, "keys", "list")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["ID", "TENANT", "ROLE", "CREATED", "REVOKED"]
    rows = [line.split() for line in lines]
    assert [(row[0], row[1], row[2], row[-1]) for row in rows] == [
        (key_id(member), "team-a", "member", "-"),
        (key_id(admin), "platform", "admin", "-"),
    ]
    for key in (member, admin):
        assert secret(key) not in done.stdout
    only = loss_search(fresh, "keys", "list", "--tenant", "platform")
    assert [line.split()[1] for line in only.stdout.splitlines()[1:]] == ["platform"]


def test_revoke_stops_the_key_working(fresh: Settings) -> None:
    key = create(fresh, "team-a")
    other = create(fresh, "team-b")
    done = loss_search(fresh, "keys", "revoke", key_id(key))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"revoked {key_id(key)}")
    assert "within 5 s" in done.stdout  # the default LOSS_SEARCH_AUTH_CACHE_S
    listed = loss_search(fresh, "keys", "list").stdout.splitlines()
    assert next(line for line in listed if line.startswith(key_id(key))).split()[-1] != "-"
    with TestClient(create_app(fresh)) as client:
        assert client.get("/v1/jobs", headers=bearer(key)).status_code == 401
        assert client.get("/v1/jobs", headers=bearer(other)).status_code == 200
    # Revoking twice is harmless; the whole key works as well as its id.
    assert loss_search(fresh, "keys", "revoke", key).returncode == 0


def test_mistakes_are_refused_with_a_reason(fresh: Settings) -> None:
    unknown = loss_search(fresh, "keys", "revoke", "lsk_0123456789ab")
    assert unknown.returncode == 1
    assert "no API key with id lsk_0123456789ab" in unknown.stderr
    garbled = loss_search(fresh, "keys", "revoke", "not-a-key")
    assert garbled.returncode == 2
    assert "neither a key id" in garbled.stderr
    bad_tenant = loss_search(fresh, "keys", "create", "--tenant", "Team A")
    assert bad_tenant.returncode == 2
    assert "not a tenant name" in bad_tenant.stderr
    bad_role = loss_search(fresh, "keys", "create", "--tenant", "a", "--role", "owner")
    assert bad_role.returncode == 2
    assert "owner" in bad_role.stderr
    assert loss_search(fresh, "keys", "list").stderr.strip() == "no API keys"


def test_the_api_will_not_listen_on_a_public_address_with_auth_off(fresh: Settings) -> None:
    done = loss_search(fresh, "api", LOSS_SEARCH_API_HOST="0.0.0.0")
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr
    assert "LOSS_SEARCH_AUTH=off" in done.stderr
