"""Tenant services over an in-memory store: credential rules, the demo refusal and what the
command line prints, without a database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import orjson
import pytest

from obliviate.domain.errors import AuthenticationError, ConflictError, NotFoundError
from obliviate.domain.tenants import (
    CredentialHolder,
    NativeToken,
    StoredCredential,
    Surface,
    TenantRecord,
    token_id,
)
from obliviate.security import hash_secret
from obliviate.services import native_tokens, tenants
from obliviate.services.tenant_port import TenantStore


class MemoryTenants:
    """The ``TenantStore`` port in a dict, keeping what the services asked of it."""

    def __init__(self) -> None:
        self.records: dict[str, TenantRecord] = {}
        self.credentials: dict[str, list[StoredCredential]] = {}
        self.revoked: set[str] = set()
        self.lookups = 0
        self.kept_public_id: list[bool] = []

    def add_tenant(
        self, *, tenant_id: str, name: str, now: int, credentials: Sequence[StoredCredential]
    ) -> bool:
        if name in self.records:
            return False
        self.records[name] = TenantRecord(tenant_id, name, now, None)
        self.credentials[name] = list(credentials)
        return True

    def tenants(self) -> list[TenantRecord]:
        return sorted(self.records.values(), key=lambda r: (r.created_at, r.name))

    def tenant_named(self, name: str) -> TenantRecord | None:
        return self.records.get(name)

    def holder_of(
        self, surface: Surface, secret_hash: str, public_id: str | None
    ) -> CredentialHolder | None:
        self.lookups += 1
        for name, held in self.credentials.items():
            for c in held:
                if (c.surface, c.secret_hash) == (surface, secret_hash) and (
                    public_id is None or c.public_id == public_id
                ):
                    if c.secret_hash in self.revoked:
                        return None
                    scopes = None if c.scopes is None else frozenset(c.scopes)
                    return CredentialHolder(self.records[name], c.secret_hash, scopes, None)
        return None

    def record_native_use(
        self, tenant_id: str, secret_hash: str, *, now: int, if_last_used_by: int
    ) -> None:
        pass

    def add_credential(self, name: str, credential: StoredCredential) -> bool:
        if name not in self.records:
            return False
        self.credentials[name].append(credential)
        return True

    def replace_credentials(
        self, name: str, fresh: StoredCredential, *, keep_public_id: bool
    ) -> StoredCredential | None:
        if name not in self.records:
            return None
        self.kept_public_id.append(keep_public_id)
        old = [c for c in self.credentials[name] if c.surface == fresh.surface]
        self.revoked |= {c.secret_hash for c in old}
        if keep_public_id and old and old[0].public_id:
            fresh = replace(fresh, public_id=old[0].public_id)
        self.credentials[name].append(fresh)
        return fresh

    def native_tokens(self, name: str) -> list[NativeToken] | None:
        if name not in self.records:
            return None
        return [
            NativeToken(token_id(c.secret_hash), c.scopes, c.created_at, None)
            for c in self.credentials[name]
            if c.surface is Surface.NATIVE and c.secret_hash not in self.revoked
        ]

    def revoke_native_tokens(self, name: str, token: str, *, now: int) -> int | None:
        if name not in self.records:
            return None
        hit = {
            c.secret_hash
            for c in self.credentials[name]
            if c.surface is Surface.NATIVE
            and c.secret_hash.startswith(token)
            and c.secret_hash not in self.revoked
        }
        self.revoked |= hit
        return len(hit)


@pytest.fixture
def store() -> MemoryTenants:
    return MemoryTenants()


def test_the_memory_store_is_a_tenant_store(store: MemoryTenants) -> None:
    typed: TenantStore = store
    assert typed is store


def test_the_demo_tenant_prints_the_readme_credentials_in_the_readme_order(
    store: MemoryTenants,
) -> None:
    created = tenants.create_tenant(store, name="demo", now=1, demo=True)
    assert orjson.dumps(created.fields()) == orjson.dumps(
        {"tenant": "demo", **tenants.DEMO_CREDENTIALS}
    )
    assert [c.secret_hash for c in store.credentials["demo"]] == [
        hash_secret("demo-gainsight-key"),
        hash_secret("demo-master-secret"),
        hash_secret("demo-request-token"),
        hash_secret("demo-native-token"),
    ]
    assert "demo-native-token" not in repr(created)


def test_a_fresh_tenants_secrets_are_kept_only_as_hashes(store: MemoryTenants) -> None:
    created = tenants.create_tenant(store, name="acme_co", now=1)
    fields = created.fields()
    assert list(fields) == ["tenant", "gainsight", "engagelab", "insider", "native"]
    assert list(fields["engagelab"]) == ["app_key", "master_secret"]
    assert fields["insider"]["partner_name"] == "acmeco"
    kept = {c.surface: c for c in store.credentials["acme_co"]}
    assert kept[Surface.NATIVE].secret_hash == hash_secret(fields["native"]["token"])
    assert kept[Surface.ENGAGELAB].public_id == fields["engagelab"]["app_key"]
    with pytest.raises(ConflictError) as taken:
        tenants.create_tenant(store, name="acme_co", now=2)
    assert str(taken.value) == "tenant 'acme_co' already exists"


def test_demo_secrets_are_refused_in_production_before_the_store_is_asked(
    store: MemoryTenants,
) -> None:
    tenants.create_tenant(store, name="demo", now=1, demo=True)
    refusing = tenants.Authenticator(store, default_revival_window=60, refuse_demo=True)
    with pytest.raises(AuthenticationError) as refused:
        refusing.native("demo-native-token")
    assert refused.value.reason == "demo credentials are refused when OBLIVIATE_ENV=production"
    assert store.lookups == 0
    caller = tenants.Authenticator(store, default_revival_window=60).native("demo-native-token")
    assert (caller.tenant.name, caller.tenant.revival_window_seconds) == ("demo", 60.0)
    assert caller.credential_ref == hash_secret("demo-native-token")[:16]


@pytest.mark.parametrize(
    ("surface", "keeps"),
    [("gainsight", False), ("engagelab", True), ("insider", True), ("native", False)],
)
def test_a_rotation_keeps_the_public_half_only_where_clients_configure_it(
    store: MemoryTenants, surface: str, keeps: bool
) -> None:
    before = tenants.create_tenant(store, name="acme", now=1).fields()[surface]
    fresh = tenants.rotate_credentials(store, name="acme", surface=surface, now=2).fields()
    assert store.kept_public_id == [keeps]
    assert list(fresh) == list(before)
    public = [k for k in fresh if k in ("app_key", "partner_name")]
    assert [fresh[k] for k in public] == [before[k] for k in public]
    assert all(fresh[k] != before[k] for k in fresh if k not in public)


def test_naming_an_unknown_tenant_is_not_found_everywhere(store: MemoryTenants) -> None:
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
