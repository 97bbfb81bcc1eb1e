"""The Twilio webhooks: signatures over the public URL, idempotent retries, forward-only status, TwiML."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.twilio_signature import compute_signature
from gateway.config import get_settings
from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage, OutboxState
from gateway.pipeline.absence import start_followup
from gateway.web.webhooks import router
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family

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


@pytest.fixture
def client(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookClient]:
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", PUBLIC)
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    yield WebhookClient(app)


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
    from gateway.pipeline import collaborators

    def twiml(kind: str, **fields: object) -> str:
        return f"<Response><{kind}>{fields.get('spoken_text') or fields.get('thanks_text')}</{kind}></Response>"

    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    # Dad's landline-style call for the test: a voice row for mum.
    row = session.scalars(select(OutboxMessage)).one()
    row.channel = "voice"
    session.commit()
    with collaborators.override(voice_twiml=twiml):
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
