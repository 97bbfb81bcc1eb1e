"""Delivery statuses and Twilio's status callbacks (messages and calls) parsed into them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from channels import errors


class DeliveryStatus(StrEnum):
    """Where a message is, across SMS, voice and e-mail (values are Twilio's words where they exist)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"  # handed to the carrier (SMS) or accepted by the relay (e-mail)
    ACCEPTED = "accepted"  # accepted by a Messaging Service, sender not chosen yet
    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    READ = "read"
    PARTIALLY_DELIVERED = "partially_delivered"  # some of it reached the handset
    DELIVERY_UNKNOWN = "delivery_unknown"  # sent, and the carrier never said whether it arrived
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVING = "receiving"  # an inbound message's statuses: never one of ours
    RECEIVED = "received"
    INITIATED = "initiated"  # a call is being placed
    RINGING = "ringing"
    ANSWERED = "answered"  # Twilio's "in-progress"
    COMPLETED = "completed"  # an answered call ended
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    UNKNOWN = "unknown"  # a word Twilio added after this was written: recorded, never acted on

    @property
    def is_final(self) -> bool:
        """True once no further callback will change the outcome."""
        return self in _FINAL

    @property
    def is_success(self) -> bool:
        """True when the parent got the message (a delivered text, an answered call)."""
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.READ, DeliveryStatus.PARTIALLY_DELIVERED,
                        DeliveryStatus.COMPLETED)


_FINAL = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.READ,
        DeliveryStatus.PARTIALLY_DELIVERED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELED,
        DeliveryStatus.COMPLETED,
        DeliveryStatus.NO_ANSWER,
        DeliveryStatus.BUSY,
    }
)

# Every status Twilio documents for a Message (MessageStatus / SmsStatus) and for a Call (CallStatus).
MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "receiving", "received",
                    "accepted", "scheduled", "read", "partially_delivered", "delivery_unknown", "canceled")
CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled")
# Twilio's call status words that differ from ours.
_CALL_WORDS = {"in-progress": DeliveryStatus.ANSWERED}

# Error codes -> the reason the pipeline acts on. Absent codes (30003 unreachable) are worth
# another try later; they are reported with ``retryable`` instead.
PERMANENT_ERROR_CODES: Mapping[str, str] = {
    "21211": errors.INVALID_NUMBER,
    "21614": errors.NOT_MOBILE,
    "21610": errors.OPTED_OUT,
    "21408": errors.REGION_NOT_ENABLED,
    "21612": errors.REJECTED,
    "30004": errors.REJECTED,  # message blocked by the handset or carrier
    "30005": errors.UNKNOWN_NUMBER,
    "30006": errors.NOT_MOBILE,  # landline or unreachable carrier: a voice call may still work
    "30007": errors.FILTERED,
    "30008": errors.UNDELIVERABLE,  # Twilio could not say why; trying the next channel is the useful move
}
RETRYABLE_ERROR_CODES = frozenset({"30001", "30002", "30003", "30009", "30010"})
# 30003 (handset off or out of coverage) may clear up, though perhaps not within a same-day message's
# validity: the caller decides whether to retry on the same channel or move on; ``fallback_reason`` names it.
ASYNC_FALLBACK_REASONS: Mapping[str, str] = {"30003": errors.UNREACHABLE}


@dataclass(frozen=True)
class StatusUpdate:
    """One status callback: which message or call, its new status and, on failure, why."""

    provider_id: str
    status: DeliveryStatus
    error_code: str | None = None
    permanent_reason: str | None = None  # set when this address will not work on this channel
    answered_by: str | None = None  # calls with machine detection: human, machine_end_beep, fax, ...
    kind: Literal["sms", "voice"] = "sms"
    retryable: bool = False  # a failure that may succeed later (30003 unreachable)
    fallback_reason: str | None = None  # for a retryable failure: what to record if we move on instead
    call_duration: int | None = None
    provider_status: str = ""  # Twilio's word as sent (kept when it is one we do not know: UNKNOWN)

    @property
    def reached_machine(self) -> bool:
        """True when answering-machine detection heard a voicemail (or a fax) rather than a person."""
        return bool(self.answered_by) and self.answered_by != "human" and self.answered_by != "unknown"


def status_from_twilio(word: str, kind: Literal["sms", "voice"] = "sms") -> DeliveryStatus:
    """Twilio's status word for a message or a call; UNKNOWN for one it added later (never an error)."""
    word = word.strip().lower()
    if word not in (CALL_STATUSES if kind == "voice" else MESSAGE_STATUSES):
        return DeliveryStatus.UNKNOWN
    if kind == "voice" and word in _CALL_WORDS:
        return _CALL_WORDS[word]
    return DeliveryStatus(word)


def parse_status_callback(params: Mapping[str, str]) -> StatusUpdate:
    """Parse the POST parameters of a Twilio message or call status callback.

    A status word Twilio did not document when this was written becomes ``DeliveryStatus.UNKNOWN`` with the
    word kept in ``provider_status`` (Twilio retries a callback refused with an error, and adds statuses).
    Raises ValueError only when the parameters name neither a message nor a call (the webhook answers 400)."""
    error_code = (params.get("ErrorCode") or "").strip() or None
    if params.get("MessageSid") or params.get("SmsSid"):
        provider_id = params.get("MessageSid") or params["SmsSid"]
        word = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
        kind: Literal["sms", "voice"] = "sms"
        answered_by = None
    elif params.get("CallSid"):
        provider_id = params["CallSid"]
        word = (params.get("CallStatus") or "").strip().lower()
        kind = "voice"
        answered_by = (params.get("AnsweredBy") or "").strip() or None
    else:
        raise ValueError("not a Twilio status callback: no MessageSid or CallSid")
    status = status_from_twilio(word, kind)
    permanent_reason = None
    retryable = False
    fallback_reason = None
    if error_code and status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
        permanent_reason = PERMANENT_ERROR_CODES.get(error_code)
        if permanent_reason is None:
            retryable = error_code in RETRYABLE_ERROR_CODES
            fallback_reason = ASYNC_FALLBACK_REASONS.get(error_code, errors.UNDELIVERABLE)
    duration = params.get("CallDuration")
    return StatusUpdate(
        provider_id=provider_id,
        status=status,
        error_code=error_code,
        permanent_reason=permanent_reason,
        answered_by=answered_by,
        kind=kind,
        retryable=retryable,
        fallback_reason=fallback_reason,
        call_duration=int(duration) if duration and duration.isdigit() else None,
        provider_status=word,
    )
