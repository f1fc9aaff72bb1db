"""``obliviate backup PATH`` and ``obliviate restore PATH``.

A restore puts the backup back and then replays the forget log from where it stood when the
backup was taken, so that nobody deleted or suppressed since comes back. Everything else
written since the backup is lost, as with any restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from obliviate.bootstrap import Container
from obliviate.cli_support import load_settings, now_ms, open_checked
from obliviate.domain.forgetting import ForgetEntry
from obliviate.services import tenants
from obliviate.services.forgetting import ReplaySummary, replay
from obliviate.services.ports import UnitOfWorkFactory
from obliviate.storage.backup import (
    BackupError,
    backup_database,
    peek_mark,
    restore_database,
    write_mark,
)
from obliviate.storage.forget_log import (
    FileForgetLog,
    ForgetLogError,
    LogPosition,
    LogReading,
    read_log_id,
)
from obliviate.storage.uow import SqlUnitOfWorkFactory


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Copy the database to PATH while it serves (SQLite online backup, or pg_dump -Fc),
    recording where the forget log stands so that a restore replays what follows."""
    settings = load_settings()
    try:
        # Read before the copy begins: every entry before this point is then in the copy.
        with FileForgetLog(settings.storage.forget_log_path) as log:
            position = log.position()
        backup_database(settings.storage.database_url, path, position=position, now=now_ms())
    except (BackupError, ForgetLogError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path}")


def _matching_log_id(log_path: Path, mark: LogPosition | None) -> str:
    """The id of the log at ``log_path`` once it is known to hold everything appended since
    the backup (``mark``); raises ``ForgetLogError`` otherwise."""
    log_id = read_log_id(log_path)
    if mark is None:
        return log_id
    if mark.log_id != log_id:
        raise ForgetLogError(
            f"the forget log at {log_path} is not the one this backup was taken with (it was "
            "replaced or made anew since): deletions made after the backup could come back. "
            "Point OBLIVIATE_FORGET_LOG at that log"
        )
    if log_path.stat().st_size < mark.offset:
        raise ForgetLogError(
            f"the forget log at {log_path} is shorter than when the backup was taken: it was "
            "truncated, and deletions made after the backup could come back"
        )
    return log_id


def _replay(container: Container, reading: LogReading) -> tuple[ReplaySummary, int]:
    """Replay the entries of tenants the restored database holds: (summary, entries of other
    tenants skipped). A tenant made after the backup is not in it, nor anyone of it."""
    known = {record.tenant_id for record in tenants.list_tenants(container.tenant_store)}
    others = 0

    def entries() -> Iterator[ForgetEntry]:
        nonlocal others
        for _end, entry in reading:
            if entry.tenant_id in known:
                yield entry
            else:
                others += 1

    def factory_for_key(key_id: str | None) -> UnitOfWorkFactory:
        if key_id is None:
            return container.uow_factory
        return SqlUnitOfWorkFactory(container.engine, vault=container.vault, key_id=key_id)

    summary = replay(
        container.uow_factory,
        entries(),
        hasher=container.hasher,
        now=now_ms(),
        factory_for_key=factory_for_key,
    )
    return summary, others


def _report(summary: ReplaySummary, others: int, torn: int) -> str:
    return (
        f"forget log replayed: {summary.entries} entries ({summary.unchanged} already in the "
        f"backup); profiles purged {summary.profiles_purged}, soft-deleted "
        f"{summary.profiles_soft_deleted}, revived {summary.profiles_revived}; devices purged "
        f"{summary.devices_purged}; suppressions added {summary.suppressions_added}, removed "
        f"{summary.suppressions_removed}; entries of tenants not in the backup {others}; "
        f"unreadable lines skipped {torn}"
    )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
def restore(path: Path, yes: bool) -> None:
    """Replace the database with the backup at PATH, then replay the forget log so that no one
    deleted or suppressed since the backup comes back. Stop every obliviate process first;
    the purges it starts run when the server or worker starts again."""
    settings = load_settings()
    log_path = settings.storage.forget_log_path
    try:
        # Everything that can refuse is checked before the database is touched.
        mark = peek_mark(settings.storage.database_url, path)
        log_id = _matching_log_id(log_path, mark)
    except (BackupError, ForgetLogError) as exc:
        raise click.ClickException(str(exc)) from exc
    if mark is None:
        click.echo("the backup holds no forget-log position: replaying the whole log", err=True)
    if not yes:
        click.confirm(
            f"Replace the database with {path}? What was written since the backup is lost; "
            "deletions and suppressions are replayed",
            abort=True,
        )
    try:
        restore_database(settings.storage.database_url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    container = open_checked(settings)
    try:
        reading = LogReading(log_path, after=0 if mark is None else mark.offset)
        try:
            summary, others = _replay(container, reading)
        except ForgetLogError as exc:
            raise click.ClickException(
                f"{exc}: the replay stopped there; do not start the server on this database. "
                "Restore again with an obliviate that reads this log"
            ) from exc
        # The database now holds everything up to here: a copy made of it by other means
        # replays from here too.
        write_mark(container.engine, LogPosition(log_id, reading.end), now=now_ms())
    finally:
        container.engine.dispose()
    click.echo(f"database restored from {path}")
    click.echo(_report(summary, others, reading.torn))
