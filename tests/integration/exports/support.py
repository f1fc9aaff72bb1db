"""Planting people for the export tests through the services, and reading an export back."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from obliviate.bootstrap import Container
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier
from obliviate.domain.tenants import Caller
from obliviate.services import exports, identity
from obliviate.services.identity import PersonInput
from obliviate.storage.transactions import ThreadedTransactions
from tests.support.clock import now_ms
from tests.support.tenants import Tenant, sign_in

WINDOW = 3600.0


def native_caller(container: Container, tenant: Tenant) -> Caller:
    return sign_in(container, tenant, "native", revival_window=WINDOW)


def plant(container: Container, caller: Caller, uuid: str, *, events: int = 0, **more: str) -> int:
    """A person with a uuid (and ``more`` identifiers by type) and ``events`` events, each
    with a property of a hundred bytes or so; its profile id."""
    idents = [Identifier("uuid", uuid), *(Identifier(k, v) for k, v in more.items())]
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        outcome = identity.upsert_person(
            uow,
            tenant=caller.tenant,
            person=PersonInput(idents, {"name": uuid}),
            now=now_ms(),
            hasher=container.hasher,
        )
        batch = [
            (outcome.profile_id, NewEvent(f"e{n % 7}", 1_000 + n, {"n": n, "pad": "x" * 100}))
            for n in range(events)
        ]
        for start in range(0, len(batch), 1000):
            uow.events.add_many(batch[start : start + 1000], now=now_ms())
        uow.commit()
    return outcome.profile_id


def transactions(container: Container) -> ThreadedTransactions:
    return ThreadedTransactions(container.uow_factory)


def export_document(container: Container, caller: Caller, uuid: str) -> Any:
    tx = transactions(container)
    try:
        return orjson.loads(b"".join(asyncio.run(collect_with(container, tx, caller, uuid))))
    finally:
        tx.close()


async def collect_with(
    container: Container,
    tx: ThreadedTransactions,
    caller: Caller,
    uuid: str,
    page_size: int = exports.EVENTS_PAGE,
) -> list[bytes]:
    chunks = await exports.open_profile_export(
        tx,
        caller=caller,
        uuid=uuid,
        hasher=container.hasher,
        clock=container.clock,
        page_size=page_size,
    )
    return [chunk async for chunk in chunks]
