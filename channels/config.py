"""What the channels need to know, as plain values (``gateway.channel_config`` builds it from Settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    public_url: str  # GATEWAY_PUBLIC_URL: Twilio calls us back here
    api_url: str = "https://api.twilio.com"
    from_number: str | None = None
    messaging_service_sid: str | None = None
    voice_from: str | None = None
    mps: float = 10.0
    calls_per_second: float = 1.0  # Twilio's default outbound CPS, a separate cap from messages
    redis_url: str | None = None  # share the MPS cap through Redis (all workers, all machines)
    timeout: float = 15.0
    timezone: str = "Europe/London"
    same_day_until: time = time(20, 0)  # a same-day absence text is pointless after the evening
    min_validity_seconds: int = 3600
    now: Callable[[], datetime] = _utc_now

    @property
    def status_callback_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/webhooks/twilio/status"

    def voice_url(self, message_id: int) -> str:
        return f"{self.public_url.rstrip('/')}/webhooks/twilio/voice/{message_id}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    from_address: str = "attendance@school.invalid"
    from_name: str | None = None
    username: str | None = None
    password: str | None = None
    starttls: Literal["auto", "always", "never"] = "auto"
    ca_file: str | None = None  # trust this CA (the sandbox's self-signed one) instead of the system's
    reply_to: str | None = None  # the school office's address, when a message does not name one
    pool_size: int = 4
    timeout: float = 30.0


@dataclass(frozen=True)
class ChannelConfig:
    """Everything ``channels.factory.build_channels`` needs. ``None`` for a channel leaves it unconfigured."""

    twilio: TwilioConfig | None = None
    smtp: SmtpConfig | None = None
    sandbox: bool = False
    extras: dict[str, str] = field(default_factory=dict)
