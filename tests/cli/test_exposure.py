"""When auth may be off, and what ``loss-search up`` says about it when it starts."""

from __future__ import annotations

import pytest

from service.auth.exposure import ExposedWithoutAuth, check_exposure, describe, is_loopback
from service.settings import Settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("api.internal", False),  # a name may resolve to anything
    ],
)
def test_only_loopback_addresses_count_as_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_public_address_with_no_key_is_refused_unless_auth_is_off_on_purpose() -> None:
    public = Settings(_env_file=None, api_host="0.0.0.0")
    with pytest.raises(ExposedWithoutAuth, match="loss-search keys create"):
        check_exposure(public, active_keys=0)
    check_exposure(public, active_keys=1)
    check_exposure(public.model_copy(update={"auth": "off"}), active_keys=0)
    check_exposure(public.model_copy(update={"auth": "required"}), active_keys=0)
    check_exposure(Settings(_env_file=None), active_keys=0)  # 127.0.0.1: the embedded default


def test_the_banner_says_whether_a_key_is_needed() -> None:
    local = Settings(_env_file=None)
    assert describe(local, active_keys=0).startswith("auth: open (no API key exists yet;")
    assert "tenant 'default'" in describe(local, active_keys=0)
    assert describe(local, active_keys=2).startswith("auth: required (2 active API key(s))")
    off = local.model_copy(update={"auth": "off"})
    assert describe(off, active_keys=2).startswith("auth: open (LOSS_SEARCH_AUTH=off;")
    required = local.model_copy(update={"auth": "required"})
    assert describe(required, active_keys=0).startswith("auth: required, and no API key exists")
