"""What every ``obliviate`` command shares: settings, the clock, and the deployment key check."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from pydantic import ValidationError

from obliviate.bootstrap import Container, open_deployment
from obliviate.domain.errors import ObliviateError
from obliviate.domain.tenants import Caller
from obliviate.services import tenants
from obliviate.settings import Settings, variable_for
from obliviate.storage.deployment_keys import DeploymentKeyError


def tenant_caller(container: Container, name: str) -> Caller:
    """The tenant ``name`` as a command acting for its operator sees it."""
    s = container.settings
    try:
        return tenants.cli_caller(
            container.tenant_store,
            name=name,
            revival_window=s.deletion.revival_window,
            share=s.guard.mass_delete_share,
            floor=s.guard.mass_delete_floor,
            merge_limit=s.guard.merge_limit,
        )
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Without the input: pydantic would print the values given, secret keys among them.
        problems = [
            f"{_where(e['loc'])}{e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise click.ClickException(f"invalid settings: {'; '.join(problems)}") from None


def _where(loc: tuple[int | str, ...]) -> str:
    """``OBLIVIATE_ERASURE_DELAY: `` for a setting's error: the variable the operator set."""
    if not loc:
        return ""
    return f"{variable_for(loc) or '.'.join(map(str, loc))}: "


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "never"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds")


def open_checked(settings: Settings) -> Container:
    """For a command that makes keyed hashes: migrated, and refused with a key the database
    was not created with, which would let suppressed identifiers back in."""
    try:
        return open_deployment(settings)
    except DeploymentKeyError as exc:
        raise click.ClickException(str(exc)) from exc


def checked(settings: Settings) -> Settings:
    """The key check for commands that build their own container (cli_bulk)."""
    open_checked(settings).engine.dispose()
    return settings
