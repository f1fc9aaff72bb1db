"""Receipts: an append-only, hash-chained record of each completed deletion."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

from obliviate.services.ports import UnitOfWork

GENESIS_HASH = "0" * 64
_CHAINED_FIELDS = (
    "seq",
    "receipt_id",
    "job_id",
    "surface",
    "credential_ref",
    "subject_hash",
    "reason",
    "counts",
    "requested_at",
    "completed_at",
    "prev_hash",
)


def receipt_hash(record: dict[str, Any]) -> str:
    body = {name: record[name] for name in _CHAINED_FIELDS}
    # Chained once recorded; receipts from before erasure was tracked have none, and their
    # hashes stay what they were.
    if record.get("erased_at") is not None:
        body["erased_at"] = record["erased_at"]
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def append_receipt(
    uow: UnitOfWork,
    *,
    job_id: int,
    surface: str,
    credential_ref: str,
    subject_hash: str,
    reason: str,
    counts: dict[str, int],
    requested_at: int,
    now: int,
    erased_at: int | None = None,
) -> str:
    last = uow.receipts.last_link()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
    record: dict[str, Any] = {
        "seq": seq,
        "receipt_id": secrets.token_hex(16),
        "job_id": job_id,
        "surface": surface,
        "credential_ref": credential_ref,
        "subject_hash": subject_hash,
        "reason": reason,
        "counts": dict(sorted(counts.items())),
        "requested_at": requested_at,
        "completed_at": now,
        "prev_hash": prev_hash,
        "erased_at": erased_at,
    }
    record["hash"] = receipt_hash(record)
    uow.receipts.append(record)
    return str(record["receipt_id"])


def first_broken_receipt(receipts: list[dict[str, Any]]) -> str | None:
    """The id of the first receipt whose content or link does not check out, if any."""
    prev_hash = GENESIS_HASH
    for expected_seq, record in enumerate(receipts, start=1):
        if record["seq"] != expected_seq or record["prev_hash"] != prev_hash:
            return str(record["receipt_id"])
        if receipt_hash(record) != record["hash"]:
            return str(record["receipt_id"])
        prev_hash = record["hash"]
    return None
