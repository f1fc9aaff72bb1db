"""``obliviate keys`` and the native token commands of ``obliviate tenant token``."""

from __future__ import annotations

import click
import orjson

from obliviate.bootstrap import build_container
from obliviate.cli_support import iso as _iso
from obliviate.cli_support import load_settings as _settings
from obliviate.cli_support import now_ms as _now
from obliviate.domain.errors import ObliviateError
from obliviate.services import native_tokens
from obliviate.storage import deployment_keys
from obliviate.storage.migrate import migrate


@click.command("list")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def token_list(name: str, as_json: bool) -> None:
    """List tenant NAME's working native tokens: id, scopes, created, last used (no secret)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    try:
        found = native_tokens.list_tokens(container.tenant_store, name=name)
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        rows = [
            {
                "id": tok.token_id,
                "scopes": None if tok.scopes is None else list(tok.scopes),
                "created_at": tok.created_at,
                "last_used_at": tok.last_used_at,
            }
            for tok in found
        ]
        click.echo(orjson.dumps(rows).decode())
        return
    for tok in found:
        scopes = "all" if tok.scopes is None else ",".join(tok.scopes)
        click.echo(
            f"{tok.token_id}  scopes={scopes}  created={_iso(tok.created_at)}"
            f"  last_used={_iso(tok.last_used_at)}"
        )
    if not found:
        click.echo("no native tokens", err=True)


@click.command("revoke")
@click.argument("name")
@click.argument("token_id")
def token_revoke(name: str, token_id: str) -> None:
    """Revoke one native token of tenant NAME (its id from `tenant token list`)."""
    container = build_container(_settings())
    migrate(container.engine, keys=container.keys)
    try:
        native_tokens.revoke_token(container.tenant_store, name=name, token=token_id, now=_now())
    except ObliviateError as exc:
        raise click.ClickException(str(exc)) from exc
    ttl = container.settings.http.auth_cache_ttl
    click.echo(f"token {token_id} revoked; every process refuses it within {ttl:g} s")


@click.group()
def keys() -> None:
    """The deployment key of the keyed hashes (OBLIVIATE_SECRET_KEY)."""


@keys.command("rotate")
@click.option("--json", "as_json", is_flag=True)
def keys_rotate(as_json: bool) -> None:
    """Make OBLIVIATE_SECRET_KEY the deployment's key, the old one listed in
    OBLIVIATE_PREVIOUS_SECRET_KEYS. Old suppressions keep their hashes (they cannot be made
    again without the values they hide): keep each key the report names."""
    settings = _settings()
    if settings.keys.current is None or not settings.keys.previous:
        raise click.ClickException(
            "set OBLIVIATE_SECRET_KEY to the new key and OBLIVIATE_PREVIOUS_SECRET_KEYS to the "
            "key in use until now"
        )
    container = build_container(settings)
    migrate(container.engine, keys=container.keys)
    try:
        done = deployment_keys.rotate(container.engine, container.keys, now=_now())
    except deployment_keys.DeploymentKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        needs = [
            {"key_id": n.key_id, "suppressions": n.suppressions, "held": n.held}
            for n in done.still_needed
        ]
        click.echo(
            orjson.dumps(
                {"current": done.current_id, "changed": done.changed, "still_needed": needs}
            ).decode()
        )
        return
    state = "is now" if done.changed else "was already"
    click.echo(f"secret key {done.current_id} {state} the deployment's key")
    for need in done.still_needed:
        click.echo(
            f"{need.suppressions} suppressions still need previous key {need.key_id}: "
            "keep it in OBLIVIATE_PREVIOUS_SECRET_KEYS"
        )
