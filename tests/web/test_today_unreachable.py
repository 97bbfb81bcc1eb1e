"""Today shows the families nobody can be reached for first, with what is missing per adult and a link to fix
it (issue 20). The follow-up is started through the page; the real pipeline decides (no worker: messages stay
queued)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    AbsenceCase,
    Adult,
    AttendanceMark,
    CaseState,
    ContactKind,
    ContactPoint,
    Pupil,
    PupilContact,
    StaffRole,
)
from tests.web.conftest import ABSENCE_DAY, SeededFamily, sign_in

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def add_reachable_family(session: Session) -> None:
    """The Abbotts (sorted before Nowak by surname): one absent child, a mother with a working mobile."""
    pupil = Pupil(upn="B123456789012", forename="Zoe", surname="Abbott")
    mother = Adult(forename="Jo", surname="Abbott", title="Ms", channel_order="sms")
    mother.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900999", sms_capable=True))
    pupil.links.append(PupilContact(adult=mother, relationship_code="PAM", priority=1, parental_responsibility=True))
    session.add(pupil)
    session.flush()
    session.add(AttendanceMark(pupil_id=pupil.id, date=ABSENCE_DAY, session="AM", code="N"))
    session.commit()


def test_today_lists_unreachable_families_first_with_what_is_missing(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    # Mrs Nowak's only number is gone and Mr Nowak may not be contacted: nobody is left for Amira and Jan.
    session.execute(delete(ContactPoint).where(ContactPoint.adult_id == family.mother_id))
    session.commit()
    add_reachable_family(session)
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    response = client.post("/today/start", data={"csrf_token": token, "date": "2026-11-23"}, follow_redirects=False)
    assert response.status_code == 303

    session.expire_all()
    nowak = session.scalars(select(AbsenceCase).where(AbsenceCase.unreachable_at.is_not(None))).one()
    assert {p.id for p in nowak.pupils} == {family.pupil_id, family.sibling_id}
    abbott = session.scalars(select(AbsenceCase).where(AbsenceCase.id != nowak.id)).one()
    abbott.state = CaseState.ESCALATED  # as if the ladder had reached the emergency contacts: listed early too
    session.commit()
    page = client.get("/?date=2026-11-23").text
    assert "1 nobody can be reached" in page
    block = page[page.index("Nobody can be reached."):]
    assert page.index("Amira") < page.index("Zoe")  # before even an escalated family
    assert "Mrs Nowak: no phone number or e-mail on file" in block
    assert "Mr Nowak: no contact allowed (safeguarding)" in block
    assert "no emergency contact on file" in block
    assert f'href="/families/{family.pupil_id}">Fix the contact details' in block
    assert "no_contact" not in page and "no contact order" not in page
