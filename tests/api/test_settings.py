"""Settings that cannot work together are refused when they load, saying which and why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_more_request_threads_than_database_connections_are_refused() -> None:
    with pytest.raises(ValidationError, match="api_threads"):
        Settings(_env_file=None, api_threads=40, db_pool_size=10, db_max_overflow=10)


def test_the_defaults_fit_together() -> None:
    settings = Settings(_env_file=None)
    assert settings.api_threads <= settings.db_pool_size + settings.db_max_overflow
    assert settings.api_workers == 1
