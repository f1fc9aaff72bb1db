"""Native tokens: listed without their secret, revoked one by one, and their last use written at
most once per auth cache period."""

from __future__ import annotations

import time
from typing import Any

import pytest

from obliviate.bootstrap import Container
from obliviate.domain.errors import AuthenticationError, NotFoundError, ValidationError
from obliviate.security import hash_secret
from obliviate.services.native_tokens import list_tokens, revoke_token
from obliviate.services.tenants import Authenticator, create_token
from tests.support.clock import FakeClock


def _now() -> int:
    return int(time.time() * 1000)


def _id(token: str) -> str:
    return hash_secret(token)[:16]


def test_tokens_are_listed_by_id_and_scopes_without_their_secret(
    container: Container, tenant: dict[str, Any]
) -> None:
    scoped = create_token(
        container.tenant_store, name=tenant["tenant"], scopes=["read"], now=_now()
    )
    found = list_tokens(container.tenant_store, name=tenant["tenant"])
    assert [(tok.token_id, tok.scopes, tok.last_used_at) for tok in found] == [
        (_id(tenant["native"]["token"]), None, None),
        (_id(scoped), ("read",), None),
    ]
    assert all(scoped not in repr(tok) for tok in found)


def test_a_revoked_token_no_longer_authenticates_and_others_do(
    container: Container, tenant: dict[str, Any]
) -> None:
    auth = Authenticator(container.tenant_store, default_revival_window=60)
    scoped = create_token(
        container.tenant_store, name=tenant["tenant"], scopes=["read"], now=_now()
    )
    revoke_token(container.tenant_store, name=tenant["tenant"], token=_id(scoped), now=_now())
    with pytest.raises(AuthenticationError):
        auth.native(scoped)
    assert auth.native(tenant["native"]["token"]).tenant.name == tenant["tenant"]
    assert [tok.token_id for tok in list_tokens(container.tenant_store, name=tenant["tenant"])] == [
        _id(tenant["native"]["token"])
    ]


def test_revoking_names_what_is_wrong(
    container: Container, tenant: dict[str, Any], other_tenant: dict[str, Any]
) -> None:
    theirs = _id(other_tenant["native"]["token"])
    with pytest.raises(NotFoundError) as not_ours:
        revoke_token(container.tenant_store, name=tenant["tenant"], token=theirs, now=_now())
    assert str(not_ours.value) == f"tenant {tenant['tenant']!r} has no active native token {theirs}"
    # A short prefix could name several tokens: only a whole id is taken.
    with pytest.raises(ValidationError) as short:
        revoke_token(container.tenant_store, name=tenant["tenant"], token=theirs[:4], now=_now())
    assert short.value.message == "a token id is 16 hex digits"
    with pytest.raises(NotFoundError) as nobody:
        revoke_token(container.tenant_store, name="no-such-tenant", token=theirs, now=_now())
    assert str(nobody.value) == "no tenant named 'no-such-tenant'"


def test_last_use_is_written_once_per_cache_period_not_on_every_check(
    container: Container, tenant: dict[str, Any]
) -> None:
    clock = FakeClock()
    auth = Authenticator(
        container.tenant_store, default_revival_window=60, last_used_every=5.0, clock=clock.now_ms
    )
    token = tenant["native"]["token"]

    def last_used() -> int | None:
        return list_tokens(container.tenant_store, name=tenant["tenant"])[0].last_used_at

    auth.native(token)
    first = clock.now
    assert last_used() == first
    clock.advance(4.9)
    auth.native(token)
    assert last_used() == first
    clock.advance(0.2)
    auth.native(token)
    assert last_used() == clock.now


def test_the_tenants_other_surfaces_do_not_write_on_authentication(
    container: Container, tenant: dict[str, Any]
) -> None:
    auth = Authenticator(container.tenant_store, default_revival_window=60)
    auth.gainsight(tenant["gainsight"]["api_key"])
    assert list_tokens(container.tenant_store, name=tenant["tenant"])[0].last_used_at is None
