"""Every status Twilio documents for a message (MessageStatus) and a call (CallStatus) parses, in the shape of
Twilio's status callback requests; a word Twilio adds later is kept, not refused."""

from __future__ import annotations

import pytest

from channels.status import CALL_STATUSES, MESSAGE_STATUSES, DeliveryStatus, parse_status_callback

ACCOUNT = "AC" + "a1" * 16
MESSAGE_SID = "SM" + "b2" * 16
CALL_SID = "CA" + "c3" * 16

# Twilio's Message resource documents these status values (API reference, "Message status values").
DOCUMENTED_MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving",
                               "received", "accepted", "scheduled", "read", "partially_delivered",
                               "delivery_unknown", "canceled")
DOCUMENTED_CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                            "canceled")


def message_callback(status: str, **extra: str) -> dict[str, str]:
    """A Messaging status callback as Twilio posts it (SmsSid/SmsStatus repeat the Message fields)."""
    return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "From": "+447700900000", "MessageSid": MESSAGE_SID,
            "MessageStatus": status, "SmsSid": MESSAGE_SID, "SmsStatus": status, "To": "+447700900123", **extra}


def call_callback(status: str, **extra: str) -> dict[str, str]:
    """A Voice status callback (call progress event) as Twilio posts it."""
    return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": CALL_SID, "CallStatus": status,
            "Called": "+447700900123", "Caller": "+447700900000", "Direction": "outbound-api",
            "From": "+447700900000", "To": "+447700900123", "Timestamp": "Mon, 23 Nov 2026 09:16:02 +0000",
            "CallbackSource": "call-progress-events", "SequenceNumber": "0", **extra}


def test_our_lists_hold_every_documented_status() -> None:
    assert set(DOCUMENTED_MESSAGE_STATUSES) <= set(MESSAGE_STATUSES)
    assert set(DOCUMENTED_CALL_STATUSES) <= set(CALL_STATUSES)


@pytest.mark.parametrize("status", DOCUMENTED_MESSAGE_STATUSES)
def test_every_documented_message_status_parses(status: str) -> None:
    update = parse_status_callback(message_callback(status))
    assert update.status is not DeliveryStatus.UNKNOWN
    assert update.status.value == status and update.provider_status == status
    assert (update.provider_id, update.kind) == (MESSAGE_SID, "sms")


@pytest.mark.parametrize("status", DOCUMENTED_CALL_STATUSES)
def test_every_documented_call_status_parses(status: str) -> None:
    update = parse_status_callback(call_callback(status))
    assert update.status is not DeliveryStatus.UNKNOWN
    assert update.status.value == ("answered" if status == "in-progress" else status)
    assert (update.provider_id, update.kind, update.provider_status) == (CALL_SID, "voice", status)


def test_partial_delivery_counts_as_reaching_the_parent() -> None:
    update = parse_status_callback(message_callback("partially_delivered"))
    assert update.status.is_final and update.status.is_success
    assert not parse_status_callback(message_callback("delivery_unknown")).status.is_final


@pytest.mark.parametrize(
    "params",
    [message_callback("teleported"), message_callback("Delivered-Eventually"), call_callback(""),
     call_callback("delivered")],  # "delivered" is a message word, not a call's
)
def test_a_status_twilio_adds_later_is_unknown_not_an_error(params: dict[str, str]) -> None:
    update = parse_status_callback(params)
    assert update.status is DeliveryStatus.UNKNOWN and not update.status.is_final
    assert update.provider_status == (params.get("MessageStatus") or params.get("CallStatus") or "").lower()

