"""The Twilio webhooks: signatures over the public URL, idempotent retries, forward-only status, TwiML."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.twilio_signature import body_hash, compute_signature
from gateway.config import get_settings
from gateway.models import AbsenceCase, CaseState, ContactPoint, InboundMessage, OutboxMessage, OutboxState
from gateway.pipeline.absence import start_followup
from gateway.web.webhooks import router
from tests.pipeline.conftest import DAD_MOBILE, DAY, MUM_MOBILE, Pipeline, add_family

PUBLIC = "https://gateway.school.example"


class WebhookClient:
    """A synchronous face over httpx's ASGI transport (the app runs in this thread's event loop)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, path: str, *, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        async def call() -> httpx.Response:
            # The client talks plain http to "testserver": the signature must still be checked against PUBLIC.
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return await http.post(path, data=data, headers=headers or {})

        return asyncio.run(call())


def webhook_client(monkeypatch: pytest.MonkeyPatch) -> WebhookClient:
    """The Twilio webhooks alone in an app, behind the public URL ``PUBLIC``."""
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", PUBLIC)
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    return WebhookClient(app)


@pytest.fixture
def client(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookClient]:
    yield webhook_client(monkeypatch)


def post(client: WebhookClient, path: str, params: dict[str, str], *, forge: bool = False) -> httpx.Response:
    _, token = get_settings().twilio_credentials()
    signature = compute_signature("wrong-token" if forge else token, PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_forged_or_unsigned_requests_change_nothing(session: Session, client: WebhookClient) -> None:
    add_family(session)
    params = {"MessageSid": "SM1", "From": MUM_MOBILE, "To": "+447700900000", "Body": "STOP"}
    assert post(client, "/webhooks/twilio/sms", params, forge=True).status_code == 403
    assert client.post("/webhooks/twilio/sms", data=params).status_code == 403
    # Signed for another URL (what the server saw behind a proxy) is refused too.
    _, token = get_settings().twilio_credentials()
    wrong_url = compute_signature(token, "http://testserver/webhooks/twilio/sms", params)
    assert client.post("/webhooks/twilio/sms", data=params,
                       headers={"X-Twilio-Signature": wrong_url}).status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_inbound_text_is_recorded_once_and_processed(session: Session, client: WebhookClient,
                                                     pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    params = {"MessageSid": "SM-r1", "From": MUM_MOBILE, "To": "+447700900000", "Body": "Ola jest chora"}
    first = post(client, "/webhooks/twilio/sms", params)
    replay = post(client, "/webhooks/twilio/sms", params)
    pipeline.drain()
    assert first.status_code == 200 and replay.status_code == 200
    assert "<Response" in first.text
    session.expire_all()
    rows = session.scalars(select(InboundMessage)).all()
    assert len(rows) == 1 and rows[0].suggested_code == "I" and rows[0].adult_id == family.mum
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.kind == "reply_thanks")) == 1


