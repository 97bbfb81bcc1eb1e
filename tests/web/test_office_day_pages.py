"""Office-day pages without a browser: family search, the 404 page's navigation, Stop messages asking for a
reason and a confirmation, the DSL's approval queue, language names and the audit log as sentences."""

from __future__ import annotations

import warnings

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, AuditEntry, CaseState, Pupil, PupilContact, Restriction, StaffRole
from gateway.web.labels import delivery_state, language_name

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from .conftest import SeededFamily, sign_in


def test_family_search_by_name_parent_phone_or_upn_whatever_the_case_or_accents(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    session.add(Pupil(upn="C123456789012", forename="Zoë", surname="Łukasiewicz", year_group="2"))
    session.commit()
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    for query, expected in (("zoe lukasiewicz", "Zoë Łukasiewicz"), ("AMIRA nowak", "Amira Nowak"),
                            ("anna", "Jan Nowak"), ("07700 900123", "Amira Nowak"), ("a123456789013", "Jan Nowak")):
        page = client.get("/families", params={"q": query}).text
        assert f">{expected}</a>" in page, query
    assert "phone of Anna Nowak" in client.get("/families", params={"q": "+44 7700 900123"}).text
    assert "Nobody matches" in client.get("/families", params={"q": "nobody-at-all"}).text


def test_the_404_page_keeps_the_navigation(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert 'aria-label="Main"' in response.text and 'href="/families"' in response.text


def _state(session: Session, case_id: int) -> CaseState:
    session.expire_all()
    case = session.get(AbsenceCase, case_id)
    assert case is not None
    return case.state


def test_stop_messages_needs_a_reason_and_a_confirmation(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    client.post("/today/start", data={"csrf_token": token, "date": "2026-11-23"})
    case = session.scalars(select(AbsenceCase)).one()
    url = f"/cases/{case.id}/close"
    client.post(url, data={"csrf_token": token, "reason": "phoned_office"})  # no confirmation
    client.post(url, data={"csrf_token": token, "reason": "staff", "confirm": "yes"})  # no note for "another"
    assert _state(session, case.id) is not CaseState.CLOSED
    client.post(url, data={"csrf_token": token, "reason": "phoned_office", "confirm": "yes"})
    assert _state(session, case.id) is CaseState.CLOSED
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "close_case")).one()
    assert entry.detail == {"reason": "phoned_office"}
    page = client.get("/?date=2026-11-23&show=done").text
    assert "stopped: the parent phoned the office" in page


def test_the_dsl_queue_is_for_the_dsl_and_approves_every_pending_link_of_an_adult(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    for pupil_id in (family.pupil_id, family.sibling_id):
        link = session.scalars(select(PupilContact).where(PupilContact.pupil_id == pupil_id,
                                                          PupilContact.adult_id == family.father_id)).first()
        if link is None:
            session.add(PupilContact(pupil_id=pupil_id, adult_id=family.father_id, relationship_code="PAF",
                                     priority=2, parental_responsibility=True, restriction=Restriction.DSL_APPROVAL))
        else:
            link.restriction = Restriction.DSL_APPROVAL
    session.commit()
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    assert client.get("/dsl/approvals").status_code == 403
    assert client.post(f"/dsl/approvals/{family.father_id}", data={"csrf_token": token}).status_code == 403
    client.cookies.clear()
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    page = client.get("/dsl/approvals").text
    assert "Father of Amira Nowak" in page and "Father of Jan Nowak" in page
    assert "Approve contact with Piotr Nowak for Amira and Jan" in page
    family_page = client.get(f"/families/{family.pupil_id}").text
    assert "awaiting DSL approval" in family_page
    client.post(f"/dsl/approvals/{family.father_id}", data={"csrf_token": token})
    session.expire_all()
    links = session.scalars(select(PupilContact).where(PupilContact.adult_id == family.father_id)).all()
    assert len(links) == 2 and all(link.dsl_approved_at is not None for link in links)
    assert "Nobody is awaiting your approval." in client.get("/dsl/approvals").text
    audit = client.get("/audit").text
    assert "approved contact with Mr Nowak for Amira and Jan" in audit and "{&#34;" not in audit


def test_codes_read_as_words() -> None:
    assert [language_name(c) for c in ("so", "pa", "pl", "en-GB", "POL", "pt-BR")] == [
        "Somali", "Punjabi", "Polish", "English", "Polish", "Portuguese (Brazil)"]
    assert delivery_state("accepted") == "with the phone company"
    assert delivery_state("failed", "not_mobile") == "failed: not a mobile"
