"""A console session is its native token: revoking the token ends the session."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.domain.tenants import token_id
from obliviate.security import hash_secret
from obliviate.services.native_tokens import revoke_token
from tests.support.clock import now_ms
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, signed_in, token_with


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No cached callers: the revocation is seen by the next request (in production within the
    # TTL, as on the native API).
    return {"auth_cache_ttl": 0}


def test_revoking_the_token_ends_the_console_session(
    browser: TestClient, container: Container, tenant: Tenant
) -> None:
    token = token_with(container, tenant, "admin")
    signed_in(browser, token)
    revoke_token(
        container.tenant_store,
        name=tenant["tenant"],
        token=token_id(hash_secret(token)),
        now=now_ms(),
    )
    assert_page(browser.get("/console"), 401, "Sign in again")
    # The cookie is cleared with the answer.
    assert browser.get("/console").status_code == 303
