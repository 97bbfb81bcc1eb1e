"""Build the channels' :class:`~channels.config.ChannelConfig` from the gateway's Settings.

``GATEWAY_CHANNELS=sandbox`` points SMS and voice at the built-in Twilio sandbox (with the sandbox's fixed
credentials unless real ones are set): by default the one the web app mounts at ``/sandbox/twilio`` under
GATEWAY_PUBLIC_URL, so every process of a deployment reaches the same one; TWILIO_API_URL overrides it.
E-mail goes to the SMTP sandbox on 127.0.0.1:8025. :func:`running_sandboxes` instead starts both in this
process on free ports (one-off commands such as ``gateway send``, tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parseaddr
from typing import TYPE_CHECKING

from channels.config import ChannelConfig, SmtpConfig, TwilioConfig
from gateway.config import Settings, get_settings

if TYPE_CHECKING:
    from channels.sandbox.smtp_server import SmtpSandbox
    from channels.sandbox.twilio_api import TwilioSandbox

DEFAULT_TWILIO_API_URL = "https://api.twilio.com"
SANDBOX_HOST = "127.0.0.1"
SANDBOX_TWILIO_PATH = "/sandbox/twilio"  # where gateway.web.app mounts the Twilio sandbox (SANDBOX_TWILIO_MOUNT)
SANDBOX_SMTP_PORT = 8025
SANDBOX_FROM_NUMBER = "+447700900000"  # Ofcom's drama range: never a real subscriber
SANDBOX_FROM_ADDRESS = "attendance@school.invalid"


@dataclass(frozen=True)
class SandboxAddresses:
    """Where the sandboxes listen (defaults: the web app's mount and a fixed local SMTP port)."""

    twilio_api_url: str | None = None  # None: GATEWAY_PUBLIC_URL + SANDBOX_TWILIO_PATH
    smtp_host: str = SANDBOX_HOST
    smtp_port: int = SANDBOX_SMTP_PORT


def sandbox_smtp_address(settings: Settings) -> tuple[str, int]:
    """Where the SMTP sandbox listens in sandbox mode: SMTP_HOST/SMTP_PORT when set, else 127.0.0.1:8025."""
    if settings.smtp_host:
        return settings.smtp_host, settings.smtp_port
    return SANDBOX_HOST, SANDBOX_SMTP_PORT


def _redis_url(settings: Settings) -> str | None:
    # The MPS cap is shared through the broker's Redis: every worker of a Redis deployment can reach it.
    return settings.broker_url if settings.broker_url.startswith(("redis://", "rediss://")) else None


def _sender(settings: Settings, fallback: str | None) -> tuple[str | None, str | None]:
    """(display name, address) from SMTP_FROM, which may be ``Name <address>``."""
    if not settings.smtp_from:
        return None, fallback
    name, address = parseaddr(settings.smtp_from)
    return (name or None), (address or settings.smtp_from)


def _reply_to(settings: Settings) -> str | None:
    """The address of SMTP_REPLY_TO, which may be ``Name <address>`` (the office mailbox parents reply to)."""
    if not settings.smtp_reply_to:
        return None
    return parseaddr(settings.smtp_reply_to)[1] or settings.smtp_reply_to.strip()


def channel_config_from_settings(
    settings: Settings | None = None, *, sandbox: SandboxAddresses | None = None
) -> ChannelConfig:
    """The channels' configuration for ``settings`` (default: the process settings)."""
    from gateway.clock import now

    settings = settings or get_settings()
    account_sid, auth_token = settings.twilio_credentials()
    base = TwilioConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        public_url=settings.public_url,
        api_url=settings.twilio_api_url,
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        voice_from=settings.voice_from,
        mps=settings.twilio_mps,
        redis_url=_redis_url(settings),
        timezone=settings.timezone,
        now=now,
    )
    if settings.sandbox:
        where = sandbox or SandboxAddresses(*(None, *sandbox_smtp_address(settings)))
        api_url = (
            settings.twilio_api_url if settings.twilio_api_url != DEFAULT_TWILIO_API_URL
            else where.twilio_api_url or settings.public_url + SANDBOX_TWILIO_PATH
        )
        twilio = replace(
            base,
            api_url=api_url,
            from_number=base.from_number or SANDBOX_FROM_NUMBER,
            voice_from=base.voice_from or SANDBOX_FROM_NUMBER,
        )
        name, address = _sender(settings, SANDBOX_FROM_ADDRESS)
        smtp = SmtpConfig(host=where.smtp_host, port=where.smtp_port, from_address=address or SANDBOX_FROM_ADDRESS,
                          from_name=name, starttls="never", reply_to=_reply_to(settings))
        return ChannelConfig(twilio=twilio, smtp=smtp, sandbox=True)
    smtp_config = None
    if settings.smtp_host:
        name, address = _sender(settings, None)
        if address:
            smtp_config = SmtpConfig(
                host=settings.smtp_host, port=settings.smtp_port, from_address=address, from_name=name,
                username=settings.smtp_username, password=settings.smtp_password, starttls=settings.smtp_starttls,
                reply_to=_reply_to(settings),
            )
    return ChannelConfig(twilio=base, smtp=smtp_config, sandbox=False)


@contextmanager
def running_sandboxes(
    settings: Settings | None = None, *, twilio_port: int = 0, smtp_port: int = 0
) -> Iterator[tuple[ChannelConfig, TwilioSandbox, SmtpSandbox]]:
    """Start the Twilio and SMTP sandboxes in this process; yield (config pointing at them, twilio, smtp).

    Port 0 picks free ports. The config points at these two whatever TWILIO_API_URL says."""
    from channels.sandbox.smtp_server import start_smtp_sandbox
    from channels.sandbox.twilio_api import start_twilio_sandbox

    settings = settings or get_settings()
    account_sid, auth_token = settings.twilio_credentials()
    twilio = start_twilio_sandbox(account_sid, auth_token, host=SANDBOX_HOST, port=twilio_port)
    try:
        smtp = start_smtp_sandbox(host=SANDBOX_HOST, port=smtp_port)
        try:
            where = SandboxAddresses(twilio.url, smtp.host, smtp.port)
            config = channel_config_from_settings(settings, sandbox=where)
            if config.twilio is not None and config.twilio.api_url != twilio.url:
                config = replace(config, twilio=replace(config.twilio, api_url=twilio.url))
            yield config, twilio, smtp
        finally:
            smtp.stop()
    finally:
        twilio.stop()
