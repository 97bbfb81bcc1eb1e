"""Retention purge and subject-access export: what goes, what stays, and what one adult gets back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import InputError, NotFoundError
from gateway.models import Adult, AttendanceMark, ContactKind, ContactPoint, Pupil, PupilContact
from gateway.models.messaging import AbsenceCase, InboundMessage, OutboxMessage
from gateway.operations.retention import purge_before
from gateway.operations.subject_access import export_adult, find_adult


def _family(session: Session) -> Adult:
    mum = Adult(forename="Anna", surname="Nowak", language="pl", external_ref="C-1")
    mum.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900123", sms_capable=True))
    pupil = Pupil(upn="A123456789012", forename="Ola", surname="Nowak")
    pupil.links.append(PupilContact(adult=mum, relationship_code="PAM", parental_responsibility=True))
    session.add(pupil)
    session.flush()
    for day in (date(2020, 3, 2), date(2026, 11, 23)):
        case = AbsenceCase(date=day, family_key=str(pupil.id), pupils=[pupil],
                           opened_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC))
        session.add(case)
        session.add(AttendanceMark(pupil_id=pupil.id, date=day, session="AM", code="N"))
        session.flush()
        at = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
        session.add(OutboxMessage(idempotency_key=f"k{day}", kind="absence_first_day", case_id=case.id,
                                  adult_id=mum.id, channel="sms", to_address="+447700900123",
                                  text=f"Ola was not in school on {day}", created_at=at))
        session.add(InboundMessage(provider_sid=f"SM{day}", from_number="+447700900123", body="Ola jest chora",
                                   adult_id=mum.id, case_id=case.id, suggested_code="I", received_at=at))
    session.commit()
    return mum


def test_purge_removes_only_what_is_older(session: Session) -> None:
    _family(session)
    summary = purge_before(session, date(2021, 1, 1), today=date(2026, 11, 23))
    session.commit()
    assert (summary.outbox_messages, summary.inbound_messages, summary.absence_cases, summary.attendance_marks) == (
        1, 1, 1, 1)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert session.scalar(select(func.count()).select_from(AbsenceCase)) == 1
    assert session.scalar(select(func.count()).select_from(Adult)) == 1  # still linked to a pupil


def test_dry_run_changes_nothing(session: Session) -> None:
    _family(session)
    summary = purge_before(session, date(2021, 1, 1), today=date(2026, 11, 23), dry_run=True)
    assert summary.outbox_messages == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert session.scalar(select(func.count()).select_from(AttendanceMark)) == 2


def test_purge_refuses_a_future_date(session: Session) -> None:
    with pytest.raises(InputError, match="future"):
        purge_before(session, date(2030, 1, 1), today=date(2026, 11, 23))


def test_subject_access_export_has_everything_about_one_adult(session: Session) -> None:
    _family(session)
    adult = find_adult(session, phone="07700 900123")
    document = export_adult(session, adult)
    assert document["adult"]["forename"] == "Anna"
    assert document["children"][0]["upn"] == "A123456789012"
    assert len(document["messages_sent"]) == 2
    assert [r["body"] for r in document["replies_received"]] == ["Ola jest chora"] * 2
    assert document["staff_tasks"] == []
    assert find_adult(session, ref="C-1").id == adult.id


def test_subject_access_needs_exactly_one_key(session: Session) -> None:
    with pytest.raises(InputError, match="exactly one"):
        find_adult(session, ref="C-1", phone="07700 900123")
    with pytest.raises(NotFoundError):
        find_adult(session, ref="nobody")


def test_purge_removes_old_staff_tasks_and_confirmed_codes(session: Session) -> None:
    from gateway.models import CaseTask, ConfirmedCode, TaskKind

    mum = _family(session)
    for inbound in session.scalars(select(InboundMessage)):
        at = inbound.received_at
        session.add(CaseTask(key=f"call_back:{inbound.case_id}", kind=TaskKind.CALL_BACK, case_id=inbound.case_id,
                             adult_id=mum.id, inbound_id=inbound.id, title="Call Anna Nowak back", created_at=at))
        pupil_id = session.scalars(select(Pupil.id)).one()
        session.add(ConfirmedCode(inbound_id=inbound.id, pupil_id=pupil_id, session="AM", code="I", confirmed_at=at))
    session.commit()
    summary = purge_before(session, date(2021, 1, 1), today=date(2026, 11, 23))
    session.commit()
    assert (summary.case_tasks, summary.confirmed_codes) == (1, 1)
    assert session.scalar(select(func.count()).select_from(CaseTask)) == 1
    assert session.scalar(select(func.count()).select_from(ConfirmedCode)) == 1
    document = export_adult(session, mum)
    assert [t["title"] for t in document["staff_tasks"]] == ["Call Anna Nowak back"]  # the recent one stays
