from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from obliviate.settings import KeySettings, Settings, parse_duration


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
    with pytest.raises(ValueError, match="duration"):
        parse_duration(raw)


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBLIVIATE_REVIVAL_WINDOW", "12h")
    monkeypatch.setenv("OBLIVIATE_PURGE_INTERVAL", "3s")
    monkeypatch.setenv("OBLIVIATE_GAINSIGHT_RATE_LIMIT", "600/minute")
    settings = Settings()
    assert settings.deletion.revival_window == 43200.0
    assert settings.deletion.purge_interval == 3.0
    assert settings.rate_limits.gainsight == "600/minute"
    assert settings.http.max_body_bytes == 5_000_000


def test_defaults_are_seven_days_and_sixty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OBLIVIATE_REVIVAL_WINDOW", "OBLIVIATE_PURGE_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.deletion.revival_window == 7 * 86400
    assert settings.deletion.purge_interval == 60


def test_production_requires_an_explicit_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBLIVIATE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(env="production")
    assert _problem(refused) == (
        "Value error, OBLIVIATE_SECRET_KEY must be set when OBLIVIATE_ENV=production"
    )
    keys = KeySettings(current=SecretStr("k"))
    assert Settings(env="production", keys=keys).env == "production"


def _problem(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(error.value.errors()[0]["msg"])


def test_postgres_requires_an_explicit_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBLIVIATE_SECRET_KEY", raising=False)
    monkeypatch.setenv("OBLIVIATE_DATABASE_URL", "postgresql://db.internal/obliviate")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert _problem(refused) == (
        "Value error, OBLIVIATE_SECRET_KEY must be set when the database is not a SQLite file: "
        "every process of the deployment must hold the same key"
    )
    monkeypatch.setenv("OBLIVIATE_SECRET_KEY", "shared-key")
    assert Settings().keys.current is not None


def test_a_sqlite_install_may_go_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBLIVIATE_SECRET_KEY", raising=False)
    monkeypatch.setenv("OBLIVIATE_DATABASE_URL", "sqlite:///./data/o.db")
    assert Settings().keys.current is None


def test_previous_keys_are_read_comma_separated_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OBLIVIATE_SECRET_KEY", "current-key")
    monkeypatch.setenv("OBLIVIATE_PREVIOUS_SECRET_KEYS", "older-key, oldest-key,")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.keys.previous] == [
        "older-key",
        "oldest-key",
    ]
    shown = repr(settings)
    assert "current-key" not in shown
    assert "older-key" not in shown


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"secret_key": "  "}, "Value error, a secret key cannot be empty"),
        (
            {"previous_secret_keys": "old-key"},
            "Value error, OBLIVIATE_PREVIOUS_SECRET_KEYS needs OBLIVIATE_SECRET_KEY",
        ),
    ],
)
def test_unusable_keys_are_refused(
    values: dict[str, str], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OBLIVIATE_SECRET_KEY", raising=False)
    monkeypatch.delenv("OBLIVIATE_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    assert _problem(refused) == problem
