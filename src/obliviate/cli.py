"""The ``obliviate`` command line (click)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

import click
import orjson

from obliviate.bootstrap import build_container, create_app, create_worker, start_worker_thread
from obliviate.domain.errors import ObliviateError
from obliviate.http.logging import configure_logging
from obliviate.services import tenants
from obliviate.settings import Settings
from obliviate.storage.migrate import migrate


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:
        raise click.ClickException(f"invalid settings: {exc}") from exc


def _now() -> int:
    return int(time.time() * 1000)


def _print_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@click.group()
def main() -> None:
    """Obliviate: a customer-profile store where deleting a person is provable."""


@main.command("migrate")
def migrate_cmd() -> None:
    """Apply database migrations (safe to run again)."""
    container = build_container(_settings())
    migrate(container.engine)
    click.echo("database is at the latest schema")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Create the tenant 'demo' on first start.")
@click.option("--no-worker", is_flag=True, help="Serve only; run `obliviate worker` elsewhere.")
def serve(host: str, port: int, demo: bool, no_worker: bool) -> None:
    """Serve every surface, with an in-process worker."""
    import uvicorn

    settings = _settings()
    configure_logging(settings.log_level)
    container = build_container(settings)
    migrate(container.engine)
    if demo:
        if settings.env == "production":
            raise click.ClickException("demo credentials are refused when OBLIVIATE_ENV=production")
        if not tenants.tenant_exists(container.engine, tenants.DEMO_TENANT):
            created = tenants.create_tenant(
                container.engine, name=tenants.DEMO_TENANT, now=_now(), demo=True
            )
            click.echo("demo tenant created; its credentials:", err=True)
            click.echo(orjson.dumps(created).decode(), err=True)
        else:
            click.echo("demo tenant ready (credentials as in the README)", err=True)
    worker = None if no_worker else create_worker(container)
    stop: threading.Event | None = None
    if worker is not None:
        _thread, stop = start_worker_thread(worker)
    app = create_app(container, worker=worker)
    click.echo(f"obliviate serving on http://{host}:{port}", err=True)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
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
    container = build_container(settings)
    migrate(container.engine)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("obliviate worker running", err=True)
    create_worker(container).run(stop)


@main.command()
@click.option(
    "--expired", is_flag=True, required=True, help="Purge soft deletes past their window."
)
def purge(expired: bool) -> None:
    """Purge now instead of waiting for the worker's next sweep."""
    container = build_container(_settings())
    migrate(container.engine)
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
    migrate(container.engine)
    try:
        created = tenants.create_tenant(container.engine, name=name, now=_now())
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(created).decode())
    else:
        click.echo(f"tenant {name} created; store these credentials now, they are not kept:")
        _print_json(created)


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
def tenant_list(as_json: bool) -> None:
    """List tenants (never their credentials)."""
    container = build_container(_settings())
    migrate(container.engine)
    found = tenants.list_tenants(container.engine)
    if as_json:
        click.echo(
            orjson.dumps([{"tenant": r.name, "created_at": r.created_at} for r in found]).decode()
        )
        return
    for record in found:
        click.echo(record.name)
    if not found:
        click.echo("no tenants", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
