"""When nobody can be reached, the DSL knows at once (issue 20): live channels against the local Twilio and SMTP
sandboxes, the gateway's own status-callback webhook on a loopback port, the worker and the scheduler's tick.

The Nowak family here has one number between them: Mrs Nowak's mobile. Mr Nowak may not be contacted and there
is no emergency contact, so when that number fails nobody is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.sandbox.runner import free_port, serve_in_thread
from gateway.clock import FixedClock
from gateway.config import get_settings
from gateway.models import (
    AbsenceCase,
    Adult,
    AttendanceMark,
    CaseState,
    ContactKind,
    ContactPoint,
    DslAlert,
    OutboxMessage,
    OutboxState,
    Pupil,
    PupilContact,
    Restriction,
    School,
    StaffRole,
    StaffUser,
)
from gateway.pipeline.absence import start_followup
from gateway.pipeline.scheduler import tick
from tests.pipeline.conftest import DAY, at
from tests.pipeline.live_channels import broker_url_for, drain, live_channels

MUM_MOBILE = "+447700900123"
DAD_MOBILE = "+447700900456"
NEW_MOBILE = "+447700900789"
DSL_EMAIL = "dsl@school.invalid"
OFFICE_EMAIL = "office@school.invalid"
SAFEGUARDING = "no contact allowed (safeguarding)"


@dataclass
class Live:
    broker: dramatiq.Broker
    worker: dramatiq.Worker
    twilio: object
    smtp: object
    clock: FixedClock

    def drain(self) -> None:
        drain(self.broker, self.worker)

    def tick(self, *, seconds: int = 5) -> None:
        """One scheduler tick a few seconds of gateway time later, then let the workers finish."""
        self.clock.advance(seconds=seconds)
        tick()
        self.drain()

    def texts_to(self, number: str) -> list[object]:
        return [m for m in self.twilio.state.messages() if m.params["To"] == number]  # type: ignore[attr-defined]

    def sent_anything(self) -> bool:
        return bool(self.twilio.state.records)  # type: ignore[attr-defined]

    def mails_to(self, address: str) -> list[str]:
        """The plain-text bodies of the e-mails ``address`` received."""
        mails = [m for m in self.smtp.mailbox.messages() if address in m.rcpt_tos]  # type: ignore[attr-defined]
        return [m.message.get_body(("plain",)).get_content() for m in mails]


@pytest.fixture
def broker_url(database_url: str) -> str:
    return broker_url_for(database_url)


@pytest.fixture
def live(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The sandboxes call the gateway's real status webhook (signed) on a loopback port, as Twilio would."""
    from gateway.web.webhooks import router

    port = free_port()
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)
    server = serve_in_thread(app, port=port)
    fixed = FixedClock(at(9, 15))
    try:
        with live_channels(broker_url, fixed, send_callbacks=True) as (broker, worker, twilio, smtp):
            yield Live(broker, worker, twilio, smtp, fixed)
    finally:
        server.stop()


@dataclass
class Nowaks:
    ola: int
    mum: int
    dad: int


def add_nowaks(session: Session, *, mum_restricted: bool = False, dad_mobile: str | None = None) -> Nowaks:
    """Ola Nowak (absent, N), Mrs Nowak (priority 1, her mobile only), Mr Nowak (no contact: safeguarding),
    no emergency contact; a DSL and an office member of staff, both with an e-mail address."""
    school = School(name="Oakfield Primary", phone="01632 960000", attendance_officer="Mrs Khan")
    mum = Adult(forename="Anna", surname="Nowak", title="Mrs", channel_order="sms,email,voice")
    mum.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=MUM_MOBILE, sms_capable=True))
    dad = Adult(forename="Piotr", surname="Nowak", title="Mr", channel_order="sms,voice")
    if dad_mobile:
        dad.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=dad_mobile, sms_capable=True))
    ola = Pupil(upn="A123456789012", forename="Ola", surname="Nowak", school=school)
    ola.links.append(PupilContact(adult=mum, relationship_code="PAM", priority=1, parental_responsibility=True,
                                  lives_with_pupil=True,
                                  restriction=Restriction.NO_CONTACT if mum_restricted else Restriction.NONE))
    ola.links.append(PupilContact(adult=dad, relationship_code="PAF", priority=2, parental_responsibility=True,
                                  lives_with_pupil=False, restriction=Restriction.NO_CONTACT))
    session.add(ola)
    session.add(StaffUser(username="dsl", display_name="Ms Patel", email=DSL_EMAIL, role=StaffRole.DSL,
                          password_hash="x"))
    session.add(StaffUser(username="office", display_name="Mr Jones", email=OFFICE_EMAIL, role=StaffRole.OFFICE,
                          password_hash="x"))
    session.flush()
    session.add(AttendanceMark(pupil_id=ola.id, date=DAY, session="AM", code="N"))
    session.commit()
    return Nowaks(ola.id, mum.id, dad.id)


