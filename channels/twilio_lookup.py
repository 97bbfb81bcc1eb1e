"""What Twilio's SMS and voice lookups (``find_sent``) share: the time window a provider copy can fall in,
picking the newest match, and turning any failure of the lookup itself into TransientDeliveryError (the
reconciler then asks again later and never resends blindly). How each channel matches: its own module."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException

from channels.base import OutgoingMessage
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.twilio_client import ApiBaseHttpClient, twilio_errors

CLOCK_SKEW = timedelta(minutes=5)  # our clock against Twilio's, and its whole-second RFC 2822 dates
LOOKUP_PAGE_SIZE = 100
QUEUED_SCAN_LIMIT = 1000  # messages read, newest first, when looking past the date filter


def lookup_since(message: OutgoingMessage, now: datetime | None = None) -> datetime:
    """The earliest creation time (UTC) the provider's copy of ``message`` can have: the claim less the clock
    skew, or the start of the current UTC day when the message does not carry its claim time."""
    if message.claimed_at is not None:
        return message.claimed_at.astimezone(UTC) - CLOCK_SKEW
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return datetime.combine(today, time(0), tzinfo=UTC)


def start_of_utc_day(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day: Twilio's date filters compare whole days (``YYYY-MM-DD``)."""
    return datetime.combine(moment.astimezone(UTC).date(), time(0), tzinfo=UTC)


def created_since(record: Any, since: datetime) -> bool:
    """True when the SDK record's ``date_created`` is at or after ``since``."""
    created = getattr(record, "date_created", None)
    return isinstance(created, datetime) and created >= since


def newest(records: Iterable[Any]) -> Any | None:
    """The most recently created of ``records`` (None for none)."""
    return max(records, key=lambda r: r.date_created, default=None)


@contextmanager
def lookup_errors(http_client: ApiBaseHttpClient) -> Iterator[None]:
    """Run a provider lookup, turning every failure into TransientDeliveryError.

    A lookup that failed says nothing about the message: not "not sent" (the caller would resend) and not
    "this address is refused" (PermanentDeliveryError would move the parent to another channel). The SDK
    raises its base TwilioException, not TwilioRestException, for a list page that is not a 200."""
    try:
        with twilio_errors(http_client, ""):  # no idempotency header: a lookup is not a send attempt
            yield
    except PermanentDeliveryError as exc:
        raise TransientDeliveryError(None, exc.code, f"lookup refused: {exc.reason}") from exc
    except TwilioException as exc:
        reply = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(reply, "status_code", None)
        raise TransientDeliveryError(http_client.last_retry_after(), str(status) if status else "lookup",
                                     "Twilio did not answer the lookup") from exc
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise TransientDeliveryError(None, "lookup", type(exc).__name__) from exc
