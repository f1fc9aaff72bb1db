"""Settings are read grouped by concern, from the flat variables the README documents."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from obliviate.cli_support import load_settings
from obliviate.settings import (
    ENV_PREFIX,
    DeletionSettings,
    RateLimitSettings,
    Settings,
    SettingsGroup,
    WorkerSettings,
    variable_for,
)

README = Path(__file__).resolve().parents[2] / "README.md"

# Every variable, a value for it, and where the code reads that value.
VARIABLES: list[tuple[str, str, str, object]] = [
    ("OBLIVIATE_ENV", "production", "env", "production"),
    ("OBLIVIATE_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
    ("OBLIVIATE_DATABASE_URL", "postgresql://db/o", "storage.database_url", "postgresql://db/o"),
    ("OBLIVIATE_DATA_DIR", "/srv/obliviate", "storage.data_dir", Path("/srv/obliviate")),
    ("OBLIVIATE_GROUP_COMMIT", "false", "storage.group_commit", False),
    ("OBLIVIATE_FORGET_LOG", "/logs/forget.log", "storage.forget_log", Path("/logs/forget.log")),
    ("OBLIVIATE_SECRET_KEY", "new-key", "keys.current", "new-key"),
    (
        "OBLIVIATE_PREVIOUS_SECRET_KEYS",
        "old-key,older-key",
        "keys.previous",
        ["old-key", "older-key"],
    ),
    ("OBLIVIATE_MAX_BODY_BYTES", "1024", "http.max_body_bytes", 1024),
    ("OBLIVIATE_AUTH_CACHE_TTL", "250ms", "http.auth_cache_ttl", 0.25),
    ("OBLIVIATE_METRICS_TOKEN", "scrape-me", "http.metrics_token", "scrape-me"),
    ("OBLIVIATE_RATELIMIT_URL", "redis://r:6379/0", "rate_limits.url", "redis://r:6379/0"),
    ("OBLIVIATE_GAINSIGHT_RATE_LIMIT", "1/second", "rate_limits.gainsight", "1/second"),
    ("OBLIVIATE_ENGAGELAB_RATE_LIMIT", "2/second", "rate_limits.engagelab", "2/second"),
    ("OBLIVIATE_INSIDER_RATE_LIMIT", "3/minute", "rate_limits.insider", "3/minute"),
    ("OBLIVIATE_NATIVE_RATE_LIMIT", "4/second", "rate_limits.native", "4/second"),
    ("OBLIVIATE_MASS_DELETE_SHARE", "0.5", "guard.mass_delete_share", 0.5),
    ("OBLIVIATE_MASS_DELETE_FLOOR", "7", "guard.mass_delete_floor", 7),
    ("OBLIVIATE_MERGE_LIMIT", "3", "guard.merge_limit", 3),
    ("OBLIVIATE_REVIVAL_WINDOW", "12h", "deletion.revival_window", 43200.0),
    ("OBLIVIATE_PURGE_INTERVAL", "3s", "deletion.purge_interval", 3.0),
    ("OBLIVIATE_PURGE_BATCH_SIZE", "10", "deletion.purge_batch_size", 10),
    ("OBLIVIATE_ERASURE_DELAY", "2m", "deletion.erasure_delay", 120.0),
    ("OBLIVIATE_WORKER_POLL_INTERVAL", "250ms", "worker.poll_interval", 0.25),
    ("OBLIVIATE_JOB_LEASE", "2m", "worker.lease", 120.0),
    ("OBLIVIATE_JOB_MAX_ATTEMPTS", "3", "worker.max_attempts", 3),
    ("OBLIVIATE_JOB_BACKOFF_BASE", "2s", "worker.backoff_base", 2.0),
    ("OBLIVIATE_JOB_BACKOFF_MAX", "1h", "worker.backoff_max", 3600.0),
]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Only the variables a test sets, plus a key (so production and PostgreSQL URLs load)."""
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OBLIVIATE_SECRET_KEY", "base-key")
    return monkeypatch


