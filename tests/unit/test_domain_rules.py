from __future__ import annotations

from obliviate.domain.deletion import backoff_seconds
from obliviate.domain.profiles import (
    Profile,
    ProfileState,
    has_expired,
    is_revivable,
    merge_attributes,
    revival_deadline,
)
from obliviate.security import KeyedHasher, hash_secret, secret_matches
from obliviate.services.receipts import append_receipt, first_broken_receipt, receipt_hash


def _soft_deleted(until: int) -> Profile:
    return Profile(1, ProfileState.SOFT_DELETED, {}, 0, 0, 0, until)


def test_a_soft_deleted_profile_is_revivable_strictly_before_its_deadline() -> None:
    deadline = revival_deadline(1_000, 2.0)
    assert deadline == 3_000
    assert is_revivable(_soft_deleted(deadline), 2_999)
    assert not is_revivable(_soft_deleted(deadline), 3_000)
    assert has_expired(_soft_deleted(deadline), 3_000)


def test_active_and_purging_profiles_are_never_revivable() -> None:
    for state in (ProfileState.ACTIVE, ProfileState.PURGING):
        profile = Profile(1, state, {}, 0, 0, None, 10_000)
        assert not is_revivable(profile, 0)
        assert not has_expired(profile, 20_000)


def test_partial_update_keeps_omitted_fields_and_merges_custom() -> None:
    merged = merge_attributes(
        {"email": "a", "firstName": "b", "custom": {"x": 1, "y": 2}},
        {"firstName": "c", "custom": {"y": 3}},
    )
    assert merged == {"email": "a", "firstName": "c", "custom": {"x": 1, "y": 3}}


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_seconds(n, 1.0, 5.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_secrets_are_compared_by_hash() -> None:
    stored = hash_secret("s3cret")
    assert stored != "s3cret"
    assert secret_matches("s3cret", stored)
    assert not secret_matches("s3creT", stored)


def test_keyed_hash_depends_on_key_type_and_value() -> None:
    one, two = KeyedHasher(b"k1"), KeyedHasher(b"k2")
    assert one("uuid", "u1") == one("uuid", "u1")
    assert one("uuid", "u1") != two("uuid", "u1")
    assert one("uuid", "u1") != one("email", "u1")
    assert "u1" not in one("uuid", "u1")


class _MemoryReceipts:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def last_link(self) -> tuple[int, str] | None:
        if not self.rows:
            return None
        return int(str(self.rows[-1]["seq"])), str(self.rows[-1]["hash"])

    def append(self, record: dict[str, object]) -> None:
        self.rows.append(dict(record))


class _Uow:
    def __init__(self) -> None:
        self.receipts = _MemoryReceipts()


def test_receipt_chain_detects_an_edited_or_removed_receipt() -> None:
    uow = _Uow()
    for job in range(3):
        append_receipt(
            uow,  # type: ignore[arg-type]
            job_id=job,
            surface="gainsight",
            credential_ref="c",
            subject_hash="h",
            reason="hard_delete",
            counts={"events": job},
            requested_at=1,
            now=2,
        )
    rows = [dict(r) for r in uow.receipts.rows]
    assert first_broken_receipt(rows) is None
    assert all(receipt_hash(r) == r["hash"] for r in rows)

    edited = [dict(r) for r in rows]
    edited[1]["counts"] = {"events": 0}
    assert first_broken_receipt(edited) == rows[1]["receipt_id"]

    removed = [rows[0], rows[2]]
    assert first_broken_receipt(removed) == rows[2]["receipt_id"]


def test_the_deletion_allowance_is_a_share_of_the_population_never_below_the_floor() -> None:
    from obliviate.domain.guard import deletion_allowance

    assert deletion_allowance(population=10_000, share=0.10, floor=100) == 1_000
    assert deletion_allowance(population=50, share=0.10, floor=100) == 100
    assert deletion_allowance(population=1_005, share=0.10, floor=0) == 100