def test_status_callback_moves_forward_only(session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    row = session.scalars(select(OutboxMessage)).one()
    delivered = {"MessageSid": str(row.provider_id), "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert post(client, "/webhooks/twilio/status", delivered).status_code == 204
    late = {"MessageSid": str(row.provider_id), "MessageStatus": "sent", "AccountSid": "AC1"}
    post(client, "/webhooks/twilio/status", late)
    failed = {"MessageSid": str(row.provider_id), "MessageStatus": "undelivered", "ErrorCode": "30005"}
    post(client, "/webhooks/twilio/status", failed)
    post(client, "/webhooks/twilio/status", failed, forge=True)
    pipeline.drain()
    session.expire_all()
    assert session.get(OutboxMessage, row.id).state is OutboxState.DELIVERED  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert post(client, "/webhooks/twilio/status", {"Foo": "bar"}).status_code == 400


def test_voice_twiml_and_keypad_answer(session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    from dataclasses import replace

    from gateway.pipeline import ports

    class Twiml:
        """Names what was asked for and what it says."""

        def call(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None,
                 gather_action_url: str, prompt: str) -> str:
            return f"<Response><call>{spoken_text}</call></Response>"

        def voicemail(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None) -> str:
            return f"<Response><voicemail>{spoken_text}</voicemail></Response>"

        def gather_reply(self, *, thanks_text: str, voice_language: str | None, voice_name: str | None) -> str:
            return f"<Response><gather_reply>{thanks_text}</gather_reply></Response>"

    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    # Dad's landline-style call for the test: a voice row for mum.
    row = session.scalars(select(OutboxMessage)).one()
    row.channel = "voice"
    session.commit()
    with ports.using(replace(ports.current(), twiml=Twiml())):
        person = post(client, f"/webhooks/twilio/voice/{row.id}", {"CallSid": "CA1", "AnsweredBy": "human"})
        machine = post(client, f"/webhooks/twilio/voice/{row.id}", {"CallSid": "CA1",
                                                                    "AnsweredBy": "machine_end_beep"})
        gather = {"CallSid": "CA1", "Digits": "1", "From": "+447700900000"}
        answer = post(client, f"/webhooks/twilio/voice/{row.id}/gather", gather)
        post(client, f"/webhooks/twilio/voice/{row.id}/gather", gather)  # Twilio's retry
    real = post(client, f"/webhooks/twilio/voice/{row.id}", {"CallSid": "CA1", "AnsweredBy": "human"})
    assert "<Gather" in real.text and f"/webhooks/twilio/voice/{row.id}/gather" in real.text
    pipeline.drain()
    assert "<call>" in person.text and "<voicemail>" in machine.text
    assert "<gather_reply>" in answer.text
    session.expire_all()
    inbound = session.scalars(select(InboundMessage)).one()
    assert (inbound.source, inbound.suggested_code, inbound.adult_id) == ("voice", "I", family.mum)
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED
    assert post(client, "/webhooks/twilio/voice/99999", {"CallSid": "CA2"}).status_code == 404


# --- Twilio as it really talks: documented payloads, signed the way Twilio signs them -----------------------

ACCOUNT = "AC" + "a1" * 16
SCHOOL_NUMBER = "+447700900000"


def inbound_payload(sid: str, body: str, sender: str = MUM_MOBILE, **extra: str) -> dict[str, str]:
    """Twilio's request to the incoming message webhook (Programmable Messaging), for a UK number."""
    return {"ToCountry": "GB", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
            "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body,
            "FromCountry": "GB", "To": SCHOOL_NUMBER, "ToZip": "", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": sender, "ApiVersion": "2010-04-01", **extra}


def message_status_payload(sid: str, status: str, **extra: str) -> dict[str, str]:
    """Twilio's message status callback."""
    return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "From": SCHOOL_NUMBER, "MessageSid": sid,
            "MessageStatus": status, "SmsSid": sid, "SmsStatus": status, "To": MUM_MOBILE, **extra}


def call_status_payload(sid: str, status: str, **extra: str) -> dict[str, str]:
    """Twilio's call status callback (a call progress event)."""
    return {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": status,
            "Called": MUM_MOBILE, "Caller": SCHOOL_NUMBER, "Direction": "outbound-api", "From": SCHOOL_NUMBER,
            "To": MUM_MOBILE, "Timestamp": "Mon, 23 Nov 2026 09:16:02 +0000",
            "CallbackSource": "call-progress-events", "SequenceNumber": "0", **extra}


def post_raw(client: WebhookClient, path: str, content: bytes, content_type: str, signature: str) -> httpx.Response:
    """POST a body exactly as given (a form with a repeated key, a JSON document)."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(path, content=content,
                                   headers={"Content-Type": content_type, "X-Twilio-Signature": signature})

    return asyncio.run(call())


def point_of(session: Session, number: str) -> ContactPoint:
    session.expire_all()
    return session.scalars(select(ContactPoint).where(ContactPoint.value == number)).one()


def test_every_twilio_opt_out_word_and_its_verdict_opt_out(session: Session, client: WebhookClient,
                                                          pipeline: Pipeline) -> None:
    add_family(session)
    # A parent sent REVOKE (Twilio's default list) without Advanced Opt-Out: no more texts.
    assert post(client, "/webhooks/twilio/sms", inbound_payload("SM-o1", " Revoke. ")).status_code == 200
    pipeline.drain()
    assert point_of(session, MUM_MOBILE).opted_out_at is not None
    # Advanced Opt-Out with a custom keyword the school set up in Twilio: OptOutType says STOP.
    post(client, "/webhooks/twilio/sms", inbound_payload("SM-o2", "Bitte aufhören", DAD_MOBILE, OptOutType="STOP"))
    pipeline.drain()
    assert point_of(session, DAD_MOBILE).opted_out_at is not None
    # And back in: Twilio's verdict START.
    post(client, "/webhooks/twilio/sms", inbound_payload("SM-o3", "Unstop please", MUM_MOBILE, OptOutType="START"))
    pipeline.drain()
    assert point_of(session, MUM_MOBILE).opted_out_at is None
    rows = {row.provider_sid: row for row in session.scalars(select(InboundMessage))}
    assert [(rows[s].keyword, rows[s].opt_out_type, rows[s].handled) for s in ("SM-o1", "SM-o2", "SM-o3")] == [
        ("STOP", None, True), ("STOP", "STOP", True), ("START", "START", True)]


def test_help_is_answered_with_the_school_details_once_per_message(session: Session, client: WebhookClient,
                                                                   pipeline: Pipeline) -> None:
    family = add_family(session)
    first = inbound_payload("SM-h1", "help")
    assert post(client, "/webhooks/twilio/sms", first).status_code == 200
    post(client, "/webhooks/twilio/sms", first)  # Twilio's retry of the same message
    post(client, "/webhooks/twilio/sms", inbound_payload("SM-h2", "Hilfe", OptOutType="HELP"))
    pipeline.drain()
    texts = [m for m in pipeline.sms.outbox if m.to == MUM_MOBILE]
    assert len(texts) == 2  # one answer per HELP message, none for the retry
    assert all("Oakfield Primary" in m.text and "01632 960000" in m.text for m in texts)
    session.expire_all()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "help_reply")).all()
    assert len(rows) == 2 and {r.state for r in rows} == {OutboxState.ACCEPTED}
    assert {r.adult_id for r in rows} == {family.mum}
    assert {i.keyword for i in session.scalars(select(InboundMessage))} == {"HELP"}
    assert point_of(session, MUM_MOBILE).opted_out_at is None  # HELP changes nothing else


class CountingServer:
    """A far end that counts every request (a stand-in for Twilio's media URLs)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_mms_is_recorded_as_media_and_its_media_never_fetched(session: Session, client: WebhookClient,
                                                                 pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    media = CountingServer()
    try:
        sid = "MM" + "d4" * 16
        params = inbound_payload(sid, "", NumMedia="2", NumSegments="1", MediaContentType0="image/jpeg",
                                 MediaUrl0=f"{media.url}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME1",
                                 MediaContentType1="image/png",
                                 MediaUrl1=f"{media.url}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME2")
        assert post(client, "/webhooks/twilio/sms", params).status_code == 200
        pipeline.drain()
        assert media.hits == 0
    finally:
        media.close()
    session.expire_all()
    inbound = session.scalars(select(InboundMessage)).one()
    assert (inbound.num_media, inbound.media_note, inbound.adult_id) == (2, "2 pictures were sent", family.mum)
    assert inbound.body == "" and not inbound.handled  # staff look at it in the inbox


def make_sent_row(session: Session, provider_id: str, channel: str = "sms",
                  state: OutboxState = OutboxState.ACCEPTED) -> int:
    """An outbox row the provider has (no adult: a failure plans no fallback)."""
    row = OutboxMessage(idempotency_key=f"test:{provider_id}", kind="absence_first_day", channel=channel,
                        to_address=MUM_MOBILE, text="hello", state=state, provider_id=provider_id)
    session.add(row)
    session.commit()
    return row.id


MESSAGE_OUTCOMES = {
    "queued": OutboxState.ACCEPTED, "sending": OutboxState.ACCEPTED, "sent": OutboxState.ACCEPTED,
    "accepted": OutboxState.ACCEPTED, "scheduled": OutboxState.ACCEPTED, "delivery_unknown": OutboxState.ACCEPTED,
    "receiving": OutboxState.ACCEPTED, "received": OutboxState.ACCEPTED,
    "delivered": OutboxState.DELIVERED, "read": OutboxState.DELIVERED, "partially_delivered": OutboxState.DELIVERED,
    "undelivered": OutboxState.UNDELIVERED, "failed": OutboxState.FAILED, "canceled": OutboxState.FAILED,
}
CALL_OUTCOMES = {
    "queued": OutboxState.ACCEPTED, "initiated": OutboxState.ACCEPTED, "ringing": OutboxState.ACCEPTED,
    "in-progress": OutboxState.ACCEPTED, "completed": OutboxState.DELIVERED, "busy": OutboxState.FAILED,
    "failed": OutboxState.FAILED, "no-answer": OutboxState.FAILED, "canceled": OutboxState.FAILED,
}


def test_every_documented_message_status_is_accepted_and_mapped(session: Session, client: WebhookClient) -> None:
    ids = {status: make_sent_row(session, f"SM{n:032d}") for n, status in enumerate(MESSAGE_OUTCOMES)}
    for n, status in enumerate(MESSAGE_OUTCOMES):
        response = post(client, "/webhooks/twilio/status", message_status_payload(f"SM{n:032d}", status))
        assert response.status_code == 204, status
    session.expire_all()
    got = {status: session.get(OutboxMessage, row_id) for status, row_id in ids.items()}
    assert {status: row.state for status, row in got.items() if row} == MESSAGE_OUTCOMES
    assert all(row is not None and row.provider_status == status for status, row in got.items())


def test_every_documented_call_status_is_accepted_and_mapped(session: Session, client: WebhookClient) -> None:
    ids = {status: make_sent_row(session, f"CA{n:032d}", "voice") for n, status in enumerate(CALL_OUTCOMES)}
    for n, status in enumerate(CALL_OUTCOMES):
        extra = {"CallDuration": "31", "Duration": "1"} if status == "completed" else {}
        response = post(client, "/webhooks/twilio/status", call_status_payload(f"CA{n:032d}", status, **extra))
        assert response.status_code == 204, status
    session.expire_all()
    got = {status: session.get(OutboxMessage, row_id) for status, row_id in ids.items()}
    assert {status: row.state for status, row in got.items() if row} == CALL_OUTCOMES
    assert all(row is not None and row.provider_status == status for status, row in got.items())


def test_an_unknown_status_is_recorded_answered_2xx_and_never_moves_back(session: Session,
                                                                          client: WebhookClient) -> None:
    in_flight = make_sent_row(session, "SM-u1")
    delivered = make_sent_row(session, "SM-u2")
    post(client, "/webhooks/twilio/status", message_status_payload("SM-u2", "delivered"))
    for sid in ("SM-u1", "SM-u2"):
        response = post(client, "/webhooks/twilio/status", message_status_payload(sid, "teleported"))
        assert response.status_code == 204
    assert post(client, "/webhooks/twilio/status", call_status_payload("CA-unknown", "on-hold")).status_code == 204
    session.expire_all()
    first, second = session.get(OutboxMessage, in_flight), session.get(OutboxMessage, delivered)
    assert first is not None and (first.state, first.provider_status) == (OutboxState.ACCEPTED, "teleported")
    assert second is not None and (second.state, second.provider_status) == (OutboxState.DELIVERED, "delivered")


def test_a_form_with_a_repeated_key_is_signed_like_twilio_signs_it(session: Session, client: WebhookClient) -> None:
    row_id = make_sent_row(session, "SM-rep")
    pairs = [*message_status_payload("SM-rep", "delivered").items(), ("ChannelStatusMessage", "b"),
             ("ChannelStatusMessage", "a")]
    _, token = get_settings().twilio_credentials()
    body = urlencode(pairs).encode()
    path = "/webhooks/twilio/status"
    # Twilio sorts a repeated key's values: the order they arrive in does not matter.
    signature = compute_signature(token, PUBLIC + path, list(reversed(pairs)))
    assert post_raw(client, path, body, "application/x-www-form-urlencoded", signature).status_code == 204
    session.expire_all()
    assert session.get(OutboxMessage, row_id).state is OutboxState.DELIVERED  # type: ignore[union-attr]
    # Signed over only one of the values: refused.
    partial = compute_signature(token, PUBLIC + path, dict(pairs))
    assert post_raw(client, path, body, "application/x-www-form-urlencoded", partial).status_code == 403


def test_a_json_body_is_validated_through_body_sha256(session: Session, client: WebhookClient) -> None:
    row_id = make_sent_row(session, "SM-json")
    _, token = get_settings().twilio_credentials()
    document = json.dumps({"MessageSid": "SM-json", "MessageStatus": "delivered"})
    path = f"/webhooks/twilio/status?bodySHA256={body_hash(document)}"
    signature = compute_signature(token, PUBLIC + path, {})
    tampered = document.replace("delivered", "failed")
    assert post_raw(client, path, tampered.encode(), "application/json", signature).status_code == 403
    assert post_raw(client, "/webhooks/twilio/status", document.encode(), "application/json",
                    compute_signature(token, PUBLIC + "/webhooks/twilio/status", {})).status_code == 403
    session.expire_all()
    assert session.get(OutboxMessage, row_id).state is OutboxState.ACCEPTED  # type: ignore[union-attr]
    assert post_raw(client, path, document.encode(), "application/json", signature).status_code == 204
    session.expire_all()
    assert session.get(OutboxMessage, row_id).state is OutboxState.DELIVERED  # type: ignore[union-attr]


def test_a_trailing_slash_answers_like_the_path_without(session: Session, client: WebhookClient,
                                                        pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    sms = post(client, "/webhooks/twilio/sms/", inbound_payload("SM-slash", "Ola ma gorączkę"))
    assert sms.status_code == 200 and "<Response" in sms.text
    row_id = make_sent_row(session, "SM-slash-status")
    assert post(client, "/webhooks/twilio/status/", message_status_payload("SM-slash-status", "sent")).status_code \
        == 204
    # The signature covers the URL Twilio called: one signed without the slash does not pass with it.
    _, token = get_settings().twilio_credentials()
    params = inbound_payload("SM-slash-2", "hello")
    unslashed = compute_signature(token, PUBLIC + "/webhooks/twilio/sms", params)
    assert client.post("/webhooks/twilio/sms/", data=params,
                       headers={"X-Twilio-Signature": unslashed}).status_code == 403
    pipeline.drain()
    session.expire_all()
    inbound = session.scalars(select(InboundMessage).where(InboundMessage.provider_sid == "SM-slash")).one()
    assert inbound.adult_id == family.mum
    assert session.get(OutboxMessage, row_id).provider_status == "sent"  # type: ignore[union-attr]


def test_a_gather_action_as_twilio_posts_it(session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    row = session.scalars(select(OutboxMessage)).one()
    row.channel = "voice"
    session.commit()
    call_sid = "CA" + "e5" * 16
    gather = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": "in-progress",
              "Called": MUM_MOBILE, "CalledCountry": "GB", "Caller": SCHOOL_NUMBER, "CallerCountry": "GB",
              "Digits": "1", "Direction": "outbound-api", "FinishedOnKey": "", "From": SCHOOL_NUMBER,
              "FromCountry": "GB", "To": MUM_MOBILE, "ToCountry": "GB", "msg": "Gather End"}
    # Twilio calls the action URL exactly as given, here with a trailing slash.
    answer = post(client, f"/webhooks/twilio/voice/{row.id}/gather/", gather)
    assert answer.status_code == 200 and "<Say" in answer.text
    pipeline.drain()
    session.expire_all()
    inbound = session.scalars(select(InboundMessage)).one()
    assert (inbound.provider_sid, inbound.source, inbound.adult_id) == (f"{call_sid}:1", "voice", family.mum)
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED


def test_texts_arriving_together_are_each_stored_once_and_a_refused_one_fails_alone(
        session: Session, client: WebhookClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.web import webhooks

    add_family(session)
    _, token = get_settings().twilio_credentials()
    path = "/webhooks/twilio/sms"
    texts = [inbound_payload(f"SM-burst-{n}", f"Ola jest chora ({n})") for n in range(12)]
    texts += texts[:3]  # Twilio's retries of three of them, arriving while the first tries are stored
    texts.append(inbound_payload("SM-burst-refused", "the database refuses this one"))
    real_record = webhooks.record_inbound

    def record(session: Session, **fields: Any) -> tuple[int, bool]:
        if fields["provider_sid"] == "SM-burst-refused":
            raise RuntimeError("refused by the database")
        return real_record(session, **fields)

    monkeypatch.setattr(webhooks, "record_inbound", record)

    async def send_all() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app, raise_app_exceptions=False),
                                     base_url="http://testserver") as http:
            replies = await asyncio.gather(*(
                http.post(path, data=params, headers={"X-Twilio-Signature": compute_signature(token, PUBLIC + path,
                                                                                             params)})
                for params in texts))
        return [reply.status_code for reply in replies]

    statuses = asyncio.run(send_all())
    assert statuses == [200] * 15 + [500]
    session.expire_all()
    stored = session.scalars(select(InboundMessage.provider_sid)).all()
    assert sorted(stored) == sorted(f"SM-burst-{n}" for n in range(12))
    pipeline.drain()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.processed_at.is_not(None))) == 12


def test_a_media_count_that_is_not_a_small_number_counts_as_none() -> None:
    from gateway.web.webhooks import _media_count

    assert [_media_count(value) for value in ("3", " 10 ", None, "", "two", "²", "-1", "9" * 20)] == \
        [3, 10, 0, 0, 0, 0, 0, 0]
