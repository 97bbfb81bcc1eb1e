"""The staff pages hold the line too: a restricted adult's address cannot be typed onto another record (the
DSL may override, audited, and it still never receives anything); an approval never comes back after a change
of restriction; a restricted adult's message is the DSL's alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from gateway import clock
from gateway.models import (
    AuditEntry,
    ContactKind,
    ContactPoint,
    InboundMessage,
    OutboxMessage,
    PupilContact,
    Restriction,
    StaffRole,
)
from gateway.safeguarding import blocked_reason
from tests.web.conftest import SeededFamily, sign_in

FATHER_MOBILE = "+447700900456"


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def _add_contact(client: TestClient, family: SeededFamily, token: str, value: str, **extra: str) -> str:
    response = client.post(f"/families/{family.pupil_id}/adults/{family.mother_id}/contact-points",
                           data={"value": value, "csrf_token": token, **extra}, follow_redirects=False)
    assert response.status_code == 303
    page: str = client.get(response.headers["location"]).text
    return page


def _mothers_points(session: Session, family: SeededFamily) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(ContactPoint.value).where(ContactPoint.adult_id == family.mother_id)))


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_office_cannot_add_restricted_fathers_mobile_to_mothers_record(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = _add_contact(client, family, token, "07700 900456")  # his number, typed the way offices type
    assert _mothers_points(session, family) == [family.mother_number]
    assert "Not added" in page and "restricted" in page
    refused = _audit(session, "refuse_contact_point")
    assert [(e.entity_id, e.detail["reason"]) for e in refused] == [(family.mother_id, "restricted")]
    assert FATHER_MOBILE not in str(refused[0].detail)  # the audit never carries the address


def test_office_ticking_the_dsl_override_is_ignored(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ADMIN])
    _add_contact(client, family, token, "+44 7700 900456", dsl_override="true")
    assert _mothers_points(session, family) == [family.mother_number]


def test_restricted_fathers_email_in_other_capitals_is_refused(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    session.add(ContactPoint(adult_id=family.father_id, kind=ContactKind.EMAIL, value="Piotr.Nowak@Example.org",
                             position=1))
    session.commit()
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = _add_contact(client, family, token, "PIOTR.NOWAK@example.ORG")
    assert "Not added" in page
    assert _mothers_points(session, family) == [family.mother_number]
    # An address nobody restricted holds is added as before.
    _add_contact(client, family, token, "anna.nowak@example.org")
    assert "anna.nowak@example.org" in _mothers_points(session, family)


def test_dsl_override_is_audited_and_sending_to_it_stays_blocked(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    page = _add_contact(client, family, token, "07700900456", dsl_override="true")
    assert FATHER_MOBILE in _mothers_points(session, family)
    assert "stays blocked" in page
    assert "blocked: a restricted contact also holds it" in page  # and the family page keeps saying so
    added = _audit(session, "add_contact_point")
    assert len(added) == 1 and added[0].detail["dsl_override"] is True
    assert added[0].detail["held_by_restricted"] == "restricted"
    # The mother's own number goes; the barred father's is the only one left on her record.
    own = session.scalars(select(ContactPoint).where(ContactPoint.value == family.mother_number)).one()
    session.delete(own)
    session.commit()
    sent = client.post(f"/families/{family.pupil_id}/send",
                       data={"adult_id": family.mother_id, "kind": "fortnightly_checkin", "channel": "sms",
                             "csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 303
    assert "Not sent" in client.get(sent.headers["location"]).text
    session.expire_all()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == FATHER_MOBILE)).all() == []


def test_reimport_does_not_restore_old_dsl_approval_through_the_family_page(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    url = f"/families/{family.pupil_id}/links/{family.father_link_id}/restriction"

    def set_restriction(value: str, approve: bool = False) -> PupilContact:
        data = {"restriction": value, "csrf_token": token, **({"approve": "true"} if approve else {})}
        assert client.post(url, data=data, follow_redirects=False).status_code == 303
        session.expire_all()
        link = session.get(PupilContact, family.father_link_id)
        assert link is not None
        return link

    approved = set_restriction("dsl_approval", approve=True)
    first_approval = approved.dsl_approved_at
    assert first_approval is not None and blocked_reason(session, family.father_id) is None
    # Saving the same restriction again (the box still ticked) keeps the DSL's original act, not a new one.
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 10, 30, tzinfo=UTC)))
    assert set_restriction("dsl_approval", approve=True).dsl_approved_at == first_approval
    # No contact, then approval-needed again: the earlier approval does not come back.
    assert set_restriction("no_contact", approve=True).dsl_approved_at is None
    back = set_restriction("dsl_approval")
    assert back.restriction is Restriction.DSL_APPROVAL and back.dsl_approved_at is None
    assert blocked_reason(session, family.father_id) == "awaiting_dsl_approval"


def _fathers_text(session: Session, body: str) -> int:
    from gateway.pipeline.replies import process_inbound_message, record_inbound

    inbound_id, _ = record_inbound(session, provider_sid="SM-father", from_number=FATHER_MOBILE,
                                   to_number="+447700900000", body=body)
    session.commit()
    process_inbound_message(inbound_id)
    session.expire_all()
    return inbound_id


def test_restricted_fathers_text_is_shown_to_the_dsl_only(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    inbound_id = _fathers_text(session, "George is ill today")
    office = sign_in(client, staff_accounts[StaffRole.OFFICE])
    assert "George is ill today" not in client.get("/inbox").text
    assert "George is ill today" not in client.get(f"/families/{family.pupil_id}").text
    assert client.get("/dsl/messages").status_code == 403
    confirm = client.post(f"/inbox/{inbound_id}/confirm", data={"code": "I", "csrf_token": office},
                          follow_redirects=False)
    assert confirm.status_code == 404
    client.post("/logout", data={"csrf_token": office})
    client.cookies.clear()
    dsl = sign_in(client, staff_accounts[StaffRole.DSL])
    assert "1 message from restricted contacts" in client.get("/inbox").text
    page = client.get("/dsl/messages").text
    assert "George is ill today" in page and "Piotr Nowak" in page and "no contact" in page
    done = client.post(f"/dsl/messages/{inbound_id}/done", data={"csrf_token": dsl}, follow_redirects=False)
    assert done.status_code == 303
    session.expire_all()
    message = session.get(InboundMessage, inbound_id)
    assert message is not None and message.handled and message.confirmed_code is None
    assert [e.entity_id for e in _audit(session, "dsl_message_dealt_with")] == [inbound_id]
