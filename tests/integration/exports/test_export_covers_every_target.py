"""The export is walked from the deletion-target registry: every kind of row a purge removes
is in the export (as many as the purge would count) or declared not exported, with a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import and_
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.domain.exports import NOT_EXPORTED, SECTION_OF_KIND, UncoveredTarget, section_of
from obliviate.storage import deletion_targets
from obliviate.storage import tables as t
from obliviate.storage.deletion_targets import PROFILE_TARGETS, DeletionTarget
from tests.integration.exports.support import export_document, native_caller
from tests.support.tenants import Tenant
from tests.surfaces.native.support import create_profile, person_with_history, put_profile

UUID = "cover-ada"

# How many rows of each kind an export document gives back.
EXPORTED: dict[str, Callable[[Any], int]] = {
    "profiles": lambda doc: 1 if doc["subject"] else 0,
    "identifiers": lambda doc: len(doc["identifiers"]),
    "events": lambda doc: len(doc["events"]),
    "devices": lambda doc: len(doc["devices"]),
    "tags": lambda doc: sum(len(d["tags"]) for d in doc["devices"]),
    "merges": lambda doc: len(doc["merges"]),
}


def test_every_profile_deletion_target_is_exported_or_declared_not_exported() -> None:
    kinds = [target.kind for target in PROFILE_TARGETS]
    for kind in kinds:
        section_of(kind)
    assert set(SECTION_OF_KIND) | set(NOT_EXPORTED) == set(kinds)
    assert not set(SECTION_OF_KIND) & set(NOT_EXPORTED)


def test_a_target_kind_nobody_covered_is_refused() -> None:
    with pytest.raises(UncoveredTarget, match="'notes'"):
        section_of("notes")


def _person_in_every_target(client: TestClient, tenant: Tenant) -> None:
    person_with_history(client, tenant, UUID)
    create_profile(client, tenant, f"{UUID}-twin", phone_number="+491511234569")
    merged = put_profile(client, tenant, UUID, identifiers={"phone_number": "+491511234569"})
    assert merged.status_code == 200, merged.text


def test_the_export_gives_back_as_many_rows_of_each_kind_as_a_purge_would_remove(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    _person_in_every_target(client, tenant)
    caller = native_caller(container, tenant)
    with container.uow_factory(caller.tenant.tenant_id, write=False) as uow:
        profile = uow.profiles.find_by_identifier("uuid", UUID)
        assert profile is not None
        held = uow.person_rows.count("profile", profile.profile_id)

    doc = export_document(container, caller, UUID)

    # Every kind is planted, so a kind the export dropped shows as a difference.
    assert all(held[kind] > 0 for kind in SECTION_OF_KIND), held
    exported = {kind: EXPORTED[kind](doc) for kind in held if section_of(kind) is not None}
    assert exported == {kind: n for kind, n in held.items() if kind not in NOT_EXPORTED}


def test_an_export_fails_loudly_when_a_new_target_is_not_covered(
    client: TestClient, container: Container, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    _person_in_every_target(client, tenant)
    notes = DeletionTarget(
        t.accounts, "notes", lambda tenant_id, _: and_(t.accounts.c.tenant_id == tenant_id)
    )
    registry = {**deletion_targets.TARGETS_BY_SUBJECT, "profile": (*PROFILE_TARGETS, notes)}
    monkeypatch.setattr("obliviate.storage.repositories.person_rows.TARGETS_BY_SUBJECT", registry)
    caller = native_caller(container, tenant)

    with pytest.raises(UncoveredTarget, match="'notes'"):
        export_document(container, caller, UUID)
