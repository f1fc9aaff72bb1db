"""The forget-log entries services record as they acknowledge deletions and suppressions."""

from __future__ import annotations

from collections.abc import Iterable

from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.services.ports import UnitOfWork


def revived(uow: UnitOfWork, profile_ids: Iterable[int], *, now: int) -> None:
    """Profiles back from a soft delete, with everyone merged into them (as a soft delete
    names them)."""
    ids = tuple(sorted({m for pid in profile_ids for m in (pid, *uow.profiles.merged_into(pid))}))
    if ids:
        uow.forget(ForgetEntry(ForgetKind.REVIVE, tenant_id=uow.tenant_id, at=now, profile_ids=ids))


def suppressed(
    uow: UnitOfWork, hashes: Iterable[tuple[str, str]], *, key_id: str, now: int
) -> None:
    """Suppression hashes added, made under the key ``key_id``."""
    pairs = tuple(hashes)
    if pairs:
        uow.forget(
            ForgetEntry(
                ForgetKind.SUPPRESS, tenant_id=uow.tenant_id, at=now, hashes=pairs, key_id=key_id
            )
        )


def unsuppressed(uow: UnitOfWork, hashes: Iterable[tuple[str, str]], *, now: int) -> None:
    """Suppressions lifted: the hashes under every key still accepted (no single key)."""
    pairs = tuple(hashes)
    if pairs:
        uow.forget(
            ForgetEntry(ForgetKind.UNSUPPRESS, tenant_id=uow.tenant_id, at=now, hashes=pairs)
        )


def device_deleted(uow: UnitOfWork, device_id: int, *, now: int) -> None:
    uow.forget(
        ForgetEntry(
            ForgetKind.DEVICE_DELETE, tenant_id=uow.tenant_id, at=now, device_ids=(device_id,)
        )
    )


def subjects_deleted(
    uow: UnitOfWork,
    lookup_hashes: Iterable[tuple[str, str]],
    *,
    mode: str,
    suppress: bool,
    now: int,
) -> None:
    pairs = tuple(lookup_hashes)
    if pairs:
        uow.forget(
            ForgetEntry(
                ForgetKind.SUBJECTS_DELETE,
                tenant_id=uow.tenant_id,
                at=now,
                hashes=pairs,
                mode=mode,
                suppress=suppress,
            )
        )
