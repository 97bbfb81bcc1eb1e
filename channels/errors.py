"""The channels' own exception tree; every adapter turns its provider's errors into one of these.

    DeliveryError
    ├── PermanentDeliveryError(reason, code)   do not retry this address on this channel: route elsewhere
    └── TransientDeliveryError(retry_after, code)   safe to try again later (after ``retry_after`` seconds)
"""

from __future__ import annotations

from typing import Final

# Reasons a school's office can act on; the pipeline uses them to choose the next channel.
INVALID_NUMBER: Final = "invalid_number"
NOT_MOBILE: Final = "not_mobile"  # a landline: call it instead of texting
OPTED_OUT: Final = "opted_out"  # the parent texted STOP
REGION_NOT_ENABLED: Final = "region_not_enabled"
REJECTED: Final = "rejected"  # refused by the provider for another reason
BOUNCED: Final = "bounced"  # an SMTP 5xx reply
RECIPIENT_REFUSED: Final = "recipient_refused"
UNREACHABLE: Final = "unreachable"  # a handset that stayed off, reported asynchronously
UNKNOWN_NUMBER: Final = "unknown_number"
FILTERED: Final = "filtered"  # a carrier's spam filter
UNDELIVERABLE: Final = "undeliverable"
INVALID_ADDRESS: Final = "invalid_address"  # not an e-mail address at all
NOT_CONFIGURED: Final = "not_configured"  # this deployment has no settings for the channel


class DeliveryError(Exception):
    """A message could not be handed to its provider."""


class PermanentDeliveryError(DeliveryError):
    """Retrying the same address on the same channel will fail again (``reason`` says why)."""

    def __init__(self, reason: str, code: str | None = None, detail: str = "") -> None:
        super().__init__(f"{reason}" + (f" (code {code})" if code else "") + (f": {detail}" if detail else ""))
        self.reason = reason
        self.code = code
        self.detail = detail


class TransientDeliveryError(DeliveryError):
    """The provider is busy or unreachable; try again, no sooner than ``retry_after`` seconds when given."""

    def __init__(self, retry_after: float | None = None, code: str | None = None, detail: str = "") -> None:
        text = "temporary failure" + (f" (code {code})" if code else "") + (f": {detail}" if detail else "")
        super().__init__(text)
        self.retry_after = retry_after
        self.code = code
        self.detail = detail
