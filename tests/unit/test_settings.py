from __future__ import annotations

import pytest
from pydantic import ValidationError

from obliviate.settings import Settings, parse_duration


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (604800, 604800.0),
        ("604800", 604800.0),
        ("7d", 604800.0),
        ("12h", 43200.0),
        ("3s", 3.0),
        ("250ms", 0.25),
        ("2m", 120.0),
        (1.5, 1.5),
    ],
)
def test_durations_read_in_every_documented_form(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "7 days", "-3s", "d", True, None, [1]])
def test_unreadable_durations_are_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBLIVIATE_REVIVAL_WINDOW", "12h")
    monkeypatch.setenv("OBLIVIATE_PURGE_INTERVAL", "3s")
    monkeypatch.setenv("OBLIVIATE_GAINSIGHT_RATE_LIMIT", "600/minute")
    settings = Settings()
    assert settings.revival_window == 43200.0
    assert settings.purge_interval == 3.0
    assert settings.gainsight_rate_limit == "600/minute"
    assert settings.max_body_bytes == 5_000_000


def test_defaults_are_seven_days_and_sixty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OBLIVIATE_REVIVAL_WINDOW", "OBLIVIATE_PURGE_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.revival_window == 7 * 86400
    assert settings.purge_interval == 60


def test_production_requires_an_explicit_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBLIVIATE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError):
        Settings(env="production")
    assert Settings(env="production", secret_key="k").env == "production"
