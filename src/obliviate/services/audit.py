"""Checking and exporting the receipt chains, and chaining subject access exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from obliviate.domain.exports import EXPORT_REASON
from obliviate.services.ports import UnitOfWork
from obliviate.services.receipts import append_receipt, first_broken_receipt


@dataclass(frozen=True, slots=True)
class AuditProblem:
    receipt_id: str
    what: str


def verify_tenant(uow: UnitOfWork) -> AuditProblem | None:
    """The first receipt that was altered or removed, if any.

    The chain shows an edited receipt and one removed from the middle; a receipt removed from
    the end is caught by its job, which still names it.
    """
    receipts = uow.receipts.all_in_order()
    broken = first_broken_receipt(receipts)
    if broken is not None:
        return AuditProblem(broken, "altered, or the receipt before it was removed")
    present = {str(r["receipt_id"]) for r in receipts}
    for job_id, receipt_id in sorted(uow.job_views.receipts_promised(), key=lambda p: p[1]):
        if receipt_id not in present:
            return AuditProblem(receipt_id, f"removed (job {job_id} wrote it)")
    return None


def export_since(uow: UnitOfWork, *, since: int, page: int = 1000) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        rows = uow.receipts.completed_since(since, after_seq=after, limit=page)
        yield from rows
        if len(rows) < page:
            return
        after = int(rows[-1]["seq"])


def record_export(
    uow: UnitOfWork,
    *,
    surface: str,
    credential_ref: str,
    subject_hash: str,
    counts: dict[str, int],
    requested_at: int,
    now: int,
) -> str:
    """Chain an export as a receipt of its own: who asked, whose data (the keyed hash of the
    uuid, as a hard delete names its subject) and how many rows of each kind it disclosed.
    ``reason`` tells it from a deletion; an export has no job, so it takes a fresh id in the
    job's place (unique per tenant, as the receipts' index wants). Verification checks it like
    every receipt: by its hash and its link."""
    return append_receipt(
        uow,
        job_id=uow.exports.new_record_id(now),
        surface=surface,
        credential_ref=credential_ref,
        subject_hash=subject_hash,
        reason=EXPORT_REASON,
        counts=counts,
        requested_at=requested_at,
        now=now,
    )
