"""Keypad answers and voice TwiML: only the digits the call offered count, and a call that may no longer
speak (its adult restricted since, or the number held by a restricted adult) hangs up saying nothing about
the child."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import get_settings
from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage, Restriction
from gateway.pipeline.absence import start_followup
from gateway.web.webhooks import NO_LONGER_NEEDED, router
from tests.pipeline.conftest import DAD_MOBILE, DAY, MUM_MOBILE, Family, Pipeline, add_family
from tests.security.support import PUBLIC, TwilioPoster, add_point, remove_point, restrict, sent_to

PROMPT = "Press 1 if ill"


@pytest.fixture
def twilio(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioPoster]:
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", PUBLIC)
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    yield TwilioPoster(app)
    get_settings.cache_clear()


def _call_to_mum(session: Session, pipeline: Pipeline, *, number: str = MUM_MOBILE) -> tuple[Family, OutboxMessage]:
    """The day's first message to the mother, turned into a call (as the voice channel would place it)."""
    family = add_family(session)
    if number != MUM_MOBILE:
        add_point(session, family.mum, number)
        remove_point(session, family.mum, MUM_MOBILE)
    start_followup(session, DAY)
    pipeline.drain()
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.mum)).one()
    row.channel, row.voice_prompt = "voice", PROMPT
    session.commit()
    return family, row


def _case_state(session: Session) -> CaseState:
    session.expire_all()
    return session.scalars(select(AbsenceCase)).one().state


def _inbound(session: Session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage)))


def test_unoffered_keypad_digit_replays_prompt(session: Session, pipeline: Pipeline, twilio: TwilioPoster) -> None:
    _family, row = _call_to_mum(session, pipeline)
    path = f"/webhooks/twilio/voice/{row.id}/gather"
    for digit in ("7", "0", "*", "12", ""):
        answer = twilio.post(path, {"CallSid": "CA1", "Digits": digit, "From": "+447700900000"})
        pipeline.drain()
        assert answer.status_code == 200
        assert "<Gather" in answer.text and PROMPT in answer.text and path in answer.text
        assert "reply_thanks" not in answer.text
    assert _inbound(session) == []  # nothing stored
    assert _case_state(session) is CaseState.OPEN  # and the case never closed
    # The offered digit still counts.
    answer = twilio.post(path, {"CallSid": "CA1", "Digits": "1", "From": "+447700900000"})
    pipeline.drain()
    assert "<Gather" not in answer.text and "reply_thanks" in answer.text
    assert [(i.body, i.suggested_code) for i in _inbound(session)] == [("1", "I")]
    assert _case_state(session) is CaseState.REPLIED


def test_voice_twiml_hangs_up_for_restricted_adult(session: Session, pipeline: Pipeline,
                                                   twilio: TwilioPoster) -> None:
    family, row = _call_to_mum(session, pipeline)
    restrict(session, family.mum, Restriction.DSL_APPROVAL)  # the DSL acts while the call is ringing
    for answered_by in ("human", "machine_end_beep"):
        twiml = twilio.post(f"/webhooks/twilio/voice/{row.id}", {"CallSid": "CA1", "AnsweredBy": answered_by})
        assert twiml.status_code == 200
        assert NO_LONGER_NEEDED in twiml.text and "<Hangup" in twiml.text
        assert row.text not in twiml.text and "Ola" not in twiml.text and "Kuba" not in twiml.text
        assert "<Gather" not in twiml.text


def test_voice_twiml_hangs_up_when_number_is_held_by_restricted_adult(session: Session, pipeline: Pipeline,
                                                                     twilio: TwilioPoster) -> None:
    family, row = _call_to_mum(session, pipeline, number=DAD_MOBILE)  # the family's shared phone
    restrict(session, family.dad, Restriction.NO_CONTACT)
    twiml = twilio.post(f"/webhooks/twilio/voice/{row.id}", {"CallSid": "CA1", "AnsweredBy": "human"})
    assert NO_LONGER_NEEDED in twiml.text and "<Hangup" in twiml.text and "Ola" not in twiml.text


def test_keypad_answer_on_call_to_number_held_by_restricted_adult_goes_to_dsl_only(
        session: Session, pipeline: Pipeline, twilio: TwilioPoster) -> None:
    family, row = _call_to_mum(session, pipeline, number=DAD_MOBILE)
    restrict(session, family.dad, Restriction.NO_CONTACT)  # after the call's message was spoken
    answer = twilio.post(f"/webhooks/twilio/voice/{row.id}/gather", {"CallSid": "CA1", "Digits": "1"})
    pipeline.drain()
    assert NO_LONGER_NEEDED in answer.text and "reply_thanks" not in answer.text
    [inbound] = _inbound(session)
    assert (inbound.source, inbound.dsl_only, inbound.dsl_reason) == ("voice", True, "restricted")
    assert inbound.suggested_code is None and inbound.case_id is None
    assert _case_state(session) is CaseState.OPEN
    session.expire_all()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []
    assert [m.message_id for m in sent_to(pipeline, DAD_MOBILE)] == [row.id]  # only the call placed before


def test_keypad_answer_after_adult_was_restricted_does_not_close_case(
        session: Session, pipeline: Pipeline, twilio: TwilioPoster) -> None:
    family, row = _call_to_mum(session, pipeline)
    restrict(session, family.mum, Restriction.NO_CONTACT)
    answer = twilio.post(f"/webhooks/twilio/voice/{row.id}/gather", {"CallSid": "CA1", "Digits": "2"})
    pipeline.drain()
    assert "<Hangup" in answer.text and "reply_thanks" not in answer.text
    [inbound] = _inbound(session)
    assert inbound.dsl_only and inbound.suggested_code is None
    assert _case_state(session) is CaseState.OPEN
