"""Use cases on devices, tags and aliases (EngageLab's model, also reachable natively)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from obliviate.domain.deletion import PURGE_DEVICE
from obliviate.domain.devices import (
    REGISTRATION_ID,
    Device,
    tags_after,
    validate_label,
    validate_registration_id,
)
from obliviate.domain.errors import ConflictError, DeviceNotFound, ProfileNotFound
from obliviate.domain.free_form import check_free_form
from obliviate.domain.guard import DeletionKind
from obliviate.domain.identifiers import Identifier, IdentifierType, uuid_value
from obliviate.domain.profiles import ProfileState, has_expired
from obliviate.domain.tenants import Caller
from obliviate.services import forget_entries
from obliviate.services.deletions import begin_expiry_purge
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import AliasTaken, SubjectHasher, UnitOfWork
from obliviate.services.suppression import refuse_suppressed


@dataclass(frozen=True, slots=True)
class DeviceView:
    device: Device
    tags: list[str]


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """What a set call asks for. ``alias``: None leaves it, "" unbinds, a value binds."""

    add: Sequence[str] = ()
    remove: Sequence[str] = ()
    clear_tags: bool = False
    alias: str | None = None


def _visible(uow: UnitOfWork, registration_id: str) -> Device:
    device = uow.devices.find_visible(validate_registration_id(registration_id))
    if device is None:
        raise DeviceNotFound(registration_id)
    return device


def get_device(uow: UnitOfWork, *, registration_id: str) -> DeviceView:
    device = _visible(uow, registration_id)
    return DeviceView(device, sorted(uow.devices.tags_of(device.device_id)))


def _owner_expired(uow: UnitOfWork, device: Device, now: int, hasher: SubjectHasher) -> bool:
    """True when the device hides behind an owner past its revival window; that owner's purge
    starts here, on sight, which retires the device and frees its registration id."""
    if device.profile_id is None:
        return False
    owner = uow.profiles.get(device.profile_id, for_update=True)
    if owner is None or not has_expired(owner, now):
        return False
    held = uow.profiles.identifiers_of(owner.profile_id)
    subject = hasher(*held[0]) if held else hasher("profile_id", str(owner.profile_id))
    begin_expiry_purge(uow, profile=owner, subject_hash=subject, now=now)
    return True


def _live_or_register(
    uow: UnitOfWork, registration_id: str, now: int, hasher: SubjectHasher, **fields: Any
) -> tuple[Device, bool]:
    """The live device for the id, registered if new. Returns (device, created)."""
    registration_id = validate_registration_id(registration_id)
    device = uow.devices.find_live(registration_id, for_update=True)
    if device is not None and uow.devices.find_visible(registration_id) is None:
        if not _owner_expired(uow, device, now, hasher):
            # Hidden behind a soft-deleted owner: not new, and not to be touched by others.
            raise DeviceNotFound(registration_id)
        device = None
    if device is None:
        refuse_suppressed(
            uow, identifiers=[Identifier(REGISTRATION_ID, registration_id)], hasher=hasher
        )
        registered = uow.devices.register(registration_id=registration_id, now=now, **fields)
        if registered is not None:
            return registered, True
        # Registered by a concurrent request between our look-up and insert: use that one.
        device = uow.devices.find_live(registration_id, for_update=True)
        if device is None:
            raise ConflictError("the device was registered and deleted concurrently")
    return device, False


def _bind(uow: UnitOfWork, device: Device, alias: str, now: int) -> None:
    try:
        uow.devices.bind_alias(device.device_id, alias, now=now)
    except AliasTaken:
        raise ConflictError("alias was bound by another request at the same time") from None


def set_device(
    uow: UnitOfWork,
    *,
    registration_id: str,
    change: DeviceChange,
    now: int,
    hasher: SubjectHasher,
) -> Device:
    """Change tags and alias; registers the device if it is new."""
    change = replace(
        change,
        add=[validate_label(tag, "tags") for tag in change.add],
        remove=[validate_label(tag, "tags") for tag in change.remove],
        alias=validate_label(change.alias, "alias") if change.alias else change.alias,
    )
    device, _ = _live_or_register(uow, registration_id, now, hasher)
    current = set() if change.clear_tags else uow.devices.tags_of(device.device_id)
    wanted = tags_after(current, list(change.add), list(change.remove))
    if change.clear_tags:
        uow.devices.remove_tags(device.device_id, None)
        uow.devices.add_tags(device.device_id, sorted(wanted))
    else:
        uow.devices.remove_tags(device.device_id, sorted(current - wanted))
        uow.devices.add_tags(device.device_id, sorted(wanted - current))
    if change.alias == "":
        uow.devices.update_fields(device.device_id, now=now, alias=None)
    elif change.alias is not None:
        _bind(uow, device, change.alias, now)
    else:
        uow.devices.update_fields(device.device_id, now=now)
    return device


def put_device(
    uow: UnitOfWork,
    *,
    registration_id: str,
    platform: str | None,
    timezone: str | None,
    info: dict[str, Any] | None,
    now: int,
    hasher: SubjectHasher,
) -> tuple[Device, bool]:
    """Set platform, timezone and info (the vendor's SDK sets these). Returns (device, created)."""
    check_free_form(info, field="info")
    device, created = _live_or_register(
        uow, registration_id, now, hasher, platform=platform, timezone=timezone, info=info
    )
    if created:
        return device, True
    values: dict[str, Any] = {}
    if platform is not None:
        values["platform"] = platform
    if timezone is not None:
        values["timezone"] = timezone
    if info is not None:
        values["info"] = info
    uow.devices.update_fields(device.device_id, now=now, **values)
    return device, False


def set_owner(uow: UnitOfWork, *, uuid: str, registration_id: str, now: int) -> Device:
    """Make a profile own a device: deleting the profile then deletes the device."""
    profile = uow.profiles.find_by_identifier(
        IdentifierType.UUID.value, uuid_value(uuid), for_update=True
    )
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(IdentifierType.UUID.value, uuid)
    device = _visible(uow, registration_id)
    uow.devices.update_fields(device.device_id, now=now, profile_id=profile.profile_id)
    return device


def delete_device(
    uow: UnitOfWork,
    *,
    caller: Caller,
    registration_id: str,
    now: int,
    hasher: SubjectHasher,
    confirmed: bool = False,
) -> int:
    """Hide the device, its tags, alias, info and timezone at once; enqueue the purge.

    Counted by the mass-deletion guard against the tenant's device allowance, which is kept
    apart from its profile allowance."""
    registration_id = validate_registration_id(registration_id)
    device = uow.devices.find_visible(registration_id)
    if device is None:
        raise DeviceNotFound(registration_id)
    admit_deletions(
        uow,
        tenant=caller.tenant,
        count=1,
        confirmed=confirmed,
        now=now,
        kind=DeletionKind.DEVICES,
    )
    return begin_device_purge(
        uow,
        device=device,
        subject_hash=hasher(REGISTRATION_ID, registration_id),
        surface=caller.surface.value,
        credential_ref=caller.credential_ref,
        requested_at=now,
        now=now,
    )


def begin_device_purge(
    uow: UnitOfWork,
    *,
    device: Device,
    subject_hash: str,
    surface: str,
    credential_ref: str,
    requested_at: int,
    now: int,
) -> int:
    """Hide a live device for good, destroy its key and enqueue the removal of its rows."""
    released = uow.devices.retire(device.device_id, now=now)
    # The key goes first, as for a profile: from this commit on nothing of the device opens.
    keys = uow.devices.shred(device.device_id)
    forget_entries.device_deleted(uow, device.device_id, now=now)
    return uow.jobs.enqueue(
        kind=PURGE_DEVICE,
        payload={
            "subject_kind": "device",
            "subject_id": device.device_id,
            "reason": "device_delete",
            "subject_hash": subject_hash,
            "surface": surface,
            "credential_ref": credential_ref,
            "requested_at": requested_at,
            "released": {"aliases": released, "keys": keys},
        },
        now=now,
    )


def devices_status(uow: UnitOfWork, *, registration_ids: Sequence[str]) -> list[Device]:
    registration_ids = [validate_registration_id(rid) for rid in registration_ids]
    found = {dev.registration_id: dev for dev in uow.devices.visible_many(registration_ids)}
    return [found[rid] for rid in dict.fromkeys(registration_ids) if rid in found]


def list_tags(uow: UnitOfWork) -> list[str]:
    return uow.devices.visible_tags()


def set_tag_devices(
    uow: UnitOfWork,
    *,
    tag: str,
    add: Sequence[str],
    remove: Sequence[str],
) -> None:
    """Add or remove one tag on many devices; unknown devices refuse the whole request."""
    tag = validate_label(tag, "tag")
    for rid in add:
        device = _visible(uow, rid)
        current = uow.devices.tags_of(device.device_id)
        if tag not in current:
            tags_after(current, [tag], [])
            uow.devices.add_tags(device.device_id, [tag])
    for rid in remove:
        device = _visible(uow, rid)
        uow.devices.remove_tags(device.device_id, [tag])


def delete_tag(uow: UnitOfWork, *, tag: str, platforms: Sequence[str]) -> int:
    tag = validate_label(tag, "tag")
    ids = uow.devices.visible_device_ids_with_tag(tag, platforms)
    return uow.devices.remove_tag_from(tag, ids)


def count_tags(uow: UnitOfWork, *, tags: Sequence[str], platforms: Sequence[str]) -> dict[str, int]:
    canonical = [validate_label(tag, "tags") for tag in tags]
    counted = uow.devices.count_tagged(canonical, platforms)
    # Answered under the names the caller sent.
    return {tag: counted.get(c, 0) for tag, c in zip(tags, canonical, strict=True)}


def device_has_tag(uow: UnitOfWork, *, tag: str, registration_id: str) -> bool:
    tag = validate_label(tag, "tag")
    device = uow.devices.find_visible(validate_registration_id(registration_id))
    return device is not None and tag in uow.devices.tags_of(device.device_id)


def alias_devices(uow: UnitOfWork, *, alias: str, platforms: Sequence[str]) -> list[str]:
    alias = validate_label(alias, "alias")
    return [dev.registration_id for dev in uow.devices.visible_with_alias(alias, platforms)]


def unbind_alias(uow: UnitOfWork, *, alias: str, platforms: Sequence[str], now: int) -> None:
    alias = validate_label(alias, "alias")
    for dev in uow.devices.visible_with_alias(alias, platforms):
        uow.devices.update_fields(dev.device_id, now=now, alias=None)
