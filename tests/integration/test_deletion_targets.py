from __future__ import annotations

from sqlalchemy import inspect

from obliviate.bootstrap import Container
from obliviate.storage.deletion_targets import TABLES_WITHOUT_PERSON_DATA, TARGETS_BY_SUBJECT
from obliviate.storage.tables import DEPLOYMENT_TABLES, metadata

# Columns whose presence means a table holds a person's data.
PERSON_COLUMNS = {
    "profile_id",
    "device_id",
    "registration_id",
    "value",
    "attributes",
    "properties",
    "info",
    "alias",
    "tag",
    "email",
    "phone_number",
    # Sealed values, keyed hashes of values, and the keys that open them.
    "sealed_value",
    "sealed_body",
    "registration_hash",
    "sealed_details",
    "alias_hash",
    "sealed_alias",
    "tag_hash",
    "sealed_tag",
    "email_hash",
    "holder_id",
    "wrapped",
}
ALL_TARGETS = [target for targets in TARGETS_BY_SUBJECT.values() for target in targets]


def test_every_table_is_either_a_deletion_target_or_declared_free_of_person_data() -> None:
    targets = {t.table.name for t in ALL_TARGETS}
    assert not targets & set(TABLES_WITHOUT_PERSON_DATA)
    unclassified = set(metadata.tables) - targets - set(TABLES_WITHOUT_PERSON_DATA)
    assert not unclassified, f"register these in storage/deletion_targets.py: {unclassified}"


def test_every_table_with_a_person_column_is_a_deletion_target() -> None:
    targets = {t.table.name for t in ALL_TARGETS}
    for table in metadata.tables.values():
        if PERSON_COLUMNS & set(table.c.keys()):
            assert table.name in targets, f"{table.name} holds person data but is not a target"


def test_every_target_is_tenant_scoped_and_the_subject_row_goes_last() -> None:
    for subject, targets in TARGETS_BY_SUBJECT.items():
        assert targets[-1].table.name == f"{subject}s", "the subject's own row goes last"
        for target in targets:
            assert "tenant_id" in target.table.c
            clause = str(target.rows_of("t", 1).compile())
            assert "tenant_id" in clause, f"{target.kind} of a {subject} is not tenant-scoped"


def test_migrated_database_has_exactly_the_declared_tables(container: Container) -> None:
    live = set(inspect(container.engine).get_table_names()) - {"alembic_version"}
    assert live == set(metadata.tables)


def test_every_primary_key_starts_with_tenant_id() -> None:
    for table in metadata.tables.values():
        if table.name in DEPLOYMENT_TABLES:
            assert not PERSON_COLUMNS & set(table.c.keys()), table.name
            continue
        assert next(iter(table.primary_key.columns)).name == "tenant_id", table.name