def _read(settings: Settings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):
        return [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
    return value


@pytest.mark.parametrize(("variable", "raw", "path", "expected"), VARIABLES)
def test_each_flat_variable_lands_in_its_group(
    variable: str, raw: str, path: str, expected: object, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv(variable, raw)
    assert _read(Settings(), path) == expected


@pytest.mark.parametrize(("variable", "raw", "path", "expected"), VARIABLES)
def test_each_flat_keyword_lands_in_its_group(
    variable: str, raw: str, path: str, expected: object
) -> None:
    values: dict[str, Any] = {variable.removeprefix(ENV_PREFIX).lower(): raw}
    assert _read(Settings(**values), path) == expected


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, SettingsGroup):
            paths |= _leaf_paths(kind, f"{prefix}{name}.")
        else:
            paths.add(prefix + name)
    return paths


def test_every_setting_has_a_variable_in_the_table() -> None:
    assert {path for _, _, path, _ in VARIABLES} == _leaf_paths(Settings)


def test_every_variable_the_readme_documents_is_read() -> None:
    text = README.read_text()
    table = text.split("## Configuration (environment, prefix `OBLIVIATE_`)", 1)[1]
    table = table.split("\n\n", 2)[1]
    documented = {
        ENV_PREFIX + name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1])
    }
    assert len(documented) > 15
    assert documented <= {variable for variable, _, _, _ in VARIABLES}


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("OBLIVIATE_ERASURE_DELAY", "soon"),
        ("OBLIVIATE_REVIVAL_WINDOW", "7 days"),
        ("OBLIVIATE_JOB_MAX_ATTEMPTS", "0"),
        ("OBLIVIATE_JOB_LEASE", "-3s"),
        ("OBLIVIATE_MAX_BODY_BYTES", "big"),
        ("OBLIVIATE_GROUP_COMMIT", "maybe"),
        ("OBLIVIATE_MASS_DELETE_SHARE", "-1"),
        ("OBLIVIATE_MERGE_LIMIT", "0"),
        ("OBLIVIATE_ENV", "prod"),
    ],
)
def test_a_wrong_value_is_reported_under_its_variable(
    variable: str, raw: str, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv(variable, raw)
    with pytest.raises(ValidationError) as refused:
        Settings()
    [error] = refused.value.errors()
    assert variable_for(error["loc"]) == variable
    with pytest.raises(click.ClickException) as shown:
        load_settings()
    assert shown.value.message == f"invalid settings: {variable}: {error['msg']}"
    assert raw not in shown.value.message.removesuffix(error["msg"])


def test_a_wrong_flat_keyword_is_reported_under_its_variable() -> None:
    values: dict[str, Any] = {"erasure_delay": "soon", "job_lease": "later"}
    with pytest.raises(ValidationError) as refused:
        Settings(**values)
    named = {variable_for(error["loc"]) for error in refused.value.errors()}
    assert named == {"OBLIVIATE_ERASURE_DELAY", "OBLIVIATE_JOB_LEASE"}


def test_groups_are_given_as_models_or_by_field_name() -> None:
    settings = Settings(
        rate_limits=RateLimitSettings(gainsight="5/second"),
        worker=WorkerSettings(lease=2.0, max_attempts=2),
    )
    assert (settings.rate_limits.gainsight, settings.rate_limits.native) == (
        "5/second",
        "1000/second",
    )
    assert (settings.worker.lease, settings.worker.max_attempts) == (2.0, 2)
    values: dict[str, Any] = {"deletion": {"erasure_delay": "3s", "revival_window": "1d"}}
    assert Settings(**values).deletion == DeletionSettings(
        erasure_delay=3.0, revival_window=86400.0
    )


def test_a_caller_overrides_the_environment_flat_or_grouped(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("OBLIVIATE_GAINSIGHT_RATE_LIMIT", "1/second")
    environment.setenv("OBLIVIATE_NATIVE_RATE_LIMIT", "2/second")
    flat: dict[str, Any] = {"gainsight_rate_limit": "3/second"}
    grouped: dict[str, Any] = {"rate_limits": {"gainsight": "4/second"}}
    assert Settings(**flat).rate_limits.gainsight == "3/second"
    # A partial group keeps what the environment set for the rest of it.
    assert Settings(**grouped).rate_limits == RateLimitSettings(
        gainsight="4/second", native="2/second"
    )
    # A whole group object replaces the environment's group; a flat keyword still applies.
    whole = Settings(rate_limits=RateLimitSettings(), **flat).rate_limits
    assert whole == RateLimitSettings(gainsight="3/second")


def test_an_unknown_field_in_a_group_is_refused() -> None:
    values: dict[str, Any] = {"rate_limits": {"gainsite": "1/second"}}
    with pytest.raises(ValidationError) as refused:
        Settings(**values)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("rate_limits", "gainsite"), "extra_forbidden")
    ]


def test_groups_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError) as refused:
        settings.rate_limits.gainsight = "1/second"
    assert refused.value.errors()[0]["type"] == "frozen_instance"


def test_the_forget_log_defaults_to_the_data_directory() -> None:
    values: dict[str, Any] = {"data_dir": "/srv/o"}
    assert Settings(**values).storage.forget_log_path == Path("/srv/o/forget.log")
    values["forget_log"] = "/logs/f.log"
    assert Settings(**values).storage.forget_log_path == Path("/logs/f.log")
