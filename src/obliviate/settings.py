"""Typed, frozen settings read from the environment (prefix ``OBLIVIATE_``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBLIVIATE_", frozen=True, extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    revival_window: Duration = 7 * 86400.0
    purge_interval: Duration = 60.0
    ratelimit_url: str = "memory://"
    gainsight_rate_limit: str = "200/second"
    engagelab_rate_limit: str = "500/second"
    insider_rate_limit: str = "1000/minute"
    native_rate_limit: str = "1000/second"
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    # SQLite only: concurrent requests' writes share one transaction and one fsync, each
    # answered after that commit (storage/group_commit.py). Off: one commit per request.
    group_commit: bool = True
    # How long a checked credential is trusted without asking the database again: a rotated or
    # revoked credential stops working within this time, with no restart.
    auth_cache_ttl: Duration = 5.0
    mass_delete_share: float = Field(default=0.10, ge=0.0)
    mass_delete_floor: int = Field(default=100, ge=0)
    # An upsert may fold at most this many existing people into one profile unconfirmed.
    merge_limit: int = Field(default=10, ge=1)
    # The deployment key of the keyed hashes that stand in for identifiers (suppressions,
    # receipts, log subjects). One key per deployment: every process must hold the same one,
    # and the database refuses any other (storage/deployment_keys.py). Unset, a single-node
    # SQLite install keeps a random key in a file beside the database; anything else must
    # set it.
    secret_key: SecretStr | None = None
    # Keys that were current before a rotation, newest first: hashes made under them (old
    # suppressions) keep matching. Comma-separated in OBLIVIATE_PREVIOUS_SECRET_KEYS.
    previous_secret_keys: KeyList = ()
    data_dir: Path = Path("./data")
    worker_poll_interval: Duration = 0.5
    job_lease: Duration = 60.0
    job_max_attempts: int = Field(default=8, gt=0)
    job_backoff_base: Duration = 1.0
    job_backoff_max: Duration = 300.0
    purge_batch_size: int = Field(default=5000, gt=0)
    # How long after a purge its physical erasure may wait, so that one pass (a WAL truncation
    # on SQLite, a rewrite of the key table on PostgreSQL) covers every purge of the moment.
    erasure_delay: Duration = 5.0
    # Append-only record of every acknowledged deletion and suppression, kept outside the
    # database (keyed hashes and internal ids only): a restored backup replays it. Unset: the
    # file ``forget.log`` in ``data_dir``.
    forget_log: Path | None = None
    log_level: str = "INFO"

    @property
    def forget_log_path(self) -> Path:
        return self.forget_log if self.forget_log is not None else self.data_dir / "forget.log"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.split(":", 1)[0].split("+", 1)[0] == "sqlite"

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        keys = ([] if self.secret_key is None else [self.secret_key]) + list(
            self.previous_secret_keys
        )
        if any(not key.get_secret_value().strip() for key in keys):
            raise ValueError("a secret key cannot be empty")
        if self.secret_key is None:
            # A key file is private to one machine: processes elsewhere (or a second
            # PostgreSQL client) would each make their own and disagree on every hash.
            if self.env == "production":
                raise ValueError("OBLIVIATE_SECRET_KEY must be set when OBLIVIATE_ENV=production")
            if not self.is_sqlite:
                raise ValueError(
                    "OBLIVIATE_SECRET_KEY must be set when the database is not a SQLite file: "
                    "every process of the deployment must hold the same key"
                )
            if self.previous_secret_keys:
                raise ValueError("OBLIVIATE_PREVIOUS_SECRET_KEYS needs OBLIVIATE_SECRET_KEY")
        return self
