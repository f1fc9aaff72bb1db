"""Where the test suite finds the real PostgreSQL and Redis, and what it does when it cannot.

When PostgreSQL or Redis cannot be reached the tests that need them skip, except with
``CI=true``, where they fail.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get(
    "OBLIVIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OBLIVIATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, error: Exception) -> None:
    """Skip the test that needs ``what`` (fail it under ``CI=true``)."""
    message = f"{what} unreachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: PostgreSQL/Redis tests must run, not skip)")
    pytest.skip(message)
