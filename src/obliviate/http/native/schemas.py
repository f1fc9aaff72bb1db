"""Request and response bodies of the native API; the OpenAPI document is built from these."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from obliviate.domain.errors import ValidationError
from obliviate.domain.events import INT64_MAX, INT64_MIN

# uuid | email | phone_number | custom.<name> (suppressions also registration_id). The pattern
# only documents them, so the fuzzing suite can aim at real subjects; the domain checks.
SubjectType = Annotated[
    str,
    Field(
        json_schema_extra={
            "pattern": r"^(uuid|email|phone_number|registration_id|custom\.[A-Za-z0-9_]{1,50})$"
        }
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProfileIn(_In):
    attributes: dict[str, Any] = Field(default_factory=dict)
    identifiers: dict[str, Any] = Field(
        default_factory=dict,
        description='More identifiers: {"email", "phone_number", "custom": {name: value}}',
    )


class EventIn(_In):
    name: str = Field(min_length=1, max_length=255)
    timestamp: int | None = Field(
        default=None, ge=INT64_MIN, le=INT64_MAX, description="epoch milliseconds; now if omitted"
    )
    properties: dict[str, Any] = Field(default_factory=dict)


class EventsIn(_In):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class DeviceIn(_In):
    platform: Literal["android", "ios", "hmos", "web"] | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    info: dict[str, Any] | None = None


class Subject(_In):
    type: SubjectType
    value: str


class DeletionsIn(_In):
    subjects: list[Subject] = Field(min_length=1)
    mode: Literal["soft", "hard"] = "hard"
    suppress: bool = False
    dry_run: bool = False


class SuppressionIn(_In):
    type: SubjectType
    value: str


class ProfileOut(BaseModel):
    uuid: str
    identifiers: list[dict[str, str]]
    attributes: dict[str, Any]
    created_at: int
    updated_at: int


class ProfilePage(BaseModel):
    profiles: list[ProfileOut]
    next_cursor: str | None


class DeletionOut(BaseModel):
    mode: str
    dry_run: bool
    counts: dict[str, int]
    job_id: str | None = None
    revivable_until: int | None = None


class ErasureOut(BaseModel):
    # "pending" until a pass has made the purged bytes unreadable on disk, then "done".
    state: str
    at: int | None


class JobOut(BaseModel):
    id: str
    # "batch" (a native batch), "profile" or "device" (the purge of one subject).
    kind: str
    state: str
    # Null for a soft-deletion batch, which erases nothing.
    erasure: ErasureOut | None
    receipt_id: str | None = None
    mode: str
    suppress: bool
    subjects: list[dict[str, Any]]
    outcomes: dict[str, int]
    counts: dict[str, int]
    reason: str | None
    attempts: int
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None


class ReceiptOut(BaseModel):
    receipt_id: str
    seq: int
    job_id: str
    surface: str
    credential_ref: str
    subject_hash: str
    reason: str
    counts: dict[str, int]
    requested_at: int
    completed_at: int
    prev_hash: str
    hash: str
    erased_at: int | None
    erasure: ErasureOut


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], data: Any) -> M:
    """Validate a body; the first problem becomes a ValidationError naming its field."""
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationError(field, first["msg"]) from None
