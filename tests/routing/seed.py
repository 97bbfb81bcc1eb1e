"""A small school written with the ORM (the importers are built separately): two families and a third pupil."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from gateway.models import (
    Adult,
    AttendanceMark,
    ContactKind,
    ContactPoint,
    HalfTerm,
    InsetDay,
    Literacy,
    Pupil,
    PupilContact,
    Restriction,
)

ABSENCE_DAY = date(2026, 11, 23)  # a Monday in Autumn 2
OLA, KUBA, AMIRA = "A100000000001", "A100000000002", "A100000000003"


def _school_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def seed_school(session: Session) -> None:
    """Ola (Y3) and Kuba (Y9) Nowak share their mother Anna; their father Piotr may not be contacted about
    Kuba (so about nobody); Amira Khan's mother Ayesha has e-mail only; her grandfather Abdi (landline,
    Somali) is the emergency contact. Ola and Kuba are absent (N) on 23 November; Amira on the afternoon."""
    ola = Pupil(upn=OLA, forename="Ola", surname="Nowak", year_group="3", home_language="pl")
    kuba = Pupil(upn=KUBA, forename="Kuba", surname="Nowak", year_group="9", home_language="pl")
    amira = Pupil(upn=AMIRA, forename="Amira", surname="Khan", year_group="5", home_language="ur")
    anna = Adult(forename="Anna", surname="Nowak", language="pl", channel_order="sms,email,voice")
    anna.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900123", sms_capable=True))
    piotr = Adult(forename="Piotr", surname="Nowak", channel_order="sms")
    piotr.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900456", sms_capable=True))
    ayesha = Adult(forename="Ayesha", surname="Khan", language="ur", literacy=Literacy.PLAIN, channel_order="email",
                   window_start=time(17, 0), window_end=time(19, 0))
    ayesha.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value="ayesha@example.org"))
    abdi = Adult(forename="Abdi", surname="Hassan", language="so", channel_order="voice")
    abdi.contact_points.append(ContactPoint(kind=ContactKind.LANDLINE, value="+441632960123"))
    links = [
        PupilContact(pupil=ola, adult=anna, relationship_code="PAM", priority=1, parental_responsibility=True),
        PupilContact(pupil=kuba, adult=anna, relationship_code="PAM", priority=1, parental_responsibility=True),
        PupilContact(pupil=ola, adult=piotr, relationship_code="PAF", priority=2, parental_responsibility=True,
                     lives_with_pupil=False),
        PupilContact(pupil=kuba, adult=piotr, relationship_code="PAF", priority=2, parental_responsibility=True,
                     lives_with_pupil=False, restriction=Restriction.NO_CONTACT),
        PupilContact(pupil=amira, adult=ayesha, relationship_code="PAM", priority=1, parental_responsibility=True),
        PupilContact(pupil=amira, adult=abdi, relationship_code="GRF", priority=2, parental_responsibility=False),
    ]
    session.add_all([ola, kuba, amira, *links])
    session.add_all([HalfTerm(name="Autumn 2", start=date(2026, 11, 2), end=date(2026, 12, 18)),
                     HalfTerm(name="Spring 1", start=date(2027, 1, 4), end=date(2027, 2, 12)),
                     InsetDay(date=date(2027, 1, 4))])
    session.flush()
    marks = []
    # Autumn 2 before the absence day: 15 school days. Ola missed 3 (illness), Kuba none, Amira 2.5 (N).
    for index, day in enumerate(_school_days(date(2026, 11, 2), 15)):
        for session_name in ("AM", "PM"):
            marks.append(AttendanceMark(pupil_id=ola.id, date=day, session=session_name,
                                        code="I" if index < 3 else "/"))
            marks.append(AttendanceMark(pupil_id=kuba.id, date=day, session=session_name, code="/"))
            amira_code = "N" if index < 2 or (index == 2 and session_name == "PM") else "/"
            marks.append(AttendanceMark(pupil_id=amira.id, date=day, session=session_name, code=amira_code))
    for pupil, session_name in ((ola, "AM"), (kuba, "AM"), (ola, "PM"), (amira, "PM")):
        marks.append(AttendanceMark(pupil_id=pupil.id, date=ABSENCE_DAY, session=session_name, code="N"))
    marks.append(AttendanceMark(pupil_id=kuba.id, date=ABSENCE_DAY, session="PM", code="#"))
    marks.append(AttendanceMark(pupil_id=amira.id, date=ABSENCE_DAY, session="AM", code="/"))
    session.add_all(marks)
    session.commit()


def approve(session: Session, upn: str) -> None:
    """Record a DSL approval on every dsl_approval link of ``upn`` (helper for approval tests)."""
    for link in session.query(PupilContact).join(Pupil).filter(Pupil.upn == upn):
        if link.restriction is Restriction.DSL_APPROVAL:
            link.dsl_approved_at = datetime.now(UTC)
    session.commit()