def wait_for_state(session: Session, number: str, state: OutboxState, seconds: float = 15.0) -> OutboxMessage:
    """The status callbacks arrive on their own thread: wait until the row for ``number`` reaches ``state``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        session.expire_all()
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == number)
                              .order_by(OutboxMessage.id)).first()
        if row is not None and row.state is state:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no {state.value} message to {number}")


def the_case(session: Session) -> AbsenceCase:
    session.expire_all()
    return session.scalars(select(AbsenceCase)).one()


def test_a_number_failing_at_0915_alerts_the_dsl_within_one_tick(session: Session, live: Live) -> None:
    add_nowaks(session)
    live.twilio.state.inject_async_error(MUM_MOBILE, 30006)  # type: ignore[attr-defined]  # a landline
    start_followup(session, DAY)
    live.drain()
    assert len(live.texts_to(MUM_MOBILE)) == 1  # the text went out at 09:15 ...
    failed = wait_for_state(session, MUM_MOBILE, OutboxState.FAILED)  # ... and its status callback failed it
    assert failed.error_reason == "not_mobile"
    assert live.mails_to(DSL_EMAIL) == []

    live.tick()  # 09:15:05: the next scheduler tick, not the ladder's last step at 11:45
    case = the_case(session)
    assert case.unreachable_at == at(9, 15).replace(second=5)
    assert case.unreachable_reasons == ["Mrs Nowak: number failed (not a mobile), no e-mail on file",
                                        f"Mr Nowak: {SAFEGUARDING}", "no emergency contact on file"]
    # The ladder stands where it was: not closed, not moved on, so it can resume.
    assert (case.state, case.current_step) == (CaseState.OPEN, 1)
    alert = session.scalars(select(DslAlert)).one()
    assert alert.reason is not None and "Mrs Nowak: number failed (not a mobile)" in alert.reason
    [mail] = live.mails_to(DSL_EMAIL)
    assert "Nobody can be reached" in mail and "Ola Nowak" in mail
    assert f"Mr Nowak: {SAFEGUARDING}" in mail and "no emergency contact on file" in mail
    assert live.mails_to(OFFICE_EMAIL) == []  # the alert goes to the DSL only

    live.tick()  # still nobody: no second alert
    assert len(live.mails_to(DSL_EMAIL)) == 1


def test_a_family_of_restricted_adults_alerts_the_dsl_at_once_and_sends_nothing(
        session: Session, live: Live) -> None:
    add_nowaks(session, mum_restricted=True, dad_mobile=DAD_MOBILE)
    start_followup(session, DAY)
    live.drain()
    assert not live.sent_anything()
    case = the_case(session)
    assert case.unreachable_at == at(9, 15)
    assert case.unreachable_reasons == [f"Mrs Nowak: {SAFEGUARDING}", f"Mr Nowak: {SAFEGUARDING}",
                                        "no emergency contact on file"]
    [mail] = live.mails_to(DSL_EMAIL)
    assert mail.count(SAFEGUARDING) == 2
    for detail in ("no_contact", "no contact order", "restricted", MUM_MOBILE, DAD_MOBILE):
        assert detail not in mail  # never more than "no contact allowed (safeguarding)"
    assert live.mails_to(OFFICE_EMAIL) == []
    parent_rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind != "dsl_alert")).all()
    assert parent_rows == []

    # The rest of the ladder sends nothing either, and the DSL is not e-mailed twice when it runs out.
    for minutes in (40, 50, 60):
        live.clock.advance(minutes=minutes)
        live.tick()
    assert not live.sent_anything()
    assert the_case(session).state is CaseState.DSL_ALERTED
    assert len(live.mails_to(DSL_EMAIL)) == 1


def test_adding_a_working_number_resumes_the_ladder(session: Session, live: Live) -> None:
    nowaks = add_nowaks(session)
    live.twilio.state.inject_error(MUM_MOBILE, 21614)  # type: ignore[attr-defined]  # refused: not a mobile
    start_followup(session, DAY)
    live.drain()
    live.tick()
    assert the_case(session).unreachable_at is not None
    assert len(live.mails_to(DSL_EMAIL)) == 1

    # 09:30: the office adds Mrs Nowak's new mobile (as the Family page does); the next tick resumes the ladder.
    live.clock.advance(minutes=15)
    session.add(ContactPoint(adult_id=nowaks.mum, kind=ContactKind.MOBILE, value=NEW_MOBILE, sms_capable=True,
                             position=1))
    session.commit()
    live.tick()
    [text] = live.texts_to(NEW_MOBILE)  # step 1 again, by text, on the new number
    assert "Ola" in text.params["Body"]  # type: ignore[attr-defined]
    case = the_case(session)
    assert (case.unreachable_at, case.state, case.current_step) == (None, CaseState.OPEN, 1)
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == NEW_MOBILE)).one()
    assert (row.step, row.kind, row.adult_id) == (1, "absence_first_day", nowaks.mum)
    assert row.state in (OutboxState.ACCEPTED, OutboxState.DELIVERED)
    assert case.next_step_at == at(10, 10) + timedelta(seconds=10)  # 40 minutes after it ran again, 09:30:10

    # The ladder goes on from there at its usual gap: step 2 forty minutes later, again on the new number.
    live.clock.advance(minutes=40)
    live.tick()
    step2 = session.scalars(select(OutboxMessage).where(OutboxMessage.step == 2)).all()
    assert [(r.adult_id, r.to_address) for r in step2] == [(nowaks.mum, NEW_MOBILE)]
    assert len(live.mails_to(DSL_EMAIL)) == 1  # the DSL heard once, when nobody could be reached
