"""Configuration: environment variables, optionally a TOML file named by ``GATEWAY_CONFIG``.

The environment always wins over the file. Names are exactly those of CONTRACT.md; the TOML file may use
the same upper-case names or their lower-case forms (``database_url = "..."`` for ``GATEWAY_DATABASE_URL``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
# File names in the var directory: the sandbox's Twilio auth token and the secret key, one of each per install.
SANDBOX_TOKEN_FILE = "sandbox_twilio_token"  # noqa: S105 - a file name, not the token
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not the key
SANDBOX_BANNER = "Sandbox mode: no real messages are sent"


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
    # A parent's reply stored this long ago and still unprocessed (its hand-over to the broker failed, or was
    # lost) is handed over again; the scheduler sweeps for such replies this often.
    inbound_redeliver_seconds: float = _env("GATEWAY_INBOUND_REDELIVER_SECONDS", 60.0)
    scheduler_tick: float = _env("GATEWAY_SCHEDULER_TICK", 2.0)
    # What one SMS segment costs the school, in pounds (the Milestones page's cost estimate).
    sms_segment_price: float = _env("GATEWAY_SMS_SEGMENT_PRICE", 0.04)
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR networks).
    trusted_proxies: str = _env("GATEWAY_TRUSTED_PROXIES", "")

    twilio_account_sid: str | None = _env("TWILIO_ACCOUNT_SID", None)
    twilio_auth_token: str | None = _env("TWILIO_AUTH_TOKEN", None)
    twilio_from_number: str | None = _env("TWILIO_FROM_NUMBER", None)
    twilio_messaging_service_sid: str | None = _env("TWILIO_MESSAGING_SERVICE_SID", None)
    twilio_voice_from: str | None = _env("TWILIO_VOICE_FROM", None)
    twilio_api_url: str = _env("TWILIO_API_URL", "https://api.twilio.com")
    twilio_mps: float = _env("TWILIO_MPS", 10.0)
    # How long the provider usually takes to answer a send (Twilio from the UK: 0.15-0.4 s). A worker keeps
    # about TWILIO_MPS x this many sends in flight (gateway.pipeline.worker.default_threads), unless
    # GATEWAY_WORKER_THREADS fixes its thread count.
    twilio_expected_latency: float = _env("TWILIO_EXPECTED_LATENCY", 0.4)
    worker_threads: int | None = _env("GATEWAY_WORKER_THREADS", None)

    smtp_host: str | None = _env("SMTP_HOST", None)
    smtp_port: int = _env("SMTP_PORT", 587)
    smtp_username: str | None = _env("SMTP_USERNAME", None)
    smtp_password: str | None = _env("SMTP_PASSWORD", None)
    smtp_starttls: Literal["auto", "always", "never"] = _env("SMTP_STARTTLS", "auto")
    smtp_from: str | None = _env("SMTP_FROM", None)
    smtp_reply_to: str | None = _env("SMTP_REPLY_TO", None)  # Reply-To on every e-mail: the office mailbox
    # Optional: parents' e-mail replies read from this mailbox into the Inbox (gateway.pipeline.email_replies).
    # Port 993 is IMAP over TLS; any other port needs STARTTLS unless the server is on this machine.
    imap_host: str | None = _env("IMAP_HOST", None)
    imap_port: int = _env("IMAP_PORT", 993)
    imap_username: str | None = _env("IMAP_USERNAME", None)
    imap_password: str | None = _env("IMAP_PASSWORD", None)
    imap_folder: str = _env("IMAP_FOLDER", "INBOX")
    imap_poll_seconds: float = _env("IMAP_POLL_SECONDS", 60.0)  # how often the scheduler looks (real seconds)
    # Optional: a LibreTranslate-compatible service (self-hosted); no parent's text leaves unless this is set.
    translate_url: str | None = _env("GATEWAY_TRANSLATE_URL", None)
    translate_api_key: str | None = _env("GATEWAY_TRANSLATE_API_KEY", None)

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

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in _split(value):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError as exc:
                raise ValueError(f"{part!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from exc
        return ",".join(_split(value))

    @field_validator("clock_speed", "twilio_mps", "stuck_seconds", "reenqueue_seconds", "inbound_redeliver_seconds",
                     "scheduler_tick", "twilio_expected_latency")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("worker_threads")
    @classmethod
    def _some_threads(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1")
        return value

    _channels_by_default: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _default_channels(self) -> Settings:
        if self.channels is None:
            has_twilio = bool(self.twilio_account_sid and self.twilio_auth_token)
            self.channels = "live" if has_twilio else "sandbox"
            self._channels_by_default = True
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

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(part, strict=False) for part in _split(self.trusted_proxies))

    @property
    def public_url_is_loopback(self) -> bool:
        """True when GATEWAY_PUBLIC_URL names this machine only (127.0.0.0/8, ::1 or localhost)."""
        return is_loopback_host(urlsplit(self.public_url).hostname or "")

    @property
    def sandbox_exposed(self) -> bool:
        """Sandbox channels on a server others can reach (allowed only with GATEWAY_CHANNELS=sandbox set)."""
        return self.sandbox and not self.public_url_is_loopback

    def check_sandbox_exposure(self) -> None:
        """Refuse sandbox channels chosen by default on a public URL: an operator who set a public address
        but no Twilio credentials has most likely forgotten them, and parents would receive nothing."""
        if self.sandbox_exposed and self._channels_by_default:
            raise ConfigError(
                f"GATEWAY_PUBLIC_URL is {self.public_url}, not this machine, but no Twilio credentials are set, "
                "so the gateway would run its sandbox and send nothing to parents. Set TWILIO_ACCOUNT_SID and "
                "TWILIO_AUTH_TOKEN, or set GATEWAY_CHANNELS=sandbox to run the sandbox on purpose.")

    def twilio_credentials(self) -> tuple[str, str]:
        """(account SID, auth token): configured, else the sandbox's pair, whose token is generated once per
        install into ``var/`` (every process of the install shares it; nobody else knows it)."""
        if self.twilio_account_sid and self.twilio_auth_token:
            return self.twilio_account_sid, self.twilio_auth_token
        return SANDBOX_ACCOUNT_SID, self.install_secret(SANDBOX_TOKEN_FILE)

    def install_secret(self, name: str) -> str:
        """A random secret generated once into ``var/<name>`` (mode 0600) and read back afterwards. Safe
        when several processes start at once: the file appears whole (a hard link) or not at all."""
        path = self.var_path / name
        known = _INSTALL_SECRETS.get(str(path.resolve()))
        if known is not None and path.exists():
            return known
        if not path.exists():
            draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process was first: use theirs
            finally:
                draft.unlink()
        secret = _INSTALL_SECRETS[str(path.resolve())] = path.read_text().strip()
        return secret

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
        """The instance's secret key (keys the log tags): configured, else generated once into
        ``var/secret_key``."""
        if self.secret_key:
            return self.secret_key
        return self.install_secret(SECRET_KEY_FILE)


_INSTALL_SECRETS: dict[str, str] = {}  # path -> secret: webhooks check the sandbox token on every request


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any loopback IP address (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
