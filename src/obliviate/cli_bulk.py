"""Bulk command-line work: batch deletions from a file and profile imports, with progress bars."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from obliviate.bootstrap import Container, build_container, create_worker
from obliviate.cli_support import tenant_caller
from obliviate.domain.batches import DryRun, JobStatus
from obliviate.domain.deletion import TERMINAL_JOB_STATES
from obliviate.domain.errors import ObliviateError
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.tenants import Caller
from obliviate.services import batches, identity
from obliviate.settings import Settings
from obliviate.storage.forget_log import FileForgetLog
from obliviate.storage.migrate import migrate

KNOWN_TYPES = ("uuid", "email", "phone_number")


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )


def read_subjects(path: Path, default_type: str) -> list[Identifier]:
    """One subject a line: a value of --type, or ``type:value`` for a known type."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        id_type, sep, value = text.partition(":")
        if not (sep and (id_type in KNOWN_TYPES or id_type.startswith("custom."))):
            id_type, value = default_type, text
        try:
            found.append(identifier(id_type, value, field=f"line {number}"))
        except ObliviateError as exc:
            raise click.ClickException(str(exc)) from exc
    return found


def _chunks(items: list[Identifier], size: int) -> Iterator[list[Identifier]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def submit_file(
    settings: Settings,
    *,
    tenant: str,
    path: Path,
    default_type: str,
    mode: str,
    suppress: bool,
    dry_run: bool,
    confirm: bool,
    wait: bool,
) -> int:
    container = build_container(settings)
    migrate(container.engine, keys=container.keys)
    caller = tenant_caller(container, tenant)
    subjects = read_subjects(path, default_type)
    forget_log = FileForgetLog(settings.storage.forget_log_path)
    jobs: list[int] = []
    totals: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for chunk in _chunks(subjects, batches.MAX_SUBJECTS):
        request = batches.BatchRequest(chunk, mode, suppress, dry_run)
        # The same file submitted again replays its jobs instead of deleting twice.
        digest = hashlib.sha256(
            orjson.dumps([mode, suppress, [(i.id_type, i.value) for i in chunk]])
        ).hexdigest()
        with container.uow_factory(caller.tenant.tenant_id) as uow:
            try:
                answer = batches.submit(
                    uow,
                    caller=caller,
                    batch=request,
                    idempotency_key=None if dry_run else f"cli-{digest}",
                    body_hash=digest,
                    confirmed=confirm,
                    now=container.clock.now_ms(),
                    hasher=container.hasher,
                )
            except ObliviateError as exc:
                raise click.ClickException(str(exc)) from exc
            uow.commit()
            # Acknowledged from here on: recorded outside the database, as the server does.
            forget_log.append(uow.take_forgotten())
        if isinstance(answer, DryRun):
            totals.update(answer.counts)
            outcomes.update(s.outcome.outcome.value for s in answer.subjects)
        else:
            jobs.append(answer.job.job_id)
    if dry_run:
        click.echo(orjson.dumps({"dry_run": True, "outcomes": outcomes, "counts": totals}).decode())
        return 0
    click.echo(
        f"submitted {len(subjects)} subjects in {len(jobs)} jobs: {', '.join(map(str, jobs))}"
    )
    if not wait:
        return 0
    return _follow(container, caller, jobs, len(subjects))


def _follow(container: Container, caller: Caller, jobs: list[int], total: int) -> int:
    """Work the jobs here (beside any running workers) and show progress until all end."""
    worker = create_worker(container)
    states: dict[int, JobStatus] = {}
    with _bar() as bar:
        task = bar.add_task("deleting", total=total)
        while True:
            worked = worker.run_once()
            with container.uow_factory(caller.tenant.tenant_id, write=False) as uow:
                states = {job: batches.status(uow, job_id=job) for job in jobs}
            done = sum(
                1 for s in states.values() for x in s.subjects if x.outcome.outcome != "pending"
            )
            bar.update(task, completed=done)
            if all(s.state in TERMINAL_JOB_STATES for s in states.values()):
                break
            if not worked:
                time.sleep(container.settings.worker.poll_interval)
    outcomes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for status in states.values():
        outcomes.update({outcome.value: n for outcome, n in status.outcomes.items()})
        counts.update(status.counts)
    final = {str(job): s.state.value for job, s in states.items()}
    click.echo(orjson.dumps({"jobs": final, "outcomes": outcomes, "counts": counts}).decode())
    return 0 if all(state == "completed" for state in final.values()) else 1


def _person(line: dict[str, Any], number: int) -> identity.PersonInput:
    where = f"line {number}"
    raw_ids = dict(line.get("identifiers") or {})
    if "uuid" in line:
        raw_ids["uuid"] = line["uuid"]
    idents: list[Identifier] = []
    for key, value in raw_ids.items():
        if key == "custom" and isinstance(value, dict):
            idents += [
                identifier(f"custom.{k}", v, field=f"{where}: custom.{k}") for k, v in value.items()
            ]
        else:
            idents.append(identifier(key, value, field=f"{where}: {key}"))
    if not idents:
        raise click.ClickException(f"{where}: no identifiers")
    attributes = line.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise click.ClickException(f"{where}: attributes must be an object")
    events = [
        NewEvent(
            str(e["name"]),
            int(e.get("timestamp") or time.time() * 1000),
            dict(e.get("properties") or {}),
        )
        for e in line.get("events") or []
    ]
    return identity.PersonInput(identifiers=idents, attributes=attributes, events=events)


def import_file(settings: Settings, *, tenant: str, path: Path, chunk: int = 500) -> int:
    container = build_container(settings)
    migrate(container.engine, keys=container.keys)
    caller = tenant_caller(container, tenant)
    lines = path.read_bytes().splitlines()
    failed: list[str] = []
    imported = 0
    with _bar() as bar:
        task = bar.add_task("importing", total=len(lines))
        for start in range(0, len(lines), chunk):
            with container.uow_factory(caller.tenant.tenant_id) as uow:
                for number, raw in enumerate(lines[start : start + chunk], start=start + 1):
                    if not raw.strip():
                        continue
                    try:
                        person = _person(orjson.loads(raw), number)
                        with uow.savepoint():
                            identity.upsert_person(
                                uow,
                                tenant=caller.tenant,
                                person=person,
                                now=container.clock.now_ms(),
                                hasher=container.hasher,
                            )
                        imported += 1
                    except (
                        orjson.JSONDecodeError,
                        ObliviateError,
                        click.ClickException,
                        KeyError,
                        TypeError,
                        ValueError,
                    ) as exc:
                        failed.append(f"line {number}: {exc}")
                uow.commit()
            bar.update(task, completed=min(len(lines), start + chunk))
    click.echo(f"imported {imported} profiles; {len(failed)} lines failed")
    for message in failed[:20]:
        click.echo(message, err=True)
    return 1 if failed else 0
