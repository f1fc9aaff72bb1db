"""Finding a person, what is held of them, and deleting them: a dry run, then the deletion.

A deletion is a one-subject batch (services.batches), as ``POST /api/v1/deletions`` makes
one: the subject is the identifier the admin searched by, so the job follows merges and, for
an email, every profile holding it as its Gainsight ``email`` attribute too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from starlette.responses import RedirectResponse, Response, StreamingResponse

from obliviate.domain.batches import DryRun, Submission
from obliviate.domain.errors import ValidationError
from obliviate.domain.identifiers import CUSTOM_PREFIX, Identifier, custom_type, identifier
from obliviate.domain.profiles import ProfileState
from obliviate.http.console.forms import flag
from obliviate.http.console.render import Visit, render
from obliviate.http.runtime import Runtime
from obliviate.services import batches, deletions, exports, profiles
from obliviate.services.batches import BatchRequest
from obliviate.services.batches.subjects import holders
from obliviate.services.ports import UnitOfWork
from obliviate.services.suppression import is_suppressed

ID_TYPES = ("uuid", "email", "phone_number", "custom")
CUSTOM = "custom"
# A form's nonce names its submission (an Idempotency-Key under a prefix of the console's
# own): sent twice (reload, back and resubmit) it replays the first job instead of a second.
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
IDEMPOTENCY_PREFIX = "console:"
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class HeldProfile:
    uuid: str
    state: ProfileState
    identifiers: tuple[tuple[str, str], ...]
    # Rows per kind a hard deletion would remove: what is held of the person.
    held: tuple[tuple[str, int], ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Found:
    subject: Identifier
    profiles: tuple[HeldProfile, ...]
    suppressed: bool


def subject_of(fields: dict[str, str]) -> Identifier:
    """The identifier a form names: a type (``custom`` with its name) and a value."""
    id_type = fields.get("type", "")
    if id_type not in ID_TYPES:
        raise ValidationError("type", "choose uuid, email, phone_number or custom")
    if id_type == CUSTOM:
        id_type = custom_type(fields.get("custom_name", "").strip())
    value = fields.get("value", "")
    if not value.strip():
        raise ValidationError("value", "is empty")
    return identifier(id_type, value, field="value")


def subject_fields(subject: Identifier) -> dict[str, str]:
    """The form fields that name ``subject`` again (hidden in the next form)."""
    if subject.id_type.startswith(CUSTOM_PREFIX):
        name = subject.id_type[len(CUSTOM_PREFIX) :]
        return {"type": CUSTOM, "custom_name": name, "value": subject.value}
    return {"type": subject.id_type, "value": subject.value}


def _find(uow: UnitOfWork, subject: Identifier, rt: Runtime) -> Found:
    lookup = uow.profiles.lookup_hash(subject.id_type, subject.value)
    found = holders(uow, subject.id_type, lookup)
    uuids = uow.profiles.uuids_of([p.profile_id for p in found])
    held = tuple(
        HeldProfile(
            uuid=uuids.get(p.profile_id, ""),
            state=p.state,
            identifiers=tuple(profiles.profile_identifiers(uow, profile_id=p.profile_id)),
            held=tuple(deletions.preview_deletion(uow, profile=p, mode="hard").items()),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in sorted(found, key=lambda p: p.profile_id)
    )
    return Found(subject, held, is_suppressed(uow, ident=subject, hasher=rt.hasher))


def _mode(fields: dict[str, str]) -> tuple[str, bool]:
    mode = fields.get("mode", "")
    if mode not in ("soft", "hard"):
        raise ValidationError("mode", "choose soft or hard")
    suppress = flag(fields, "suppress")
    if suppress and mode != "hard":
        raise ValidationError("suppress", "needs a hard deletion")
    return mode, suppress


class PeoplePages:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def home(self, visit: Visit) -> Response:
        return render("home.html", visit=visit, id_types=ID_TYPES)

    async def find(self, visit: Visit) -> Response:
        query = dict(visit.request.query_params)
        subject = subject_of(query)
        found = await self.rt.read(
            visit.caller.tenant.tenant_id, lambda uow: _find(uow, subject, self.rt)
        )
        return render(
            "person.html",
            visit=visit,
            found=found,
            subject=subject_fields(subject),
            id_types=ID_TYPES,
        )

    async def preview(self, visit: Visit) -> Response:
        subject = subject_of(visit.form)
        mode, suppress = _mode(visit.form)
        batch = BatchRequest([subject], mode, suppress, True)
        preview = await self.rt.write(
            visit.caller.tenant.tenant_id, lambda uow, _now: batches.dry_run(uow, batch=batch)
        )
        assert isinstance(preview, DryRun)
        return render(
            "dry_run.html",
            visit=visit,
            preview=preview,
            shown=subject,
            subject=subject_fields(subject),
            mode=mode,
            suppress=suppress,
            nonce=secrets.token_urlsafe(24),
        )

    async def delete(self, visit: Visit) -> Response:
        subject = subject_of(visit.form)
        mode, suppress = _mode(visit.form)
        nonce = visit.form.get("nonce", "")
        if not _NONCE.fullmatch(nonce):
            raise ValidationError("nonce", "is missing: start again from the dry run")
        confirmed = flag(visit.form, "confirm_mass_delete")
        batch = BatchRequest([subject], mode, suppress, False)
        body = {"type": subject.id_type, "value": subject.value, "mode": mode, "suppress": suppress}
        caller = visit.caller
        answer = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: batches.submit(
                uow,
                caller=caller,
                batch=batch,
                idempotency_key=IDEMPOTENCY_PREFIX + nonce,
                body_hash=batches.request_hash(body),
                confirmed=confirmed,
                now=now,
                hasher=self.rt.hasher,
            ),
        )
        assert isinstance(answer, Submission)
        return RedirectResponse(f"/console/jobs/{answer.job.job_id}", status_code=303)

    async def export(self, visit: Visit) -> Response:
        """The person's subject access export, streamed as the native API streams it (and
        recorded in the audit chain by the same service). A POST with the form's CSRF token:
        each download is a disclosure on the record, not something a link may set off."""
        uuid = visit.form.get("uuid", "")
        if not uuid:
            raise ValidationError("uuid", "is empty")
        chunks = await exports.open_profile_export(
            self.rt.transactions,
            caller=visit.caller,
            uuid=uuid,
            hasher=self.rt.hasher,
            clock=self.rt.clock,
        )
        self.rt.metrics.exports.labels("profile").inc()
        name = _UNSAFE_IN_FILENAME.sub("_", uuid)[:64]
        return StreamingResponse(
            chunks,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="export-{name}.json"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
