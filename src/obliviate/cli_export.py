"""``obliviate export``: one person's subject access export written to a file, with a bar."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import IO

import click

from obliviate.bootstrap import Container
from obliviate.cli_bulk import KNOWN_TYPES
from obliviate.cli_support import tenant_caller
from obliviate.domain.errors import ObliviateError
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.tenants import Caller
from obliviate.services import exports
from obliviate.storage.transactions import ThreadedTransactions


def parse_subject(text: str) -> Identifier:
    """``type:value`` (``email:a@x.com``, ``custom.crm:42``); anything else is a uuid (as
    ``deletions submit`` reads its lines)."""
    id_type, sep, value = text.partition(":")
    if not (sep and (id_type in KNOWN_TYPES or id_type.startswith("custom."))):
        id_type, value = "uuid", text
    try:
        return identifier(id_type, value, field="--subject")
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc


async def _write(
    tx: ThreadedTransactions, container: Container, caller: Caller, uuid: str, out: IO[bytes]
) -> int:
    """Stream the document into ``out``; how many events it held."""

    total = await tx.read(caller.tenant.tenant_id, lambda uow: exports.events_held(uow, uuid))
    sent = 0
    with click.progressbar(length=total, label="events", file=sys.stderr) as bar:

        def advance(n: int) -> None:
            nonlocal sent
            sent += n
            bar.update(n)

        chunks = await exports.open_profile_export(
            tx,
            caller=caller,
            uuid=uuid,
            hasher=container.hasher,
            clock=container.clock,
            progress=advance,
        )
        async for chunk in chunks:
            out.write(chunk)
    return sent


def export_subject(container: Container, *, tenant: str, subject: str, out: Path | None) -> int:
    caller = tenant_caller(container, tenant)
    ident = parse_subject(subject)
    with container.uow_factory(caller.tenant.tenant_id, write=False) as uow:
        uuids = exports.uuids_named(uow, ident)
    if not uuids:
        raise click.ClickException(f"no profile with this {ident.id_type}")
    if len(uuids) > 1:
        # Several Gainsight users may share one email: each is a person of their own.
        raise click.ClickException(
            f"{len(uuids)} profiles hold this {ident.id_type}; export each by uuid: "
            + ", ".join(f"uuid:{u}" for u in uuids)
        )
    tx = ThreadedTransactions(container.uow_factory)
    try:
        if out is None:
            events = asyncio.run(_write(tx, container, caller, uuids[0], sys.stdout.buffer))
        else:
            # Written beside the target and renamed: a failed export leaves no half a file.
            partial = out.with_name(out.name + ".partial")
            try:
                with partial.open("wb") as handle:
                    events = asyncio.run(_write(tx, container, caller, uuids[0], handle))
                    handle.flush()
                    os.fsync(handle.fileno())
                partial.replace(out)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        tx.close()
    click.echo(f"exported {events} events of uuid {uuids[0]}", err=True)
    return 0
