"""Every table that holds person data, and how to find a subject's rows in it.

A subject is a profile or a device. A purge is complete only when no target of its kind holds a
row of it. A test fails when a table is added to the schema without being listed here or in
``TABLES_WITHOUT_PERSON_DATA``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, or_, select

from obliviate.storage import tables as t

Predicate = Callable[[str, int], ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class DeletionTarget:
    table: Table
    # The name of what it holds in deletion counts and receipts.
    kind: str
    # (tenant_id, subject id) -> the condition that selects the subject's rows.
    rows_of: Predicate


def _column_is(table: Table, column: str) -> Predicate:
    def rows_of(tenant_id: str, subject_id: int) -> ColumnElement[bool]:
        return and_(table.c.tenant_id == tenant_id, table.c[column] == subject_id)

    return rows_of


def _tags_of_owned_devices(tenant_id: str, profile_id: int) -> ColumnElement[bool]:
    owned = select(t.devices.c.device_id).where(
        t.devices.c.tenant_id == tenant_id, t.devices.c.profile_id == profile_id
    )
    return and_(t.device_tags.c.tenant_id == tenant_id, t.device_tags.c.device_id.in_(owned))


def _keys_of_profile(tenant_id: str, profile_id: int) -> ColumnElement[bool]:
    owned = select(t.devices.c.device_id).where(
        t.devices.c.tenant_id == tenant_id, t.devices.c.profile_id == profile_id
    )
    return and_(
        t.erasure_keys.c.tenant_id == tenant_id,
        or_(t.erasure_keys.c.holder_id == profile_id, t.erasure_keys.c.holder_id.in_(owned)),
    )


# Order matters: the keys first (a purge destroys them as it begins, so this only sweeps what
# a crash could leave), then children (tags before the devices that lead to them, everything
# before the profile row), so a crash between batches never leaves a row that cannot be found
# again.
PROFILE_TARGETS: tuple[DeletionTarget, ...] = (
    DeletionTarget(t.erasure_keys, "keys", _keys_of_profile),
    DeletionTarget(t.device_tags, "tags", _tags_of_owned_devices),
    DeletionTarget(t.devices, "devices", _column_is(t.devices, "profile_id")),
    DeletionTarget(t.events, "events", _column_is(t.events, "profile_id")),
    DeletionTarget(t.identifiers, "identifiers", _column_is(t.identifiers, "profile_id")),
    DeletionTarget(t.merges, "merges", _column_is(t.merges, "survivor_profile_id")),
    DeletionTarget(t.profiles, "profiles", _column_is(t.profiles, "profile_id")),
)

DEVICE_TARGETS: tuple[DeletionTarget, ...] = (
    DeletionTarget(t.erasure_keys, "keys", _column_is(t.erasure_keys, "holder_id")),
    DeletionTarget(t.device_tags, "tags", _column_is(t.device_tags, "device_id")),
    DeletionTarget(t.devices, "devices", _column_is(t.devices, "device_id")),
)

TARGETS_BY_SUBJECT: dict[str, tuple[DeletionTarget, ...]] = {
    "profile": PROFILE_TARGETS,
    "device": DEVICE_TARGETS,
}

TABLES_WITHOUT_PERSON_DATA: dict[str, str] = {
    "tenants": "workspace names and settings",
    "credentials": "hashes of API secrets",
    "jobs": "internal ids and keyed hashes; an unfinished batch's lookup hashes of its "
    "subjects, erased when the batch ends",
    "receipts": "keyed hashes of subjects and counts",
    "suppressions": "keyed hashes of identifiers that may not come back",
    "idempotency_keys": "replayed answers: job ids and counts, no identifiers",
    "deletion_tally": "deletions per tenant, kind and minute",
    "deployment": "the secret key's fingerprint",
    "accounts": "organisations (a company, a workspace): ids, names and firmographics; a "
    "user's membership is the user's own sealed accountId attribute, gone with the user",
}
