"""The ``obliviate`` command line (click)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from obliviate import cli_backup, cli_bulk, cli_credentials, cli_export
from obliviate.bootstrap import build_container, create_app, create_worker, start_worker_thread
from obliviate.cli_support import checked as _checked
from obliviate.cli_support import load_settings as _settings
from obliviate.cli_support import now_ms as _now
from obliviate.cli_support import open_checked as _open
from obliviate.domain.errors import ObliviateError
from obliviate.http.dispatch import tune_gc_for_serving
from obliviate.http.logging import configure_logging
from obliviate.services import audit as audit_service
from obliviate.services import tenants
from obliviate.services.queue_port import ErasureBusy
from obliviate.storage.erasure import Eraser
from obliviate.storage.migrate import migrate


def _print_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@click.group()
def main() -> None:
    """Obliviate: a customer-profile store where deleting a person is provable."""


@main.command("migrate")
def migrate_cmd() -> None:
    """Apply database migrations (safe to run again)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    click.echo("database is at the latest schema")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Create the tenant 'demo' on first start.")
@click.option("--no-worker", is_flag=True, help="Serve only; run `obliviate worker` elsewhere.")
def serve(host: str, port: int, demo: bool, no_worker: bool) -> None:
    """Serve every surface, with an in-process worker."""
    import uvicorn

    from obliviate.http.coalesce import CoalescingHttpToolsProtocol

    settings = _settings()
    configure_logging(settings.log_level)
    container = _open(settings)
    if demo:
        if settings.env == "production":
            raise click.ClickException("demo credentials are refused when OBLIVIATE_ENV=production")
        if not tenants.tenant_exists(container.tenant_store, tenants.DEMO_TENANT):
            created = tenants.create_tenant(
                container.tenant_store, name=tenants.DEMO_TENANT, now=_now(), demo=True
            )
            click.echo("demo tenant created; its credentials:", err=True)
            click.echo(orjson.dumps(created.fields()).decode(), err=True)
        else:
            click.echo("demo tenant ready (credentials as in the README)", err=True)
    worker = None if no_worker else create_worker(container)
    stop: threading.Event | None = None
    if worker is not None:
        _thread, stop = start_worker_thread(worker)
    app = create_app(container, worker=worker)
    click.echo(f"obliviate serving on http://{host}:{port}", err=True)
    tune_gc_for_serving()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            loop="uvloop",
            http=CoalescingHttpToolsProtocol,
            log_level="warning",
            access_log=False,
        )
    finally:
        if stop is not None:
            stop.set()


