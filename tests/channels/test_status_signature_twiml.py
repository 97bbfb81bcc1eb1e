"""Status callback parsing, request signatures and the TwiML builders (pure functions)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from channels.status import DeliveryStatus, parse_status_callback
from channels.twilio_signature import compute_signature, is_valid_signature
from channels.twilio_voice import call_twiml, gather_reply_twiml, is_voicemail, voicemail_twiml


@pytest.mark.parametrize(
    ("params", "status", "reason", "retryable"),
    [
        ({"MessageSid": "SM1", "MessageStatus": "delivered"}, DeliveryStatus.DELIVERED, None, False),
        ({"SmsSid": "SM1", "SmsStatus": "sent"}, DeliveryStatus.SENT, None, False),
        ({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}, DeliveryStatus.UNDELIVERED,
         None, True),
        ({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30005"}, DeliveryStatus.FAILED,
         "unknown_number", False),
        ({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30006"}, DeliveryStatus.FAILED,
         "not_mobile", False),
        ({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30007"}, DeliveryStatus.UNDELIVERED,
         "filtered", False),
        ({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30008"}, DeliveryStatus.UNDELIVERED,
         "undeliverable", False),
        ({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "21610"}, DeliveryStatus.FAILED,
         "opted_out", False),
        ({"CallSid": "CA1", "CallStatus": "in-progress", "AnsweredBy": "human"}, DeliveryStatus.ANSWERED, None, False),
        ({"CallSid": "CA1", "CallStatus": "no-answer"}, DeliveryStatus.NO_ANSWER, None, False),
        ({"CallSid": "CA1", "CallStatus": "busy"}, DeliveryStatus.BUSY, None, False),
        ({"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "31"}, DeliveryStatus.COMPLETED, None, False),
    ],
)
def test_callbacks_parse_into_the_status_enum(
    params: dict[str, str], status: DeliveryStatus, reason: str | None, retryable: bool
) -> None:
    update = parse_status_callback(params)
    assert (update.status, update.permanent_reason, update.retryable) == (status, reason, retryable)
    assert update.provider_id in ("SM1", "CA1")
    assert update.kind == ("voice" if "CallSid" in params else "sms")


def test_a_call_callback_keeps_who_answered_and_how_long() -> None:
    update = parse_status_callback({"CallSid": "CA9", "CallStatus": "completed", "AnsweredBy": "machine_end_beep",
                                    "CallDuration": "14"})
    assert update.reached_machine and update.call_duration == 14 and update.status.is_final


def test_a_retryable_failure_still_names_a_reason_for_moving_on() -> None:
    update = parse_status_callback({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert update.fallback_reason == "unreachable"


@pytest.mark.parametrize("params", [{}, {"MessageStatus": "delivered"}, {"CallStatus": "completed"}])
def test_a_callback_naming_no_message_or_call_is_refused(params: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        parse_status_callback(params)


@pytest.mark.parametrize(
    "params", [{"MessageSid": "SM1", "MessageStatus": "teleported"}, {"CallSid": "CA1", "CallStatus": ""}])
def test_an_unknown_status_word_is_kept_not_refused(params: dict[str, str]) -> None:
    update = parse_status_callback(params)  # Twilio retries a refused callback, and adds statuses
    assert update.status is DeliveryStatus.UNKNOWN


def test_a_signature_round_trips_and_any_change_breaks_it() -> None:
    url = "https://gw.school.example/webhooks/twilio/status"
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+447700900123"}
    signature = compute_signature("token", url, params)
    assert is_valid_signature("token", url, params, signature)
    assert not is_valid_signature("token", url, {**params, "MessageStatus": "failed"}, signature)
    assert not is_valid_signature("token", url + "?x=1", params, signature)
    assert not is_valid_signature("other-token", url, params, signature)
    assert not is_valid_signature("token", url, params, None)


def _root(twiml: str) -> ET.Element:
    return ET.fromstring(twiml)


def test_the_call_speaks_in_the_locales_voice_and_gathers_one_digit() -> None:
    twiml = call_twiml("Amira nie było dziś w szkole.", "pl-PL", "Polly.Ewa", "https://gw/voice/7/gather",
                       "Naciśnij 1, jeśli Amira jest chora.", goodbye="Do widzenia.")
    root = _root(twiml)
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1" and gather.get("action") == "https://gw/voice/7/gather"
    says = gather.findall("Say")
    assert [s.text for s in says] == ["Amira nie było dziś w szkole.", "Naciśnij 1, jeśli Amira jest chora."]
    assert all(s.get("language") == "pl-PL" and s.get("voice") == "Polly.Ewa" for s in says)
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]


def test_voicemail_and_thanks_say_their_text_and_hang_up() -> None:
    voicemail = _root(voicemail_twiml("Please call the school.", "en-GB", None))
    assert [c.tag for c in voicemail] == ["Pause", "Say", "Hangup"]
    assert voicemail.find("Say") is not None and voicemail.find("Say").get("voice") is None  # type: ignore[union-attr]
    thanks = _root(gather_reply_twiml("Thank you & goodbye.", "en-GB", "Polly.Amy"))
    assert thanks.find("Say").text == "Thank you & goodbye."  # type: ignore[union-attr]


def test_voicemail_detection_values() -> None:
    assert is_voicemail("machine_end_beep") and is_voicemail("machine_end_silence") and is_voicemail("fax")
    assert not is_voicemail("human") and not is_voicemail("unknown") and not is_voicemail(None)
