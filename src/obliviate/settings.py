"""Typed, frozen settings read from the environment (prefix ``OBLIVIATE_``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Key for the keyed hashes that stand in for identifiers in logs and receipts.
    # When unset, a random key is created once beside the SQLite file (or under ./data).
    secret_key: str | None = None
    data_dir: Path = Path("./data")
    worker_poll_interval: Duration = 0.5
    job_lease: Duration = 60.0
    job_max_attempts: int = Field(default=8, gt=0)
    job_backoff_base: Duration = 1.0
    job_backoff_max: Duration = 300.0
    purge_batch_size: int = Field(default=5000, gt=0)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env == "production" and self.secret_key is None:
            raise ValueError("OBLIVIATE_SECRET_KEY must be set when OBLIVIATE_ENV=production")
        return self
