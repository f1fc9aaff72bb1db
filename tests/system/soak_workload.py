"""One soak client process: a mixed workload on its own people and devices, over every surface.

Run as ``python -m tests.system.soak_workload CONFIG.json``. Each request is journalled (one
JSON line, flushed: the chaos loop reads progress from it); at the end the client writes its
``Ledger``: what every acknowledged request promised about its subjects.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tests.system.soak_http import Reply, Servers, headers_for
from tests.system.soak_model import (
    ACTIVE,
    DELETED,
    HARD,
    LIVE,
    SOFT,
    UNKNOWN,
    Device,
    Ledger,
    Person,
)

TAGS = ("soak_a", "soak_b", "soak_c", "soak_d", "soak_e")
BATCH_RETRIES = 10
GS_SEND = ("gainsight", "native", "insider")


class Client:
    def __init__(self, config: dict[str, Any], journal: TextIO) -> None:
        self.rng = random.Random(config["seed"])
        self.client = int(config["client"])
        self.name = f"{config['prefix']}-c{self.client}"
        self.servers = Servers(config["ports"], self.rng)
        self.headers = headers_for(config["credentials"])
        self.ledger = Ledger(client=config["client"])
        self.journal = journal
        self.serial = 0
        self.by_uuid: dict[str, Person] = {}

    # --- plumbing --------------------------------------------------------------------

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def send(
        self,
        kind: str,
        surface: str,
        method: str,
        path: str,
        body: Any,
        ok: tuple[int, ...],
        extra: dict[str, str] | None = None,
    ) -> tuple[str, Reply]:
        reply = self.servers.call(method, path, body, self.headers[surface], extra or {})
        outcome = reply.outcome(ok)
        if outcome == "ack" and path.endswith("/upsert"):
            data = reply.body.get("data") if isinstance(reply.body, dict) else None
            if not isinstance(data, dict) or (data.get("successful") or {}).get("count") != 1:
                outcome = "no"
        if reply.status is not None and reply.status >= 500:
            self.ledger.server_errors += 1
        self.ledger.count(kind, outcome)
        record = {
            "kind": kind,
            "surface": surface,
            "request": f"{method} {path}",
            "body": body,
            "status": reply.status,
            "outcome": outcome,
            "error": reply.error,
        }
        if outcome == "no":
            # Every operation is chosen to succeed on the model's state: a refusal means the
            # store disagrees with what it acknowledged before (or the harness is wrong).
            self.ledger.anomalies.append({**record, "answer": reply.body})
        self.journal.write(json.dumps(record) + "\n")
        self.journal.flush()
        return outcome, reply

    def _visible(self, device: Device) -> bool:
        if device.retired or device.state != LIVE:
            return False
        if device.owner is None:
            return True
        owner = self._person(device.owner)
        return owner.usable and owner.state == ACTIVE

    def _person(self, uuid: str) -> Person:
        return self.by_uuid[uuid]

    def _owned(self, person: Person) -> list[Device]:
        return [d for d in self.ledger.devices if d.owner == person.uuid and d.state == LIVE]

    def _lost(self, person: Person) -> None:
        person.state = UNKNOWN
        for device in self._owned(person):
            device.state = UNKNOWN

    def _hard_deleted(self, person: Person) -> None:
        person.state = HARD
        for device in self._owned(person):
            device.state, device.owner, device.tags = DELETED, None, []

    def people(self, *states: str) -> list[Person]:
        return [p for p in self.ledger.people if p.usable and p.state in states]

    # --- people ------------------------------------------------------------------------

    def create(self) -> None:
        reuse = self.people(HARD)
        if reuse and self.rng.random() < 0.3:
            person = self.rng.choice(reuse)
        else:
            uuid = f"{self.name}-p{len(self.ledger.people)}"
            person = Person(uuid=uuid, email=f"{uuid}@soak.example")
            self.ledger.people.append(person)
            self.by_uuid[uuid] = person
        surface, value = self.rng.choice(GS_SEND), self._next()
        if surface == "gainsight":
            body: Any = {"identifyId": person.uuid, "propertyKeys": ["AP-SOAK"]}
            key, written, body["firstName"] = "firstName", f"w{value}", f"w{value}"
            outcome, _ = self.send("create", surface, "POST", "/v1/users", body, (201,))
        elif surface == "native":
            key, written = "soak", f"w{value}"
            body = {"attributes": {"soak": written}, "identifiers": {"email": person.email}}
            path = f"/api/v1/profiles/{person.uuid}"
            outcome, _ = self.send("create", surface, "PUT", path, body, (201,))
        else:
            ids = {"uuid": person.uuid, "email": person.email}
            body = {"users": [{"identifiers": ids, "attributes": {"name": f"w{value}"}}]}
            key, written = "name", f"w{value}"
            outcome, _ = self.send("create", surface, "POST", "/api/user/v1/upsert", body, (200,))
        if outcome == "ack":
            person.new_generation()
            person.state, person.has_email = ACTIVE, surface != "gainsight"
            person.wrote(key, written, True)
        elif outcome == "unknown":
            self._lost(person)

    def write_attribute(self, person: Person, kind: str) -> str:
        """An update (on a live person) or a revive (on a soft-deleted one) that sets a value."""
        surface, value = self.rng.choice(GS_SEND), self._next()
        uuid = person.uuid
        if surface == "gainsight":
            key, written = "firstName", f"w{value}"
            outcome, _ = self.send(
                kind, surface, "PUT", f"/v1/users/{uuid}", {"firstName": written}, (204,)
            )
        elif surface == "native":
            key, written = "soak", f"w{value}"
            ids = {"email": person.email} if person.has_email else {}
            body = {"attributes": {"soak": written}, "identifiers": ids}
            outcome, _ = self.send(kind, surface, "PUT", f"/api/v1/profiles/{uuid}", body, (200,))
        else:
            key, written = "name", f"w{value}"
            user = {"identifiers": {"uuid": uuid}, "attributes": {"name": written}}
            outcome, _ = self.send(
                kind, surface, "POST", "/api/user/v1/upsert", {"users": [user]}, (200,)
            )
        if outcome != "no":
            person.wrote(key, written, outcome == "ack")
        return outcome

    def update(self) -> None:
        self.write_attribute(self.rng.choice(self.people(ACTIVE)), "update")

    def revive(self) -> None:
        person = self.rng.choice(self.people(SOFT))
        if self.rng.random() < 0.25:
            path = f"/api/v1/profiles/{person.uuid}/restore"
            outcome, _ = self.send("revive", "native", "POST", path, None, (200,))
        else:
            outcome = self.write_attribute(person, "revive")
        if outcome == "ack":
            person.state = ACTIVE
        elif outcome == "unknown":
            self._lost(person)

    def event(self) -> None:
        person = self.rng.choice(self.people(ACTIVE))
        # Batches of up to 10 make purges of several steps (the soak's purge batch is 3 rows).
        surface, count = self.rng.choice(GS_SEND), self.rng.randint(1, 10)
        if surface == "gainsight":
            count = 1
            body: Any = {
                "eventName": "soak",
                "identifyId": person.uuid,
                "propertyKey": "AP-SOAK",
                "userType": "USER",
                "date": int(time.time() * 1000),
            }
            outcome, _ = self.send("event", surface, "POST", "/v1/events/custom", body, (201,))
        elif surface == "native":
            body = {"events": [{"name": "soak", "properties": {"n": i}} for i in range(count)]}
            path = f"/api/v1/profiles/{person.uuid}/events"
            outcome, _ = self.send("event", surface, "POST", path, body, (201,))
        else:
            stamp = datetime.now(UTC).isoformat()
            events = [{"event_name": "soak", "timestamp": stamp, "event_params": {}}] * count
            user = {"identifiers": {"uuid": person.uuid}, "events": events}
            outcome, _ = self.send(
                "event", surface, "POST", "/api/user/v1/upsert", {"users": [user]}, (200,)
            )
        if outcome == "ack":
            person.events += count
        elif outcome == "unknown":
            person.events_unknown += count

    def event_on_soft_deleted(self) -> None:
        """An event for a soft-deleted person: refused with 404 and not stored; a 2xx here is an
        anomaly."""
        person = self.rng.choice(self.people(SOFT))
        if self.rng.random() < 0.5:
            body: Any = {"eventName": "soak", "identifyId": person.uuid, "propertyKey": "AP-SOAK"}
            self.send("event_refused", "gainsight", "POST", "/v1/events/custom", body, (404,))
        else:
            body = {"events": [{"name": "soak"}]}
            path = f"/api/v1/profiles/{person.uuid}/events"
            self.send("event_refused", "native", "POST", path, body, (404,))

    def soft_delete(self) -> None:
        person = self.rng.choice(self.people(ACTIVE))
        if self.rng.random() < 0.5:
            outcome, _ = self.send(
                "soft_delete", "gainsight", "DELETE", f"/v1/users/{person.uuid}", None, (200,)
            )
        else:
            path = f"/api/v1/profiles/{person.uuid}?mode=soft"
            outcome, _ = self.send("soft_delete", "native", "DELETE", path, None, (200,))
        if outcome == "ack":
            person.state = SOFT
        elif outcome == "unknown":
            self._lost(person)

    def hard_delete(self) -> None:
        person = self.rng.choice(self.people(ACTIVE, SOFT))
        surface = self.rng.choice(GS_SEND)
        if surface == "gainsight":
            path = f"/v1/users/{person.uuid}?hardDelete=true"
            outcome, _ = self.send("hard_delete", surface, "DELETE", path, None, (200,))
        elif surface == "insider":
            body = {"identifiers": {"uuid": person.uuid}}
            outcome, _ = self.send(
                "hard_delete", surface, "POST", "/api/user/v1/delete", body, (200,)
            )
        else:
            path = f"/api/v1/profiles/{person.uuid}?mode=hard"
            outcome, reply = self.send("hard_delete", surface, "DELETE", path, None, (202,))
            if outcome == "ack":
                self.ledger.jobs.append({"job_id": int(reply.body["job_id"]), "kind": "purge"})
        if outcome == "ack":
            self._hard_deleted(person)
        elif outcome == "unknown":
            self._lost(person)

    def delete_identifier(self) -> None:
        person = self.rng.choice([p for p in self.people(ACTIVE) if p.has_email])
        body = {"identifiers": {"email": person.email}}
        outcome, _ = self.send(
            "identifier_delete", "insider", "DELETE", "/api/user/v1/identity", body, (200,)
        )
        if outcome == "ack":
            person.has_email = False
        elif outcome == "unknown":
            self._lost(person)

    def batch(self) -> None:
        pool = self.people(ACTIVE, SOFT)
        chosen = self.rng.sample(pool, min(len(pool), self.rng.randint(2, 4)))
        mode = self.rng.choice(("soft", "hard"))
        subjects = [
            {"type": "email", "value": p.email}
            if p.has_email and self.rng.random() < 0.3
            else {"type": "uuid", "value": p.uuid}
            for p in chosen
        ]
        key = {"Idempotency-Key": f"{self.name}-b{self._next()}"}
        body = {"subjects": subjects, "mode": mode}
        for _ in range(BATCH_RETRIES):
            # The same key replays the first answer: a retry after a lost answer is safe.
            outcome, reply = self.send(
                "batch", "native", "POST", "/api/v1/deletions", body, (202,), key
            )
            if outcome != "unknown":
                break
        for person in chosen:
            if outcome == "unknown":
                self._lost(person)
                continue
            if outcome != "ack":
                continue
            # A batch runs later, in a worker: until it has, its people and their devices are
            # still as they were, so they are left alone and only their end state is known.
            person.retired = True
            owned = self._owned(person)
            if mode == "hard":
                self._hard_deleted(person)
            else:
                person.state = SOFT
            for device in owned:
                device.retired = True
        if outcome == "ack":
            job = {"job_id": int(reply.body["id"]), "kind": "batch", "mode": mode}
            self.ledger.jobs.append(job)

    # --- devices -----------------------------------------------------------------------

    def register_device(self) -> None:
        candidates = [
            d
            for d in self.ledger.devices
            if self._visible(d) or (d.state == DELETED and not d.retired)
        ]
        if not candidates or self.rng.random() < 0.3:
            index = len(self.ledger.devices)
            device = Device(rid=f"{self.name}-d{index}", alias=f"c{self.client}_d{index}")
            self.ledger.devices.append(device)
        else:
            device = self.rng.choice(candidates)
        add = self.rng.sample(TAGS, self.rng.randint(1, 2))
        current = device.tags if device.state == LIVE else []
        removable = [t for t in current if t not in add]
        remove = self.rng.sample(removable, min(len(removable), self.rng.randint(0, 1)))
        body = {"tags": {"add": add, "remove": remove}, "alias": device.alias}
        outcome, _ = self.send(
            "device_register", "engagelab", "POST", f"/v4/devices/{device.rid}", body, (200,)
        )
        if outcome == "ack":
            if device.state != LIVE:
                device.owner = None
            device.state = LIVE
            device.tags = sorted((set(current) | set(add)) - set(remove))
        elif outcome == "unknown":
            device.state = UNKNOWN

    def own_device(self) -> None:
        device = self.rng.choice(
            [d for d in self.ledger.devices if self._visible(d) and d.owner is None]
        )
        person = self.rng.choice(self.people(ACTIVE))
        path = f"/api/v1/profiles/{person.uuid}/devices/{device.rid}"
        outcome, _ = self.send("device_own", "native", "PUT", path, None, (200,))
        if outcome == "ack":
            device.owner = person.uuid
        elif outcome == "unknown":
            device.state = UNKNOWN

    def delete_device(self) -> None:
        device = self.rng.choice([d for d in self.ledger.devices if self._visible(d)])
        outcome, _ = self.send(
            "device_delete", "engagelab", "DELETE", f"/v4/devices/{device.rid}", None, (200,)
        )
        if outcome == "ack":
            device.state, device.owner, device.tags = DELETED, None, []
        elif outcome == "unknown":
            device.state = UNKNOWN

    # --- the mix -------------------------------------------------------------------------

    def step(self) -> None:
        active, soft = self.people(ACTIVE), self.people(SOFT)
        visible = [d for d in self.ledger.devices if self._visible(d)]
        options: list[tuple[float, Callable[[], None]]] = [
            (8, self.create),
            (10, self.register_device),
        ]
        if len(active) + len(soft) < 6:
            options.append((40, self.create))
        if active:
            options += [(8, self.update), (22, self.event), (8, self.soft_delete)]
            if any(p.has_email for p in active):
                options.append((4, self.delete_identifier))
            if any(d.owner is None for d in visible):
                options.append((5, self.own_device))
        if soft:
            options += [(7, self.revive), (2, self.event_on_soft_deleted)]
        if active or soft:
            options.append((6, self.hard_delete))
        if len(active) + len(soft) >= 2:
            options.append((3, self.batch))
        if visible:
            options.append((6, self.delete_device))
        weights = [w for w, _ in options]
        self.rng.choices([op for _, op in options], weights)[0]()
        self.ledger.operations += 1


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[0]).read_text())
    with Path(config["journal"]).open("a") as journal:
        client = Client(config, journal)
        for _ in range(config["operations"]):
            client.step()
    Path(config["ledger"]).write_text(json.dumps(client.ledger.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
