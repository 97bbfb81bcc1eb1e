"""Configuration: environment variables, optionally a TOML file named by ``GATEWAY_CONFIG``.

The environment always wins over the file. Names are exactly those of CONTRACT.md; the TOML file may use
the same upper-case names or their lower-case forms (``database_url = "..."`` for ``GATEWAY_DATABASE_URL``).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"  # noqa: S105 - only ever valid against the built-in sandbox


class ConfigError(Exception):
    """The configuration is unusable; the message names each bad setting."""


def _env(env_name: str, default: Any) -> Any:
    """A field read from ``env_name`` (or its lower-case form in the TOML file)."""
    return Field(default, validation_alias=AliasChoices(env_name, env_name.lower()))


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``GATEWAY_CONFIG`` (top-level keys only)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        path = os.environ.get("GATEWAY_CONFIG")
        if path:
            try:
                with open(path, "rb") as handle:
                    self._data = tomllib.load(handle)
            except FileNotFoundError as exc:
                raise ConfigError(f"GATEWAY_CONFIG: file {path} does not exist") from exc
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"GATEWAY_CONFIG: {path} is not valid TOML: {exc}") from exc

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """Every setting of CONTRACT.md, validated once at start."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=False)

    database_url: str = _env("GATEWAY_DATABASE_URL", "sqlite:///var/gateway.db")
    broker_url: str = _env("GATEWAY_BROKER_URL", "memory://")
    channels: Literal["live", "sandbox"] | None = _env("GATEWAY_CHANNELS", None)
    public_url: str = _env("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000")
    secret_key: str | None = _env("GATEWAY_SECRET_KEY", None)
    timezone: str = _env("GATEWAY_TIMEZONE", "Europe/London")
    escalation_file: str = _env("GATEWAY_ESCALATION_FILE", "config/escalation.toml")
    clock: str | None = _env("GATEWAY_CLOCK", None)
    clock_speed: float = _env("GATEWAY_CLOCK_SPEED", 1.0)
    var_dir: str = _env("GATEWAY_VAR_DIR", "var")
    weekly_routine_cap: int = _env("GATEWAY_WEEKLY_ROUTINE_CAP", 2)
    # Pipeline timing (real seconds): a row in `sending` this long is reconciled with the provider; a queued row
    # handed to the broker this long ago without being sent is handed over again; the scheduler's tick.
    stuck_seconds: float = _env("GATEWAY_STUCK_SECONDS", 120.0)
    reenqueue_seconds: float = _env("GATEWAY_REENQUEUE_SECONDS", 300.0)
    scheduler_tick: float = _env("GATEWAY_SCHEDULER_TICK", 2.0)
    # What one SMS segment costs the school, in pounds (the Milestones page's cost estimate).
    sms_segment_price: float = _env("GATEWAY_SMS_SEGMENT_PRICE", 0.04)

    twilio_account_sid: str | None = _env("TWILIO_ACCOUNT_SID", None)
    twilio_auth_token: str | None = _env("TWILIO_AUTH_TOKEN", None)
    twilio_from_number: str | None = _env("TWILIO_FROM_NUMBER", None)
    twilio_messaging_service_sid: str | None = _env("TWILIO_MESSAGING_SERVICE_SID", None)
    twilio_voice_from: str | None = _env("TWILIO_VOICE_FROM", None)
    twilio_api_url: str = _env("TWILIO_API_URL", "https://api.twilio.com")
    twilio_mps: float = _env("TWILIO_MPS", 10.0)

    smtp_host: str | None = _env("SMTP_HOST", None)
    smtp_port: int = _env("SMTP_PORT", 587)
    smtp_username: str | None = _env("SMTP_USERNAME", None)
    smtp_password: str | None = _env("SMTP_PASSWORD", None)
    smtp_starttls: Literal["auto", "always", "never"] = _env("SMTP_STARTTLS", "auto")
    smtp_from: str | None = _env("SMTP_FROM", None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from exc
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError(f"{value!r}: use memory://, redis://… or amqp://…")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("twilio_api_url")
    @classmethod
    def _api_strip(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("clock_speed", "twilio_mps", "stuck_seconds", "reenqueue_seconds", "scheduler_tick")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @model_validator(mode="after")
    def _default_channels(self) -> Settings:
        if self.channels is None:
            has_twilio = bool(self.twilio_account_sid and self.twilio_auth_token)
            self.channels = "live" if has_twilio else "sandbox"
        if self.channels == "live":
            missing = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                )
                if not value
            ]
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
            if missing:
                raise ValueError("GATEWAY_CHANNELS=live needs " + ", ".join(missing))
        return self

    # Derived values -------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def var_path(self) -> Path:
        path = Path(self.var_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def sandbox(self) -> bool:
        return self.channels == "sandbox"

    @property
    def voice_from(self) -> str | None:
        return self.twilio_voice_from or self.twilio_from_number

    def twilio_credentials(self) -> tuple[str, str]:
        """(account SID, auth token): configured, else the sandbox's fixed development pair."""
        if self.twilio_account_sid and self.twilio_auth_token:
            return self.twilio_account_sid, self.twilio_auth_token
        return SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    def escalation_path(self) -> Path:
        """The ladder file: as configured, else the packaged default."""
        path = Path(self.escalation_file)
        if path.exists():
            return path
        from gateway.resources import config_dir

        packaged = config_dir() / "escalation.toml"
        if self.escalation_file == "config/escalation.toml" and packaged.exists():
            return packaged
        raise ConfigError(f"GATEWAY_ESCALATION_FILE: {self.escalation_file} does not exist")

    def session_secret(self) -> str:
        """The session signing key: configured, else generated once into ``var/secret_key``."""
        if self.secret_key:
            return self.secret_key
        key_file = self.var_path / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and file); raise ConfigError naming every bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "configuration"
            problems.append(f"{where.upper()}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from exc


@cache
def get_settings() -> Settings:
    """Process-wide settings (tests call ``get_settings.cache_clear()`` after changing the environment)."""
    return load_settings()
