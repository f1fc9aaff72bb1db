"""One deployment key per database: recorded at first use, checked by every process, rotated
without voiding a suppression."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container, create_app, open_deployment
from obliviate.security import DeploymentKeys, key_fingerprint, key_id
from obliviate.settings import Settings
from obliviate.storage import tables as t
from obliviate.storage.deployment_keys import (
    KEY_MISMATCH,
    DeploymentKeyError,
    KeyNeed,
    rotate,
)
from obliviate.storage.engine import make_engine
from obliviate.storage.migrate import migrate
from tests.support.databases import fresh_database
from tests.support.headers import native_headers
from tests.support.rows import tenant_id_of
from tests.support.tenants import new_tenant

OLD, NEW, OTHER = "old-deployment-key", "new-deployment-key", "someone-elses-key"
EMAIL = "gone@example.com"


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(backend, tmp_path, request) as fresh:
        yield fresh


@pytest.fixture
def opened(url: str) -> Iterator[list[Container]]:  # noqa: ARG001 (teardown order, see below)
    """Containers the test opens, disposed at the end: before the database of ``url`` is
    dropped, which requesting ``url`` here makes pytest do after this teardown."""
    made: list[Container] = []
    yield made
    for container in made:
        container.engine.dispose()


def _settings(url: str, tmp_path: Path, key: str | None, *previous: str) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "secret_key": key,
        "previous_secret_keys": previous,
        "data_dir": tmp_path,
        "auth_cache_ttl": 0,
    }
    return Settings(**values)


def _open(
    opened: list[Container], url: str, tmp_path: Path, key: str | None, *previous: str
) -> Container:
    container = open_deployment(_settings(url, tmp_path, key, *previous))
    opened.append(container)
    return container


def configured(key: str, *previous: str) -> DeploymentKeys:
    """The keys as a process is configured with them (what ``keys rotate`` acts on)."""
    return DeploymentKeys(key.encode(), tuple(p.encode() for p in previous))


def _refusal(url: str, tmp_path: Path, key: str | None, *previous: str) -> str:
    with pytest.raises(DeploymentKeyError) as refused:
        open_deployment(_settings(url, tmp_path, key, *previous))
    return str(refused.value)


def _deployment_rows(container: Container) -> dict[str, str]:
    with container.engine.connect() as conn:
        return {r.name: r.fact for r in conn.execute(select(t.deployment))}


def _suppress(container: Container, email: str) -> dict[str, Any]:
    """A suppression made through the native API (on SQLite: through the group committer)."""
    tenant = new_tenant(container)
    headers = native_headers(tenant)
    with TestClient(create_app(container)) as client:
        made = client.post(
            "/api/v1/suppressions", json={"type": "email", "value": email}, headers=headers
        )
    assert made.status_code == 201, made.text
    return tenant


def _recreate(container: Container, tenant: dict[str, Any], email: str) -> Any:
    headers = native_headers(tenant)
    with TestClient(create_app(container)) as client:
        return client.put(
            "/api/v1/profiles/someone-new", json={"identifiers": {"email": email}}, headers=headers
        )


def _assert_suppressed(response: Any) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == "this email is suppressed and cannot be re-created"


def test_first_use_records_a_fingerprint_that_does_not_reveal_the_key(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    container = _open(opened, url, tmp_path, OLD)
    rows = _deployment_rows(container)
    assert rows["secret_key"] == key_fingerprint(OLD.encode())
    assert rows == {
        "secret_key": rows["secret_key"],
        f"key:{key_id(OLD.encode())}": rows["secret_key"],
        # The vault key, wrapped under the secret: never the secret or the vault key itself.
        "vault": rows["vault"],
    }
    assert OLD not in " ".join(rows.values())
    assert OLD.encode().hex() not in rows["secret_key"]
    assert OLD.encode().hex() not in rows["vault"]
    # The same key again is the same deployment.
    _open(opened, url, tmp_path, OLD)


def test_a_process_with_another_key_is_refused_with_the_exact_message(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    _open(opened, url, tmp_path, OLD)
    assert _refusal(url, tmp_path, OTHER) == KEY_MISMATCH
    # Listing the real key as a previous one does not make another key current.
    assert _refusal(url, tmp_path, OTHER, NEW) == KEY_MISMATCH


def test_processes_starting_together_agree_on_the_first_key(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def open_with(key: str) -> None:
        start.wait()
        try:
            opened.append(open_deployment(_settings(url, tmp_path, key)))
            outcomes.append(f"started {key}")
        except DeploymentKeyError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=open_with, args=(k,)) for k in (OLD, OLD, OTHER, OTHER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) in (
        sorted([f"started {OLD}"] * 2 + [KEY_MISMATCH] * 2),
        sorted([f"started {OTHER}"] * 2 + [KEY_MISMATCH] * 2),
    )


def test_every_suppression_names_the_key_that_made_its_hash(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    container = _open(opened, url, tmp_path, OLD)
    tenant = _suppress(container, EMAIL)
    with container.uow_factory(tenant_id_of(container, tenant)) as uow:
        uow.suppressions.add("uuid", container.hasher("uuid", "u"), now=1, job_id=None)
        uow.commit()
    with container.engine.connect() as conn:
        key_ids = [r.key_id for r in conn.execute(select(t.suppressions.c.key_id))]
    assert key_ids == [key_id(OLD.encode())] * 2


def test_a_new_key_with_the_old_one_as_previous_keeps_old_suppressions(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    tenant = _suppress(_open(opened, url, tmp_path, OLD), EMAIL)
    moved = _open(opened, url, tmp_path, NEW, OLD)
    _assert_suppressed(_recreate(moved, tenant, EMAIL))
    # Not rotated yet: the database still names the old key, so the old processes still run.
    _open(opened, url, tmp_path, OLD)


def test_rotate_makes_the_new_key_current_and_says_which_old_key_is_still_needed(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    tenant = _suppress(_open(opened, url, tmp_path, OLD), EMAIL)
    moved = _open(opened, url, tmp_path, NEW, OLD)
    # Until the rotation, a process given the new key still hashes with the database's key:
    # processes not yet given the new one keep matching what it suppresses.
    assert moved.keys == configured(OLD, NEW)
    done = rotate(moved.engine, configured(NEW, OLD), now=2)
    assert done.changed
    assert done.current_id == key_id(NEW.encode())
    assert done.still_needed == (KeyNeed(key_id(OLD.encode()), 1, held=True),)
    assert _deployment_rows(moved)["secret_key"] == key_fingerprint(NEW.encode())
    again = rotate(moved.engine, configured(NEW, OLD), now=3)
    assert not again.changed
    assert again.still_needed == done.still_needed

    assert _refusal(url, tmp_path, OLD) == KEY_MISMATCH
    # Dropping the old key would void the suppression it made: refused, naming it.
    assert _refusal(url, tmp_path, NEW) == (
        f"1 suppressions were made under secret key {key_id(OLD.encode())}, which this "
        "process does not hold: keep that key in OBLIVIATE_PREVIOUS_SECRET_KEYS"
    )
    _assert_suppressed(_recreate(_open(opened, url, tmp_path, NEW, OLD), tenant, EMAIL))


def test_rotate_forgets_an_old_key_that_nothing_needs(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    _open(opened, url, tmp_path, OLD)
    moved = _open(opened, url, tmp_path, NEW, OLD)
    assert rotate(moved.engine, configured(NEW, OLD), now=2).still_needed == (
        KeyNeed(key_id(OLD.encode()), 0, held=True),
    )
    # Once the old key is out of the configuration, the next rotation drops it for good.
    alone = _open(opened, url, tmp_path, NEW)
    assert rotate(alone.engine, configured(NEW), now=3).still_needed == ()
    assert set(_deployment_rows(alone)) == {
        "secret_key",
        f"key:{key_id(NEW.encode())}",
        "vault",
    }


def test_a_process_left_on_the_old_key_honours_what_a_new_key_suppressed_before_rotation(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    _open(opened, url, tmp_path, OLD)
    tenant = _suppress(_open(opened, url, tmp_path, NEW, OLD), EMAIL)
    # Until `keys rotate`, the process given the new key hashed with the database's key, so a
    # process not yet given the new one runs on and still refuses the suppressed value.
    _assert_suppressed(_recreate(_open(opened, url, tmp_path, OLD), tenant, EMAIL))


def test_suppressions_from_before_keys_were_recorded_are_given_the_first_key(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    # As an older version left them: a suppression row without a key id.
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(t.suppressions).values(
                    tenant_id="t", id_type="email", value_hash="h", created_at=1, key_id=None
                )
            )
    finally:
        engine.dispose()
    # Which of two keys made them cannot be told: refused, and nothing recorded.
    assert _refusal(url, tmp_path, NEW, OLD) == (
        "this database holds suppressions from before its key was recorded: start it once "
        "with only the key that made them (no OBLIVIATE_PREVIOUS_SECRET_KEYS)"
    )
    container = _open(opened, url, tmp_path, OLD)
    with container.engine.connect() as conn:
        assert conn.execute(select(t.suppressions.c.key_id)).scalars().all() == [
            key_id(OLD.encode())
        ]


def test_a_rotation_rewraps_the_vault_and_every_sealed_value_still_opens(
    url: str, tmp_path: Path, opened: list[Container]
) -> None:
    first = _open(opened, url, tmp_path, OLD)
    tenant = new_tenant(first)
    headers = native_headers(tenant)
    body = {"attributes": {"city": "Lyon"}, "identifiers": {"email": "kept@example.com"}}
    with TestClient(create_app(first)) as client:
        assert client.put("/api/v1/profiles/kept", json=body, headers=headers).status_code == 201
    wrapped_under_old = _deployment_rows(first)["vault"]
    moved = _open(opened, url, tmp_path, NEW, OLD)
    rotate(moved.engine, configured(NEW, OLD), now=2)
    assert _deployment_rows(moved)["vault"] != wrapped_under_old
    # The vault opens under the new key alone (the suppression-free deployment needs no old
    # key), and every value sealed before the rotation reads back.
    alone = _open(opened, url, tmp_path, NEW)
    with TestClient(create_app(alone)) as client:
        read = client.get("/api/v1/profiles/kept", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["attributes"] == {"city": "Lyon"}
    assert {"type": "email", "value": "kept@example.com"} in read.json()["identifiers"]
