"""Tenant services over the SQL tenant store, on SQLite and PostgreSQL: credential rules, the demo
refusal and what the command line prints.

Each test has a database of its own: tenants holding the demo credentials must not be left where
other tests sign in with them, and the names used here (``demo``, ``acme``) are the ones a person
would pick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from obliviate.bootstrap import Container
from obliviate.domain.errors import AuthenticationError, ConflictError, NotFoundError
from obliviate.domain.tenants import Surface
from obliviate.security import hash_secret
from obliviate.services import native_tokens, tenants
from obliviate.storage import tables as t
from obliviate.storage.engine import make_engine
from obliviate.storage.tenant_store import SqlTenants
from tests.support.databases import fresh_database

REFUSED = "demo credentials are refused when OBLIVIATE_ENV=production"


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(backend, tmp_path, request, migrated=True) as url:
        yield url


def _credentials(container: Container, name: str, *, live_only: bool = False) -> list[Any]:
    """The stored credential rows of tenant ``name`` (only unrevoked ones if ``live_only``)."""
    c = t.credentials
    query = (
        select(c.c.surface, c.c.public_id, c.c.secret_hash, c.c.revoked_at, c.c.last_used_at)
        .join(t.tenants, t.tenants.c.tenant_id == c.c.tenant_id)
        .where(t.tenants.c.name == name)
        .order_by(c.c.created_at, c.c.surface, c.c.secret_hash)
    )
    if live_only:
        query = query.where(c.c.revoked_at.is_(None))
    with container.engine.connect() as conn:
        return list(conn.execute(query))


def _by_surface(container: Container, name: str) -> dict[str, Any]:
    return {row.surface: row for row in _credentials(container, name)}


def _live(container: Container, name: str, surface: str) -> list[Any]:
    return [r for r in _credentials(container, name, live_only=True) if r.surface == surface]


def test_the_demo_tenant_prints_the_readme_credentials_in_the_readme_order(
    container: Container,
) -> None:
    store = container.tenant_store
    created = tenants.create_tenant(store, name="demo", now=1, demo=True)
    assert orjson.dumps(created.fields()) == orjson.dumps(
        {"tenant": "demo", **tenants.DEMO_CREDENTIALS}
    )
    kept = _by_surface(container, "demo")
    assert {surface: row.secret_hash for surface, row in kept.items()} == {
        "gainsight": hash_secret("demo-gainsight-key"),
        "engagelab": hash_secret("demo-master-secret"),
        "insider": hash_secret("demo-request-token"),
        "native": hash_secret("demo-native-token"),
    }
    assert "demo-native-token" not in repr(created)


def test_a_fresh_tenants_secrets_are_kept_only_as_hashes(container: Container) -> None:
    store = container.tenant_store
    created = tenants.create_tenant(store, name="acme_co", now=1)
    fields = created.fields()
    assert list(fields) == ["tenant", "gainsight", "engagelab", "insider", "native"]
    assert list(fields["engagelab"]) == ["app_key", "master_secret"]
    assert fields["insider"]["partner_name"] == "acmeco"
    kept = _by_surface(container, "acme_co")
    assert kept["native"].secret_hash == hash_secret(fields["native"]["token"])
    assert kept["engagelab"].public_id == fields["engagelab"]["app_key"]
    secrets = [fields["gainsight"]["api_key"], fields["engagelab"]["master_secret"]]
    secrets += [fields["insider"]["request_token"], fields["native"]["token"]]
    stored = repr(_credentials(container, "acme_co"))
    assert [s for s in secrets if s in stored] == []
    with pytest.raises(ConflictError) as taken:
        tenants.create_tenant(store, name="acme_co", now=2)
    assert str(taken.value) == "tenant 'acme_co' already exists"


def test_demo_secrets_are_refused_in_production_before_the_store_is_asked(
    container: Container, tmp_path: Path
) -> None:
    store = container.tenant_store
    tenants.create_tenant(store, name="demo", now=1, demo=True)
    refusing = tenants.Authenticator(store, default_revival_window=60, refuse_demo=True)
    with pytest.raises(AuthenticationError) as refused:
        refusing.native("demo-native-token")
    assert refused.value.reason == REFUSED
    # Signing in with a native token records its use; the refusal recorded none.
    assert _by_surface(container, "demo")["native"].last_used_at is None
    # A store whose database has no tables fails any question put to it: refused all the same,
    # so the refusal came before the look-up.
    empty = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")
    try:
        with pytest.raises(OperationalError):
            SqlTenants(empty).holder_of(Surface.NATIVE, hash_secret("demo-native-token"), None)
        unanswering = tenants.Authenticator(
            SqlTenants(empty), default_revival_window=60, refuse_demo=True
        )
        with pytest.raises(AuthenticationError) as refused_unasked:
            unanswering.native("demo-native-token")
    finally:
        empty.dispose()
    assert refused_unasked.value.reason == REFUSED

    caller = tenants.Authenticator(store, default_revival_window=60).native("demo-native-token")
    assert (caller.tenant.name, caller.tenant.revival_window_seconds) == ("demo", 60.0)
    assert caller.credential_ref == hash_secret("demo-native-token")[:16]
    assert _by_surface(container, "demo")["native"].last_used_at is not None


@pytest.mark.parametrize(
    ("surface", "keeps"),
    [("gainsight", False), ("engagelab", True), ("insider", True), ("native", False)],
)
def test_a_rotation_keeps_the_public_half_only_where_clients_configure_it(
    container: Container, surface: str, keeps: bool
) -> None:
    store = container.tenant_store
    before = tenants.create_tenant(store, name="acme", now=1).fields()[surface]
    fresh = tenants.rotate_credentials(store, name="acme", surface=surface, now=2).fields()
    assert list(fresh) == list(before)
    public = [k for k in fresh if k in ("app_key", "partner_name")]
    assert [fresh[k] for k in public] == [before[k] for k in public]
    assert all(fresh[k] != before[k] for k in fresh if k not in public)
    # The old credential is revoked: one of the surface's is live, the fresh one.
    [live] = _live(container, "acme", surface)
    [secret] = [fresh[k] for k in fresh if k not in public]
    assert live.secret_hash == hash_secret(secret)

    # Where a fresh credential's public half equals the old one (an Insider partner name comes
    # from the tenant's name), or has none, only a public half that differs shows whether the
    # rotation kept it.
    with container.engine.begin() as conn:
        conn.execute(
            update(t.credentials)
            .where(
                t.credentials.c.secret_hash == live.secret_hash,
                t.credentials.c.revoked_at.is_(None),
            )
            .values(public_id="planted-public-half")
        )
    again = tenants.rotate_credentials(store, name="acme", surface=surface, now=3)
    assert [r.public_id for r in _live(container, "acme", surface)] == [again.public_id]
    assert (again.public_id == "planted-public-half") is keeps


def test_naming_an_unknown_tenant_is_not_found_everywhere(container: Container) -> None:
    store = container.tenant_store
    calls: list[Callable[[], object]] = [
        lambda: tenants.create_token(store, name="nobody", scopes=["read"], now=1),
        lambda: tenants.rotate_credentials(store, name="nobody", surface="native", now=1),
        lambda: tenants.cli_caller(store, name="nobody", revival_window=1, share=0.1, floor=1),
        lambda: native_tokens.list_tokens(store, name="nobody"),
        lambda: native_tokens.revoke_token(store, name="nobody", token="0" * 16, now=1),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as missing:
            call()
        assert str(missing.value) == "no tenant named 'nobody'"
