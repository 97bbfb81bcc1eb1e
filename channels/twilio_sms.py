"""SMS through Twilio's Messages API with the real ``twilio`` client, and the provider lookup (``find_sent``)
that lets the pipeline's reconciler record a message whose worker died after Twilio accepted it.

The lookup, and what it cannot promise. Twilio has no idempotency key for messages, so a message is found
by what it says: an outbound message to the same number, from our number (or Messaging Service), whose body
is exactly the body we send, created no earlier than the claim (less :data:`CLOCK_SKEW`) or, when the
claim time is unknown, on the same UTC day. Two lists are read: one filtered by ``DateSent>`` (the
documented, cheap filter) and, only when that finds nothing, one without a date filter, because Twilio
leaves ``date_sent`` empty while a message waits in its queue and such a message matches no date filter.
Residual risks: an identical text to the same number earlier in the window is taken for ours (recorded, not
resent); a body Twilio rewrote (a trial account's prefix, a Messaging Service's Smart Encoding) is not
found (resent); a parent with more than :data:`QUEUED_SCAN_LIMIT` messages from us is only partly scanned
by the second list; Twilio's list may lag its create by a moment (the reconciler waits minutes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from channels.base import OutgoingMessage, Receipt
from channels.config import TwilioConfig
from channels.rate_limit import RateLimiter
from channels.status import DeliveryStatus
from channels.twilio_client import ApiBaseHttpClient, make_client, twilio_errors
from channels.twilio_lookup import (
    LOOKUP_PAGE_SIZE,
    QUEUED_SCAN_LIMIT,
    created_since,
    lookup_errors,
    lookup_since,
    newest,
    start_of_utc_day,
)

log = logging.getLogger(__name__)

MAX_VALIDITY_SECONDS = 36000  # Twilio's ceiling for ValidityPeriod


def same_day_validity(now: datetime, config: TwilioConfig) -> int:
    """Seconds a same-day message may wait in Twilio's queue: until the evening cut-off, within bounds.

    A text about this morning's absence that arrives tomorrow only confuses; one that waited in a queue
    through the afternoon is still worth delivering."""
    local_now = now.astimezone(config.tz)
    cutoff = datetime.combine(local_now.date(), config.same_day_until, tzinfo=config.tz)
    seconds = int((cutoff - local_now) / timedelta(seconds=1))
    return max(config.min_validity_seconds, min(MAX_VALIDITY_SECONDS, seconds))


def _status(word: str | None) -> DeliveryStatus:
    try:
        return DeliveryStatus(word or "queued")
    except ValueError:
        return DeliveryStatus.QUEUED


class TwilioSmsChannel:
    """``send`` creates one Message; the cap in ``limiter`` is respected before each request."""

    name = "sms"

    def __init__(self, config: TwilioConfig, limiter: RateLimiter | None = None) -> None:
        if not (config.from_number or config.messaging_service_sid):
            raise ValueError("Twilio SMS needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        self.config = config
        self._owns_limiter = limiter is None
        self.limiter = limiter or RateLimiter(config.mps)
        self.client = make_client(config.account_sid, config.auth_token, config.api_url, config.timeout, self.limiter)
        self._http: ApiBaseHttpClient = self.client.http_client

    @staticmethod
    def body(message: OutgoingMessage) -> str:
        """The Body we send for ``message`` (the renderer already normalised it). The lookup compares
        Twilio's copy with this, so any change to what ``send`` puts in Body belongs here."""
        return message.text

    def create_params(self, message: OutgoingMessage) -> dict[str, object]:
        """The keyword arguments for ``client.messages.create`` (public for tests)."""
        params: dict[str, object] = {
            "to": message.to,
            "body": self.body(message),
            "status_callback": self.config.status_callback_url,
        }
        if self.config.messaging_service_sid:
            params["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            params["from_"] = self.config.from_number
        if message.same_day:
            params["validity_period"] = same_day_validity(self.config.now(), self.config)
        return params

    def send(self, message: OutgoingMessage) -> Receipt:
        """Create the message at Twilio; raise PermanentDeliveryError / TransientDeliveryError on refusal."""
        params = self.create_params(message)
        with twilio_errors(self._http, message.idempotency_key):
            created = self.client.messages.create(**params)
        log.info("sms accepted", extra={"message_id": message.message_id, "provider_id": created.sid})
        return Receipt(provider_id=str(created.sid), status=_status(created.status), channel="sms")

    def find_sent(self, message: OutgoingMessage) -> Receipt | None:
        """Twilio's receipt for ``message`` if Twilio already accepted it, else None (see the module's
        docstring for how it is matched); TransientDeliveryError when Twilio could not be asked."""
        since = lookup_since(message)
        service = self.config.messaging_service_sid
        # A Messaging Service's message has no From until a sender is chosen: filter by it only without one.
        sender: dict[str, object] = {} if service else {"from_": self.config.from_number}
        with lookup_errors(self._http):
            sent = self.client.messages.list(to=message.to, date_sent_after=start_of_utc_day(since),
                                             page_size=LOOKUP_PAGE_SIZE, **sender)
            found = self._newest_match(sent, message, since)
            if found is None:
                recent = self.client.messages.list(to=message.to, limit=QUEUED_SCAN_LIMIT,
                                                   page_size=LOOKUP_PAGE_SIZE, **sender)
                found = self._newest_match(recent, message, since)
        if found is None:
            return None
        log.info("sms found at provider", extra={"message_id": message.message_id, "provider_id": found.sid})
        return Receipt(provider_id=str(found.sid), status=_status(found.status), channel="sms")

    def _newest_match(self, records: Iterable[Any], message: OutgoingMessage, since: datetime) -> Any | None:
        body = self.body(message)
        service = self.config.messaging_service_sid

        def ours(record: Any) -> bool:
            sender_matches = (record.messaging_service_sid == service if service
                              else record.from_ == self.config.from_number)
            return (str(record.direction or "").startswith("outbound") and record.to == message.to
                    and record.body == body and sender_matches and created_since(record, since))

        return newest(r for r in records if ours(r))

    def close(self) -> None:
        """Close the HTTP connections (idempotent). A limiter passed in belongs to whoever made it."""
        self._http.close()
        if self._owns_limiter:
            self.limiter.close()
