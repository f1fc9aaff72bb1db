"""What one soak client believes about its own people and devices, and what that promises.

Every subject belongs to one client, so its acknowledged operations are totally ordered and the
end state they promise is well defined. An operation whose outcome is unknown (the server died
with the request in flight, or answered 5xx) makes the subject ``unknown``: it is left alone from
then on and only the generic checks (jobs terminal, no rows of purged subjects) cover it. Events
and attribute writes are the exception: an unknown one widens a bound instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Person states: never created, visible, soft-deleted (revivable), hard-deleted, or unknown.
ABSENT, ACTIVE, SOFT, HARD, UNKNOWN = "absent", "active", "soft", "hard", "unknown"
# Device states: never registered, registered, deleted (or purged with its owner), or unknown.
LIVE, DELETED = "live", "deleted"
# The attribute each surface writes, as the native API reads it back.
ATTRIBUTE_KEYS = ("firstName", "name", "soak")


@dataclass
class Person:
    uuid: str
    email: str
    state: str = ABSENT
    has_email: bool = False
    # Events acknowledged since the profile was (re)created, and events whose outcome is unknown.
    events: int = 0
    events_unknown: int = 0
    # Attribute key -> every value it may hold (None: absent); one value once a write is acked.
    attributes: dict[str, list[Any]] = field(default_factory=dict)
    # Given to a batch job: its final state is set, but it is touched no more.
    retired: bool = False

    def new_generation(self) -> None:
        """A create after a hard delete (or the first one): a new profile with no history."""
        self.events = self.events_unknown = 0
        self.has_email = False
        self.attributes = {key: [None] for key in ATTRIBUTE_KEYS}

    def wrote(self, key: str, value: Any, acknowledged: bool) -> None:
        if acknowledged:
            self.attributes[key] = [value]
        elif value not in self.attributes[key]:
            self.attributes[key].append(value)

    @property
    def usable(self) -> bool:
        return not self.retired and self.state != UNKNOWN


@dataclass
class Device:
    rid: str
    alias: str
    state: str = ABSENT
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    retired: bool = False


@dataclass
class Ledger:
    """Everything a client reports back: its subjects, the jobs it was given, the tallies."""

    client: int
    people: list[Person] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    # Acknowledged deletion jobs: {"job_id", "kind": "purge" | "batch", "mode"?}.
    jobs: list[dict[str, Any]] = field(default_factory=list)
    # Operation kind -> {"ack": n, "no": n, "unknown": n}.
    tally: dict[str, dict[str, int]] = field(default_factory=dict)
    # Definitive answers the model did not expect, e.g. a 404 for an event on a live person.
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    server_errors: int = 0
    operations: int = 0

    def count(self, kind: str, outcome: str) -> None:
        kinds = self.tally.setdefault(kind, {"ack": 0, "no": 0, "unknown": 0})
        kinds[outcome] += 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls(**{k: v for k, v in data.items() if k not in ("people", "devices")})
        ledger.people = [Person(**p) for p in data["people"]]
        ledger.devices = [Device(**d) for d in data["devices"]]
        return ledger


def device_expectation(device: Device, owners: dict[str, Person]) -> str | None:
    """ "visible", "hidden" (behind a soft-deleted owner), "gone", or None when not known."""
    if device.state == DELETED:
        return "gone"
    if device.state != LIVE:
        return None
    if device.owner is None:
        return "visible"
    owner_state = owners[device.owner].state
    return {ACTIVE: "visible", SOFT: "hidden", HARD: "gone"}.get(owner_state)
