"""The one contract every delivery adapter keeps: ``send(message) -> Receipt`` and ``close()``.

A channel whose provider can be asked what it already accepted also keeps :class:`ProviderLookup`
(``find_sent``): the pipeline's reconciler uses it for a message whose worker died mid-send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from channels.status import DeliveryStatus

ChannelName = Literal["sms", "email", "voice"]


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one address, as the outbox hands it to a channel."""

    message_id: int  # the outbox id: names the voice TwiML URL and correlates logs
    idempotency_key: str
    channel: ChannelName
    to: str  # E.164 number or e-mail address
    text: str  # SMS text, spoken text, or the e-mail's plain-text body
    subject: str | None = None
    html: str | None = None
    locale: str = "en-GB"
    voice_language: str | None = None
    voice_name: str | None = None
    same_day: bool = False  # a same-day absence text is pointless tomorrow: give it a validity period
    reply_to: str | None = None  # the school's address for e-mail replies
    voice_prompt: str | None = None  # the keypad prompt after a call's message ("press 1 if ...")
    voicemail_text: str | None = None  # the short message left after a voicemail's beep
    # When the pipeline claimed this send attempt (aware, real time): a provider lookup need look no earlier.
    # None when the caller does not know it; lookups then search the whole UTC day.
    claimed_at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """The provider accepted the message: its id (for status callbacks) and the status it reported."""

    provider_id: str
    status: DeliveryStatus
    channel: str


@runtime_checkable
class Channel(Protocol):
    """A delivery adapter. ``send`` blocks until the provider accepted or refused the message and is safe to
    call from many threads at once; it raises PermanentDeliveryError or TransientDeliveryError."""

    def send(self, message: OutgoingMessage) -> Receipt: ...

    def close(self) -> None: ...


@runtime_checkable
class ProviderLookup(Protocol):
    """Optional beside :class:`Channel`: the provider can say whether it already accepted ``message``.

    ``find_sent`` returns the provider's receipt for ``message`` or None when the provider has no such
    message. It raises TransientDeliveryError when it could not find out (the caller must then neither
    resend nor give up, only ask again later): "I could not look" is never the same as "not there"."""

    def find_sent(self, message: OutgoingMessage) -> Receipt | None: ...
