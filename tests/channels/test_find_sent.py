"""The provider lookup (``find_sent``) the reconciler relies on, over real HTTP against the Twilio sandbox,
and the sandbox's Messages.json / Calls.json lists it reads (Twilio's filters, paging and shapes)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base import deserialize

from channels.base import OutgoingMessage, ProviderLookup, Receipt
from channels.errors import TransientDeliveryError
from channels.memory import MemoryChannel
from channels.sandbox.twilio_api import TwilioSandbox
from channels.sandbox.twilio_state import SandboxRecord
from channels.status import DeliveryStatus
from channels.twilio_client import make_client
from channels.twilio_sms import TwilioSmsChannel
from channels.twilio_voice import TwilioVoiceChannel

from .conftest import FROM_NUMBER, twilio_config

PARENT = "+447700900123"
OTHER_PARENT = "+447700900456"
SERVICE = "MG" + "2" * 32
OAI = Path(__file__).resolve().parents[3] / "shared" / "twilio-oai" / "twilio_api_v2010.json"
_ids = itertools.count(1)


def message(text: str = "Amira was not in school today.", to: str = PARENT, channel: str = "sms",
            claimed_at: datetime | None = None) -> OutgoingMessage:
    n = next(_ids)
    return OutgoingMessage(n, f"lookup-{n}", channel, to, text, claimed_at=claimed_at)  # type: ignore[arg-type]


def age(record: SandboxRecord, delta: timedelta) -> None:
    """Move a sandbox record back in time (created and sent ``delta`` earlier)."""
    record.received_at -= delta.total_seconds()
    if record.sent_at is not None:
        record.sent_at -= delta.total_seconds()


@pytest.fixture
def sms(sandbox: TwilioSandbox) -> Iterator[TwilioSmsChannel]:
    channel = TwilioSmsChannel(twilio_config(sandbox))
    yield channel
    channel.close()


@pytest.fixture
def voice(sandbox: TwilioSandbox) -> Iterator[TwilioVoiceChannel]:
    channel = TwilioVoiceChannel(twilio_config(sandbox))
    yield channel
    channel.close()


# SMS ---------------------------------------------------------------------------------------------------------
def test_an_accepted_sms_is_found_with_its_sid(sms: TwilioSmsChannel) -> None:
    assert isinstance(sms, ProviderLookup)
    sent = message()
    receipt = sms.send(sent)
    found = sms.find_sent(sent)
    assert found == Receipt(receipt.provider_id, DeliveryStatus.QUEUED, "sms")


def test_an_sms_twilio_never_had_is_not_found(sms: TwilioSmsChannel, sandbox: TwilioSandbox) -> None:
    sms.send(message(to=OTHER_PARENT))
    assert sms.find_sent(message()) is None


def test_a_same_day_sms_with_another_body_is_not_taken_for_ours(sms: TwilioSmsChannel) -> None:
    sms.send(message("Amira was late today."))
    assert sms.find_sent(message("Amira was not in school today.")) is None
    assert sms.find_sent(message("Amira was not in school today. ")) is None  # exact, not "close enough"


def test_an_sms_from_another_sender_is_not_ours(sandbox: TwilioSandbox, sms: TwilioSmsChannel) -> None:
    other = TwilioSmsChannel(twilio_config(sandbox, from_number="+447700900999"))
    try:
        other.send(message())
    finally:
        other.close()
    assert sms.find_sent(message()) is None


def test_yesterdays_identical_sms_is_not_found_today(sms: TwilioSmsChannel, sandbox: TwilioSandbox) -> None:
    sms.send(message())
    [record] = sandbox.state.messages()
    age(record, timedelta(days=1))
    assert sms.find_sent(message()) is None


def test_with_a_claim_time_only_messages_created_after_it_count(sms: TwilioSmsChannel,
                                                                sandbox: TwilioSandbox) -> None:
    sms.send(message())
    [record] = sandbox.state.messages()
    age(record, timedelta(minutes=30))  # this morning's identical text, long before the claim
    now = datetime.now(UTC)
    if (now - timedelta(minutes=30)).date() != now.date():
        pytest.skip("too close to midnight UTC for a same-day record")
    assert sms.find_sent(message(claimed_at=now)) is None
    latest = sms.send(message())
    assert sms.find_sent(message(claimed_at=now)) is not None
    found = sms.find_sent(message(claimed_at=now))
    assert found is not None and found.provider_id == latest.provider_id


def test_an_sms_still_in_twilios_queue_is_found_without_a_date_sent(sms: TwilioSmsChannel,
                                                                    sandbox: TwilioSandbox) -> None:
    sandbox.state.hold_in_queue = True
    receipt = sms.send(message())
    [record] = sandbox.state.messages()
    assert record.sent_at is None  # it matches no DateSent filter
    found = sms.find_sent(message())
    assert found is not None and found.provider_id == receipt.provider_id


def test_a_messaging_service_sms_is_matched_by_its_service(sandbox: TwilioSandbox) -> None:
    channel = TwilioSmsChannel(twilio_config(sandbox, from_number=None, messaging_service_sid=SERVICE))
    other = TwilioSmsChannel(twilio_config(sandbox, from_number=None, messaging_service_sid="MG" + "3" * 32))
    try:
        other.send(message())
        assert channel.find_sent(message()) is None
        receipt = channel.send(message())
        assert channel.find_sent(message()) == Receipt(receipt.provider_id, DeliveryStatus.ACCEPTED, "sms")
    finally:
        channel.close()
        other.close()


@pytest.mark.parametrize(("status", "code"), [(503, 20503), (429, 20429), (500, 20500), (404, 20404)])
def test_a_failed_sms_lookup_raises_transient_never_not_found(sms: TwilioSmsChannel, sandbox: TwilioSandbox,
                                                              status: int, code: int) -> None:
    sms.send(message())
    sandbox.state.fail_next_lookups(1, status, code, retry_after=2)
    with pytest.raises(TransientDeliveryError) as raised:
        sms.find_sent(message())
    assert raised.value.code == str(status)
    assert raised.value.retry_after == 2
    assert sms.find_sent(message()) is not None  # and the next look succeeds


def test_an_sms_lookup_with_wrong_credentials_or_no_answer_is_transient(sandbox: TwilioSandbox) -> None:
    wrong = TwilioSmsChannel(twilio_config(sandbox, auth_token="not-the-token"))
    gone = TwilioSmsChannel(twilio_config(sandbox, api_url="http://127.0.0.1:9", timeout=1.0))
    try:
        for channel in (wrong, gone):
            with pytest.raises(TransientDeliveryError):
                channel.find_sent(message())
    finally:
        wrong.close()
        gone.close()


# Voice -------------------------------------------------------------------------------------------------------
def test_a_placed_call_is_found_with_its_sid(voice: TwilioVoiceChannel) -> None:
    assert isinstance(voice, ProviderLookup)
    call = message(channel="voice")
    receipt = voice.send(call)
    assert voice.find_sent(call) == Receipt(receipt.provider_id, DeliveryStatus.QUEUED, "voice")


def test_a_call_twilio_never_had_is_not_found(voice: TwilioVoiceChannel) -> None:
    voice.send(message(channel="voice", to=OTHER_PARENT))
    assert voice.find_sent(message(channel="voice")) is None


def test_a_same_day_call_from_another_caller_is_not_ours(sandbox: TwilioSandbox, voice: TwilioVoiceChannel) -> None:
    other = TwilioVoiceChannel(twilio_config(sandbox, from_number="+447700900999"))
    try:
        other.send(message(channel="voice"))
    finally:
        other.close()
    assert voice.find_sent(message(channel="voice")) is None


def test_yesterdays_call_is_not_found_today(voice: TwilioVoiceChannel, sandbox: TwilioSandbox) -> None:
    voice.send(message(channel="voice"))
    [record] = sandbox.state.calls()
    age(record, timedelta(days=1))
    assert voice.find_sent(message(channel="voice")) is None


def test_a_call_still_queued_at_twilio_is_found_without_a_start_time(voice: TwilioVoiceChannel,
                                                                     sandbox: TwilioSandbox) -> None:
    sandbox.state.hold_in_queue = True
    receipt = voice.send(message(channel="voice"))
    found = voice.find_sent(message(channel="voice"))
    assert found is not None and found.provider_id == receipt.provider_id


def test_two_calls_the_same_day_the_claim_time_picks_ours(voice: TwilioVoiceChannel, sandbox: TwilioSandbox) -> None:
    now = datetime.now(UTC)
    if (now - timedelta(minutes=30)).date() != now.date():
        pytest.skip("too close to midnight UTC for a same-day record")
    voice.send(message(channel="voice"))
    [earlier] = sandbox.state.calls()
    age(earlier, timedelta(minutes=30))
    assert voice.find_sent(message(channel="voice", claimed_at=now)) is None  # the morning's call is not ours
    ours = voice.send(message(channel="voice"))
    found = voice.find_sent(message(channel="voice", claimed_at=now))
    assert found is not None and found.provider_id == ours.provider_id
    # Without a claim time both qualify: the newest is taken (the documented ambiguity).
    unclaimed = voice.find_sent(message(channel="voice"))
    assert unclaimed is not None and unclaimed.provider_id == ours.provider_id


def test_a_failed_call_lookup_raises_transient(voice: TwilioVoiceChannel, sandbox: TwilioSandbox) -> None:
    voice.send(message(channel="voice"))
    sandbox.state.fail_next_lookups(1, 503, 20503)
    with pytest.raises(TransientDeliveryError):
        voice.find_sent(message(channel="voice"))
    sandbox.state.fail_next_lookups(2, 400, 20001)  # even a refusal of the query is "could not look"
    with pytest.raises(TransientDeliveryError):
        voice.find_sent(message(channel="voice"))


# Memory ------------------------------------------------------------------------------------------------------
def test_the_memory_channel_finds_by_idempotency_key() -> None:
    channel = MemoryChannel("sms")
    assert isinstance(channel, ProviderLookup)
    sent = message()
    receipt = channel.send(sent)
    assert channel.find_sent(sent) == receipt
    assert channel.find_sent(message()) is None  # another key, even with the same text
    channel.lookup_fault = TransientDeliveryError(None, "lookup")
    with pytest.raises(TransientDeliveryError):
        channel.find_sent(sent)


# The sandbox's lists -----------------------------------------------------------------------------------------
def _list(sandbox: TwilioSandbox, resource: str, **query: str) -> httpx.Response:
    state = sandbox.state
    return httpx.get(f"{sandbox.url}/2010-04-01/Accounts/{state.account_sid}/{resource}.json", params=query,
                     auth=(state.account_sid, state.auth_token))


def _create(sandbox: TwilioSandbox, resource: str, **params: str) -> str:
    state = sandbox.state
    reply = httpx.post(f"{sandbox.url}/2010-04-01/Accounts/{state.account_sid}/{resource}.json", data=params,
                       auth=(state.account_sid, state.auth_token))
    assert reply.status_code == 201, reply.text
    return str(reply.json()["sid"])


def _sids(reply: httpx.Response, key: str = "messages") -> list[str]:
    assert reply.status_code == 200, reply.text
    return [item["sid"] for item in reply.json()[key]]


def test_message_list_filters_by_to_from_and_sent_day(sandbox: TwilioSandbox) -> None:
    a = _create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body="a")
    b = _create(sandbox, "Messages", To=OTHER_PARENT, From=FROM_NUMBER, Body="b")
    c = _create(sandbox, "Messages", To=PARENT, From="+447700900999", Body="c")
    old = _create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body="old")
    record = sandbox.state.find(old)
    assert record is not None
    age(record, timedelta(days=2))
    sandbox.state.hold_in_queue = True
    held = _create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body="held")
    today = datetime.now(UTC).date()
    two_days_ago = (today - timedelta(days=2)).isoformat()
    assert _sids(_list(sandbox, "Messages")) == [held, c, b, a, old]  # newest first
    assert _sids(_list(sandbox, "Messages", To=PARENT)) == [held, c, a, old]
    assert _sids(_list(sandbox, "Messages", To=PARENT, From=FROM_NUMBER)) == [held, a, old]
    # Whole UTC days, and a message still held in Twilio's queue has no date_sent: no date filter matches it.
    assert _sids(_list(sandbox, "Messages", To=PARENT, **{"DateSent>": today.isoformat()})) == [c, a]
    assert _sids(_list(sandbox, "Messages", To=PARENT, **{"DateSent>": f"{today}T23:59:59Z"})) == [c, a]
    assert _sids(_list(sandbox, "Messages", To=PARENT, **{"DateSent<": two_days_ago})) == [old]
    assert _sids(_list(sandbox, "Messages", To=PARENT, DateSent=two_days_ago)) == [old]
    rfc = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert _sids(_list(sandbox, "Messages", To=PARENT, **{"DateSent>": rfc})) == [c, a]


def test_message_records_carry_twilios_dates_and_shape(sandbox: TwilioSandbox) -> None:
    _create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body="hello")
    body = _list(sandbox, "Messages", To=PARENT).json()
    [item] = body["messages"]
    for field in ("date_created", "date_updated", "date_sent"):
        parsed = deserialize.rfc2822_datetime(item[field])
        assert parsed is not None and abs(parsed - datetime.now(UTC)) < timedelta(minutes=1)
        assert item[field].endswith("+0000")
    assert (item["body"], item["to"], item["from"], item["direction"]) == ("hello", PARENT, FROM_NUMBER,
                                                                          "outbound-api")
    assert body["next_page_uri"] is None and body["previous_page_uri"] is None
    assert (body["page"], body["page_size"], body["start"]) == (0, 50, 0)
    if OAI.exists():
        spec = json.loads(OAI.read_text())
        path = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["get"]
        schema = path["responses"]["200"]["content"]["application/json"]["schema"]
        assert set(body) == set(schema["properties"])
        assert set(item) <= set(spec["components"]["schemas"]["api.v2010.account.message"]["properties"])
        calls = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Calls.json"]["get"]
        call_schema = calls["responses"]["200"]["content"]["application/json"]["schema"]
        _create(sandbox, "Calls", To=PARENT, From=FROM_NUMBER, Url="https://gw.example/voice/1")
        call_body = _list(sandbox, "Calls").json()
        assert set(call_body) == set(call_schema["properties"])
        [call] = call_body["calls"]
        assert set(call) <= set(spec["components"]["schemas"]["api.v2010.account.call"]["properties"])


def test_call_list_filters_by_start_time_and_status(sandbox: TwilioSandbox) -> None:
    first = _create(sandbox, "Calls", To=PARENT, From=FROM_NUMBER, Url="https://gw.example/voice/1")
    sandbox.state.hold_in_queue = True
    queued = _create(sandbox, "Calls", To=PARENT, From=FROM_NUMBER, Url="https://gw.example/voice/2")
    record = sandbox.state.find(first)
    assert record is not None
    record.status = "completed"
    today = datetime.now(UTC).date().isoformat()
    assert _sids(_list(sandbox, "Calls", To=PARENT), "calls") == [queued, first]
    assert _sids(_list(sandbox, "Calls", To=PARENT, **{"StartTime>": today}), "calls") == [first]
    assert _sids(_list(sandbox, "Calls", To=PARENT, Status="queued"), "calls") == [queued]
    [item] = _list(sandbox, "Calls", Status="completed").json()["calls"]
    assert deserialize.rfc2822_datetime(item["start_time"]) is not None


def test_lists_page_like_twilio_and_the_sdk_follows_them(sandbox: TwilioSandbox) -> None:
    sids = [_create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body=f"m{i}") for i in range(5)]
    first = _list(sandbox, "Messages", To=PARENT, PageSize="2").json()
    assert [m["sid"] for m in first["messages"]] == [sids[4], sids[3]]
    assert first["next_page_uri"].startswith(f"/2010-04-01/Accounts/{sandbox.state.account_sid}/Messages.json?")
    assert "To=%2B447700900123" in first["next_page_uri"] and "PageToken=PA" in first["next_page_uri"]
    # A message arriving between pages does not shift the next page (the PageToken remembers where we were).
    _create(sandbox, "Messages", To=PARENT, From=FROM_NUMBER, Body="late")
    second = httpx.get(sandbox.url + first["next_page_uri"], auth=(sandbox.state.account_sid,
                                                                   sandbox.state.auth_token)).json()
    assert [m["sid"] for m in second["messages"]] == [sids[2], sids[1]] and second["page"] == 1
    client = make_client(sandbox.state.account_sid, sandbox.state.auth_token, sandbox.url)
    try:
        listed: list[Any] = client.messages.list(to=PARENT, from_=FROM_NUMBER, page_size=2,
                                                 date_sent_after=datetime.now(UTC) - timedelta(hours=1))
        assert [m.body for m in listed] == ["late", "m4", "m3", "m2", "m1", "m0"]
        assert all(m.date_sent is not None and m.date_sent.tzinfo is not None for m in listed)
        assert [c.sid for c in client.calls.list(to=PARENT)] == []
    finally:
        client.http_client.close()


def test_lists_refuse_what_twilio_refuses(sandbox: TwilioSandbox) -> None:
    assert _list(sandbox, "Messages", **{"DateSent>": "yesterday"}).json()["code"] == 20001
    assert _list(sandbox, "Messages", Status="queued").status_code == 400  # not a Messages filter
    assert _list(sandbox, "Calls", PageSize="5000").status_code == 400
    state = sandbox.state
    unauthorised = httpx.get(f"{sandbox.url}/2010-04-01/Accounts/{state.account_sid}/Messages.json",
                             auth=(state.account_sid, "nope"))
    assert unauthorised.status_code == 401 and unauthorised.json()["code"] == 20003
    assert httpx.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next_lookups": {"count": 1}}).status_code == 200
    assert _list(sandbox, "Messages").status_code == 503
    assert _list(sandbox, "Messages").status_code == 200
