"""Typed, frozen settings read from the environment (prefix ``OBLIVIATE_``), grouped by concern.

The code reads ``settings.rate_limits.gainsight``; the environment keeps one flat variable per
setting, as documented (``OBLIVIATE_GAINSIGHT_RATE_LIMIT``). Each group field names its variable
with ``validation_alias`` where the two differ, so a value that fails validation is reported
under its variable (``variable_for``), and ``Settings(gainsight_rate_limit=...)`` still works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "OBLIVIATE_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: object) -> float:
    """Seconds from ``604800``, ``"7d"``, ``"12h"``, ``"3s"`` or ``"250ms"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '7d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"cannot read {value!r} as a duration (examples: 604800, 7d, 12h, 3s)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '7d'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def parse_key_list(value: object) -> object:
    """``"k1,k2"`` (as the environment gives it) or a sequence of keys; blanks dropped."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# NoDecode: the environment gives a comma-separated list, not the JSON pydantic-settings expects.
KeyList = Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(parse_key_list)]

DEFAULT_SQLITE_URL = "sqlite:///./data/obliviate.db"


class SettingsGroup(BaseModel):
    """One concern's settings. A field is given by its name or by its variable's name (the
    ``validation_alias``: ``gainsight_rate_limit`` for ``rate_limits.gainsight``)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    @classmethod
    def variables(cls) -> Iterator[tuple[str, str]]:
        """(field name, variable name without the prefix, lower case) of every field."""
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            yield name, alias if isinstance(alias, str) else name


class StorageSettings(SettingsGroup):
    database_url: str = DEFAULT_SQLITE_URL
    data_dir: Path = Path("./data")
    # Concurrent requests' writes share one transaction and one commit (on SQLite one fsync),
    # each answered after that commit (storage/group_commit.py). Off: one commit per request.
    group_commit: bool = True
    # Append-only record of every acknowledged deletion and suppression, kept outside the
    # database (keyed hashes and internal ids only): a restored backup replays it. Unset: the
    # file ``forget.log`` in ``data_dir``.
    forget_log: Path | None = None

    @property
    def forget_log_path(self) -> Path:
        return self.forget_log if self.forget_log is not None else self.data_dir / "forget.log"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.split(":", 1)[0].split("+", 1)[0] == "sqlite"


class KeySettings(SettingsGroup):
    # The deployment key of the keyed hashes that stand in for identifiers (suppressions,
    # receipts, log subjects). One key per deployment: every process must hold the same one,
    # and the database refuses any other (storage/deployment_keys.py). Unset, a single-node
    # SQLite install keeps a random key in a file beside the database; anything else must
    # set it.
    current: SecretStr | None = Field(default=None, validation_alias="secret_key")
    # Keys that were current before a rotation, newest first: hashes made under them (old
    # suppressions) keep matching. Comma-separated in OBLIVIATE_PREVIOUS_SECRET_KEYS.
    previous: KeyList = Field(default=(), validation_alias="previous_secret_keys")


class HttpSettings(SettingsGroup):
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    # How long a checked credential is trusted without asking the database again: a rotated or
    # revoked credential stops working within this time, with no restart.
    auth_cache_ttl: Duration = 5.0
    # Set: /metrics answers only a request with ``Authorization: Bearer <this>``.
    metrics_token: SecretStr | None = None


class RateLimitSettings(SettingsGroup):
    """Per tenant and surface, as ``limits`` policies; ``url`` is the counters' storage."""

    url: str = Field(default="memory://", validation_alias="ratelimit_url")
    gainsight: str = Field(default="200/second", validation_alias="gainsight_rate_limit")
    engagelab: str = Field(default="500/second", validation_alias="engagelab_rate_limit")
    insider: str = Field(default="1000/minute", validation_alias="insider_rate_limit")
    native: str = Field(default="1000/second", validation_alias="native_rate_limit")


class GuardSettings(SettingsGroup):
    """What a tenant may delete or merge without confirming it (services/guard.py)."""

    mass_delete_share: float = Field(default=0.10, ge=0.0)
    mass_delete_floor: int = Field(default=100, ge=0)
    # An upsert may fold at most this many existing people into one profile unconfirmed.
    merge_limit: int = Field(default=10, ge=1)


