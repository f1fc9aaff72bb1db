"""Every table that holds person data, and the column naming the person.

A purge is complete only when no target holds a row of the subject. A test fails when a table
is added to the schema without being listed here or in ``TABLES_WITHOUT_PERSON_DATA``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from obliviate.storage import tables as t


@dataclass(frozen=True, slots=True)
class DeletionTarget:
    table: Table
    subject_column: str
    # The name of what it holds in deletion counts and receipts.
    kind: str


# Order matters: children before the profile row, so a crash never leaves orphans unreachable.
DELETION_TARGETS: tuple[DeletionTarget, ...] = (
    DeletionTarget(t.events, "profile_id", "events"),
    DeletionTarget(t.identifiers, "profile_id", "identifiers"),
    DeletionTarget(t.profiles, "profile_id", "profiles"),
)

TABLES_WITHOUT_PERSON_DATA: dict[str, str] = {
    "tenants": "workspace names and settings",
    "credentials": "hashes of API secrets",
    "jobs": "internal profile ids and keyed hashes only",
    "receipts": "keyed hashes of subjects and counts",
}
