"""Build the configured channels: ``build_channels(config) -> ChannelSet`` (.sms, .email, .voice, .close())."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.base import Channel, OutgoingMessage, Receipt
from channels.config import ChannelConfig
from channels.errors import NOT_CONFIGURED, PermanentDeliveryError
from channels.rate_limit import RateLimiter, twilio_rate_key


class ChannelNotConfigured(PermanentDeliveryError):
    """A message asked for a channel this deployment has no settings for (the pipeline moves on)."""

    def __init__(self, detail: str) -> None:
        super().__init__(NOT_CONFIGURED, None, detail)


class _UnconfiguredChannel:
    """Stands in for a channel without settings: every send says what is missing."""

    def __init__(self, name: str, missing: str) -> None:
        self.name = name
        self.missing = missing

    def send(self, message: OutgoingMessage) -> Receipt:
        raise ChannelNotConfigured(f"{self.name} is not configured: set {self.missing}")

    def close(self) -> None:
        return None


@dataclass
class ChannelSet:
    """One adapter per channel, sharing the provider's rate limiters; close() closes them all once."""

    sms: Channel
    email: Channel
    voice: Channel
    limiters: list[RateLimiter] = field(default_factory=list)
    _closed: bool = False

    def get(self, name: str) -> Channel:
        """The channel called ``name`` (``sms``, ``email`` or ``voice``)."""
        if name not in ("sms", "email", "voice"):
            raise KeyError(name)
        channel: Channel = getattr(self, name)
        return channel

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for channel in (self.sms, self.email, self.voice):
            channel.close()
        for limiter in self.limiters:
            limiter.close()


def build_channels(config: ChannelConfig) -> ChannelSet:
    """The adapters ``config`` describes. Twilio's caps are shared through Redis when it names one."""
    sms: Channel = _UnconfiguredChannel("sms", "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER")
    voice: Channel = _UnconfiguredChannel("voice", "TWILIO_VOICE_FROM or TWILIO_FROM_NUMBER")
    email: Channel = _UnconfiguredChannel("email", "SMTP_HOST and SMTP_FROM")
    limiters: list[RateLimiter] = []
    twilio = config.twilio
    if twilio is not None:
        from channels.twilio_sms import TwilioSmsChannel
        from channels.twilio_voice import TwilioVoiceChannel

        def limiter(rate: float, kind: str) -> RateLimiter:
            if twilio.redis_url:
                made = RateLimiter.shared(twilio.redis_url, rate, key=twilio_rate_key(twilio.account_sid) + f":{kind}")
            else:
                made = RateLimiter(rate)
            limiters.append(made)
            return made

        if twilio.from_number or twilio.messaging_service_sid:
            sms = TwilioSmsChannel(twilio, limiter(twilio.mps, "messages"))
        if twilio.voice_from or twilio.from_number:
            voice = TwilioVoiceChannel(twilio, limiter(twilio.calls_per_second, "calls"))
    if config.smtp is not None:
        from channels.smtp_email import SmtpEmailChannel

        email = SmtpEmailChannel(config.smtp)
    return ChannelSet(sms=sms, email=email, voice=voice, limiters=limiters)