@main.command()
def worker() -> None:
    """Run deletion jobs and purges without serving HTTP."""
    settings = _settings()
    configure_logging(settings.log_level)
    container = _open(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("obliviate worker running", err=True)
    create_worker(container).run(stop)
    # As the server does on a clean stop: nothing of the WAL outlives the process.
    with contextlib.suppress(ErasureBusy):
        Eraser(container.engine).truncate_wal()


@main.command()
@click.option(
    "--expired",
    is_flag=True,
    required=True,
    expose_value=False,
    help="Purge soft deletes past their window.",
)
def purge() -> None:
    """Purge now instead of waiting for the worker's next sweep."""
    container = _open(_settings())
    w = create_worker(container)
    started = w.sweep_expired()
    ran = w.drain()
    click.echo(f"purges started: {started}; jobs run: {ran}")


@main.group()
def tenant() -> None:
    """Create and list tenants."""


@tenant.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
def tenant_create(name: str, as_json: bool) -> None:
    """Create a tenant and print its credentials (shown only this once)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    try:
        created = tenants.create_tenant(container.tenant_store, name=name, now=_now())
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(created.fields()).decode())
    else:
        click.echo(f"tenant {name} created; store these credentials now, they are not kept:")
        _print_json(created.fields())


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
def tenant_list(as_json: bool) -> None:
    """List tenants (never their credentials)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    found = tenants.list_tenants(container.tenant_store)
    if as_json:
        click.echo(
            orjson.dumps([{"tenant": r.name, "created_at": r.created_at} for r in found]).decode()
        )
        return
    for record in found:
        click.echo(record.name)
    if not found:
        click.echo("no tenants", err=True)


@tenant.command("rotate")
@click.argument("name")
@click.option(
    "--surface", required=True, type=click.Choice(["gainsight", "engagelab", "insider", "native"])
)
def tenant_rotate(name: str, surface: str) -> None:
    """Replace a surface's credentials; the old ones stop working (no restart needed)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    try:
        fresh = tenants.rotate_credentials(
            container.tenant_store, name=name, surface=surface, now=_now()
        )
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps({surface: fresh.fields()}).decode())
    if surface == "native":
        click.echo("every other native token of the tenant is revoked, scoped ones too", err=True)


@tenant.group("token")
def tenant_token() -> None:
    """Native API bearer tokens with scopes."""


@tenant_token.command("create")
@click.argument("name")
@click.option("--scopes", required=True, help="Comma-separated: read, write, delete, admin.")
@click.option("--json", "as_json", is_flag=True)
def token_create(name: str, scopes: str, as_json: bool) -> None:
    """Create a scoped bearer token for tenant NAME (shown only this once)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        token = tenants.create_token(container.tenant_store, name=name, scopes=wanted, now=_now())
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(
            orjson.dumps({"tenant": name, "token": token, "scopes": sorted(wanted)}).decode()
        )
    else:
        click.echo(token)


tenant_token.add_command(cli_credentials.token_list)
tenant_token.add_command(cli_credentials.token_revoke)
main.add_command(cli_credentials.keys)
main.add_command(cli_backup.backup)
main.add_command(cli_backup.restore)


@main.group()
def deletions() -> None:
    """Batch deletions from the command line."""


@deletions.command("submit")
@click.option("--tenant", required=True)
@click.option(
    "--file", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--type",
    "default_type",
    default="uuid",
    show_default=True,
    help="Identifier type of lines without a type: prefix.",
)
@click.option("--mode", type=click.Choice(["soft", "hard"]), default="hard", show_default=True)
@click.option("--suppress", is_flag=True, help="Block re-creation of the deleted identifiers.")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option("--confirm-mass-delete", is_flag=True, help="Pass the mass-deletion guard.")
@click.option("--no-wait", is_flag=True, help="Submit and return without following the jobs.")
def deletions_submit(
    tenant: str,
    path: Path,
    default_type: str,
    mode: str,
    suppress: bool,
    dry_run: bool,
    confirm_mass_delete: bool,
    no_wait: bool,
) -> None:
    """Submit the subjects in FILE in batches of 1,000 and follow the jobs."""
    sys.exit(
        cli_bulk.submit_file(
            _checked(_settings()),
            tenant=tenant,
            path=path,
            default_type=default_type,
            mode=mode,
            suppress=suppress,
            dry_run=dry_run,
            confirm=confirm_mass_delete,
            wait=not no_wait,
        )
    )


@main.command("import")
@click.option("--tenant", required=True)
@click.option(
    "--file", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def import_cmd(tenant: str, path: Path) -> None:
    """Import profiles from JSON lines: {"uuid", "identifiers", "attributes", "events"}."""
    sys.exit(cli_bulk.import_file(_checked(_settings()), tenant=tenant, path=path))


@main.command("export")
@click.option("--tenant", required=True)
@click.option(
    "--subject", required=True, help="type:value (email:a@x.com, custom.crm:42); bare: a uuid."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
def export_cmd(tenant: str, subject: str, out: Path | None) -> None:
    """Write everything held on one person (GDPR Art. 15/20) as JSON, with a progress bar."""
    sys.exit(cli_export.export_subject(_open(_settings()), tenant=tenant, subject=subject, out=out))


@main.group()
def audit() -> None:
    """Check and export deletion receipts."""


@audit.command("verify")
def audit_verify() -> None:
    """Check every tenant's receipt chain; exit 1 naming the first bad receipt."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    bad = 0
    for record in tenants.list_tenants(container.tenant_store):
        with container.uow_factory(record.tenant_id, write=False) as uow:
            problem = audit_service.verify_tenant(uow)
            count = len(uow.receipts.all_in_order())
        if problem is None:
            click.echo(f"{record.name}: {count} receipts, chain intact")
        else:
            bad += 1
            click.echo(f"{record.name}: receipt {problem.receipt_id} {problem.what}", err=True)
    if bad:
        sys.exit(1)


def _epoch_ms(value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use epoch milliseconds or an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@audit.command("export")
@click.option("--since", required=True, help="Epoch ms or ISO 8601 date.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default="-")
def audit_export(since: str, out: str) -> None:
    """Write receipts completed since a time as JSON lines (all tenants)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    start = _epoch_ms(since)
    with click.open_file(out, "w") as sink:
        for record in tenants.list_tenants(container.tenant_store):
            with container.uow_factory(record.tenant_id, write=False) as uow:
                for receipt in audit_service.export_since(uow, since=start):
                    line = {"tenant": record.name, **receipt}
                    line.pop("tenant_id", None)
                    sink.write(orjson.dumps(line).decode() + "\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