class DeletionSettings(SettingsGroup):
    """When deleted data goes: the revival window, then the worker's purge and erasure."""

    revival_window: Duration = 7 * 86400.0
    purge_interval: Duration = 60.0
    purge_batch_size: int = Field(default=5000, gt=0)
    # How long after a purge its physical erasure may wait, so that one pass (a WAL truncation
    # on SQLite, a rewrite of the key table on PostgreSQL) covers every purge of the moment.
    erasure_delay: Duration = 5.0


class WorkerSettings(SettingsGroup):
    """How the worker claims and retries jobs."""

    poll_interval: Duration = Field(default=0.5, validation_alias="worker_poll_interval")
    lease: Duration = Field(default=60.0, validation_alias="job_lease")
    max_attempts: int = Field(default=8, gt=0, validation_alias="job_max_attempts")
    backoff_base: Duration = Field(default=1.0, validation_alias="job_backoff_base")
    backoff_max: Duration = Field(default=300.0, validation_alias="job_backoff_max")


def _groups(fields: Mapping[str, FieldInfo]) -> Iterator[tuple[str, type[SettingsGroup]]]:
    for name, info in fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, SettingsGroup):
            yield name, kind


class _FlatEnvironment(EnvSettingsSource):
    """The environment as documented: one flat variable per setting, each read into its
    group (``OBLIVIATE_GAINSIGHT_RATE_LIMIT`` -> ``rate_limits``), none per group."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name in dict(_groups(self.settings_cls.model_fields)):
            return None, field_name, False
        return super().get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for group_name, group in _groups(self.settings_cls.model_fields):
            found = {
                variable: value
                for _, variable in group.variables()
                if (
                    value := self.env_vars.get(
                        self._apply_case_sensitive(self.env_prefix + variable)
                    )
                )
                is not None
            }
            if found:
                data[group_name] = found
        return data


def variable_for(loc: tuple[int | str, ...]) -> str | None:
    """The environment variable behind a validation error's location, if any:
    ``("rate_limits", "gainsight_rate_limit")`` -> ``OBLIVIATE_GAINSIGHT_RATE_LIMIT``."""
    groups = dict(_groups(Settings.model_fields))
    head = loc[0] if loc else None
    if isinstance(head, str) and head in groups:
        head = loc[1] if len(loc) > 1 else None
        known = {variable for _, variable in groups[str(loc[0])].variables()}
    else:
        known = set(Settings.model_fields) - set(groups)
    return f"{ENV_PREFIX}{head.upper()}" if isinstance(head, str) and head in known else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    storage: StorageSettings = Field(default_factory=StorageSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    deletion: DeletionSettings = Field(default_factory=DeletionSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 (replaced by the flat one)
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _FlatEnvironment(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _gather_flat_keys(cls, data: object) -> object:
        """Put flat keys (``gainsight_rate_limit=...``, as tests and the environment give
        them) into their groups, each under its variable's name so errors name the variable.

        Sources arrive merged: the environment's values under variable names, a caller's
        under field names or flat, so a caller's field name or flat key wins."""
        if not isinstance(data, Mapping):
            return data
        gathered = dict(data)
        for group_name, group in _groups(cls.model_fields):
            given = gathered.get(group_name)
            flat = [variable for _, variable in group.variables() if variable in gathered]
            if isinstance(given, SettingsGroup) and flat:
                given = given.model_dump(exclude_unset=True)
            if not isinstance(given, Mapping | None):
                continue  # not a group: let validation say so
            entries = dict(given or {})
            for name, variable in group.variables():
                if name != variable and name in entries:
                    entries[variable] = entries.pop(name)
            for variable in flat:
                entries[variable] = gathered.pop(variable)
            if entries or group_name in gathered:
                gathered[group_name] = entries
        return gathered

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        keys = ([] if self.keys.current is None else [self.keys.current]) + list(self.keys.previous)
        if any(not key.get_secret_value().strip() for key in keys):
            raise ValueError("a secret key cannot be empty")
        if self.keys.current is None:
            # A key file is private to one machine: processes elsewhere (or a second
            # PostgreSQL client) would each make their own and disagree on every hash.
            if self.env == "production":
                raise ValueError("OBLIVIATE_SECRET_KEY must be set when OBLIVIATE_ENV=production")
            if not self.storage.is_sqlite:
                raise ValueError(
                    "OBLIVIATE_SECRET_KEY must be set when the database is not a SQLite file: "
                    "every process of the deployment must hold the same key"
                )
            if self.keys.previous:
                raise ValueError("OBLIVIATE_PREVIOUS_SECRET_KEYS needs OBLIVIATE_SECRET_KEY")
        return self
