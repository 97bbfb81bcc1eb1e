"""Replies: the lexicon's suggestions, STOP/START, unknown senders, keypad answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, CaseState, ContactPoint, InboundMessage, OutboxMessage
from gateway.pipeline.absence import start_followup
from gateway.pipeline.lexicon import LEXICON, suggest_code
from gateway.pipeline.replies import process_inbound_message, record_inbound
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family


@pytest.mark.parametrize(("text", "locale", "code"), [
    ("Ola jest chora", "pl", "I"),
    ("Kuba ma gorączkę", "pl", "I"),
    ("Kuba ma goraczke", "pl", "I"),
    ("wizyta u lekarza o 10", "pl", "M"),
    ("she's poorly today", "en-GB", "I"),
    ("dr appt at 11", "en-GB", "M"),
    ("Sick with a temperature", None, "I"),
    ("at the dentist", "en", "M"),
    ("Eid today, back tomorrow", "en", "R"),
    ("وہ بیمار ہے", "ur", "I"),
    ("bacha bimar hai", "ur", "I"),
    ("ਉਹ ਬਿਮਾਰ ਹੈ", "pa", "I"),
    ("সে অসুস্থ", "bn", "I"),
    ("wuu xanuunsan yahay", "so", "I"),
    ("ابني مريض", "ar", "I"),
    ("તેને તાવ છે", "gu", "I"),
    ("está doente", "pt", "I"),
    ("este bolnavă", "ro", "I"),
    ("vaikas serga", "lt", "I"),
    ("дитина хворіє", "uk", "I"),
    ("está enferma", "es", "I"),
    ("çocuk hasta", "tr", "I"),
    ("hastane randevusu", "tr", "M"),
    ("அவனுக்கு காய்ச்சல்", "ta", "I"),
    ("il est malade", "fr", "I"),
    ("rendez-vous chez le médecin", "fr", "M"),
    ("Ola jest chora", "en", "I"),  # a Polish reply from an adult recorded as English still matches
    ("See you later", "en", None),
    ("hasta mañana", "es", None),  # Spanish "until", not Turkish "ill"
])
def test_lexicon_suggests_codes(text: str, locale: str | None, code: str | None) -> None:
    assert suggest_code(text, locale).code == code


def test_lexicon_covers_the_top_home_languages() -> None:
    assert set(LEXICON) >= {"en", "pl", "ur", "pa", "bn", "so", "ar", "gu", "pt", "ro", "lt", "uk", "es", "tr",
                            "ta", "fr"}


def _inbound(session: Session, sid: str, sender: str, body: str, source: str = "sms",
             outbox_id: int | None = None) -> InboundMessage:
    inbound_id, _ = record_inbound(session, provider_sid=sid, from_number=sender, to_number=None, body=body,
                                   source=source, outbox_id=outbox_id)
    session.commit()
    process_inbound_message(inbound_id)
    session.expire_all()
    row = session.get(InboundMessage, inbound_id)
    assert row is not None
    return row


def test_stop_and_start(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    stop = _inbound(session, "SM1", MUM_MOBILE, "Stop")
    assert (stop.keyword, stop.handled, stop.adult_id) == ("STOP", True, family.mum)
    point = session.scalars(select(ContactPoint).where(ContactPoint.value == MUM_MOBILE)).one()
    assert point.opted_out_at is not None
    # Opted out of texts, still reached for a same-day absence by another channel.
    start_followup(session, DAY)
    pipeline.drain()
    session.expire_all()
    first = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.mum)).all()
    assert [r.channel for r in first] == ["email"]
    _inbound(session, "SM2", MUM_MOBILE, "START")
    session.expire_all()
    assert session.scalars(select(ContactPoint).where(ContactPoint.value == MUM_MOBILE)).one().opted_out_at is None


def test_unknown_sender_reaches_staff(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    row = _inbound(session, "SM3", "+447700900999", "Who is this? my son is ill")
    assert row.adult_id is None and row.case_id is None and row.handled is False
    assert row.processed_at is not None and row.body == "Who is this? my son is ill"


def test_keypad_answer_stops_the_ladder(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    message = session.scalars(select(OutboxMessage)).first()
    assert message is not None
    row = _inbound(session, "CA1:1", MUM_MOBILE, "1", source="voice", outbox_id=message.id)
    assert (row.adult_id, row.suggested_code) == (family.mum, "I")
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.REPLIED and case.close_reason == "keypad"


def test_a_reply_without_an_open_case_is_kept_for_staff(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session, marks=False)
    row = _inbound(session, "SM4", MUM_MOBILE, "Kuba has a dentist appointment tomorrow")
    assert (row.adult_id, row.case_id, row.suggested_code, row.handled) == (family.mum, None, "M", False)
