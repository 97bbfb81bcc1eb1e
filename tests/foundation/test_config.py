"""Configuration: CONTRACT.md names, the TOML file, environment precedence and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAY_CONFIG", "GATEWAY_DATABASE_URL", "GATEWAY_BROKER_URL", "GATEWAY_CHANNELS",
                 "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "GATEWAY_TIMEZONE", "TWILIO_MPS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_school_setup() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/gateway.db"
    assert settings.broker_url == "memory://"
    assert settings.channels == "sandbox"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.timezone == "Europe/London"
    assert settings.twilio_mps == 10
    assert settings.smtp_port == 587
    assert settings.smtp_starttls == "auto"


def test_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('GATEWAY_BROKER_URL = "redis://127.0.0.1:6379/3"\ntwilio_mps = 25\n'
                      'GATEWAY_PUBLIC_URL = "https://school.example/"\n')
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    monkeypatch.setenv("TWILIO_MPS", "40")
    settings = load_settings()
    assert settings.broker_url == "redis://127.0.0.1:6379/3"
    assert settings.twilio_mps == 40
    assert settings.public_url == "https://school.example"


def test_live_channels_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CHANNELS", "live")
    with pytest.raises(ConfigError, match=r"TWILIO_ACCOUNT_SID.*TWILIO_AUTH_TOKEN.*TWILIO_FROM_NUMBER"):
        load_settings()


def test_twilio_credentials_switch_to_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+447700900000")
    settings = load_settings()
    assert settings.channels == "live"
    assert settings.twilio_credentials() == ("AC" + "1" * 32, "secret")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("GATEWAY_TIMEZONE", "Europe/Londres", "unknown time zone"),
        ("GATEWAY_BROKER_URL", "kafka://x", "memory://"),
        ("TWILIO_MPS", "0", "greater than 0"),
        ("GATEWAY_CHANNELS", "carrier-pigeon", "GATEWAY_CHANNELS"),
    ],
)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATEWAY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings()
