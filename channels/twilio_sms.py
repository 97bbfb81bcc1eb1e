"""SMS through Twilio's Messages API with the real ``twilio`` client."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from channels.base import OutgoingMessage, Receipt
from channels.config import TwilioConfig
from channels.rate_limit import RateLimiter
from channels.status import DeliveryStatus
from channels.twilio_client import ApiBaseHttpClient, make_client, twilio_errors

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

    def create_params(self, message: OutgoingMessage) -> dict[str, object]:
        """The keyword arguments for ``client.messages.create`` (public for tests)."""
        params: dict[str, object] = {
            "to": message.to,
            "body": message.text,
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

    def close(self) -> None:
        """Close the HTTP connections (idempotent). A limiter passed in belongs to whoever made it."""
        self._http.close()
        if self._owns_limiter:
            self.limiter.close()
