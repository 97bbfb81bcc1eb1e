"""Roles and CSRF: who may change what, and that no state-changing form works without this session's token."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Adult, AuditEntry, PupilContact, Restriction, StaffRole
from tests.web.conftest import SeededFamily, TestClient, sign_in


def restriction_of(session: Session, link_id: int) -> Restriction:
    session.expire_all()
    link = session.get(PupilContact, link_id)
    assert link is not None
    return link.restriction


def audit_count(session: Session, action: str) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0)


def restriction_url(family: SeededFamily) -> str:
    return f"/families/{family.pupil_id}/links/{family.father_link_id}/restriction"


def test_office_user_cannot_change_a_restriction(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                 family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}")
    assert "only the DSL can change this" in page.text
    response = client.post(restriction_url(family), data={"restriction": "none", "csrf_token": token})
    assert response.status_code == 403
    assert restriction_of(session, family.father_link_id) is Restriction.NO_CONTACT
    assert audit_count(session, "change_restriction") == 0


def test_administrator_cannot_change_a_restriction_either(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                          family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ADMIN])
    response = client.post(restriction_url(family), data={"restriction": "none", "csrf_token": token})
    assert response.status_code == 403
    assert restriction_of(session, family.father_link_id) is Restriction.NO_CONTACT


def test_dsl_changes_a_restriction_and_it_is_audited(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                     family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    response = client.post(restriction_url(family), data={"restriction": "dsl_approval", "approve": "true",
                                                          "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert restriction_of(session, family.father_link_id) is Restriction.DSL_APPROVAL
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "change_restriction")).one()
    assert entry.entity == "pupil_contact" and entry.entity_id == family.father_link_id
    assert entry.detail["from"] == "no_contact" and entry.detail["to"] == "dsl_approval"
    assert entry.detail["approved"] is True


def test_post_without_csrf_token_is_refused(client: TestClient, staff_accounts: dict[StaffRole, str],
                                            family: SeededFamily, session: Session) -> None:
    sign_in(client, staff_accounts[StaffRole.DSL])
    missing = client.post(restriction_url(family), data={"restriction": "none"})
    wrong = client.post(restriction_url(family), data={"restriction": "none", "csrf_token": "x" * 43})
    header_wrong = client.post(restriction_url(family), data={"restriction": "none"},
                               headers={"X-CSRF-Token": "y" * 43})
    assert (missing.status_code, wrong.status_code, header_wrong.status_code) == (403, 403, 403)
    assert restriction_of(session, family.father_link_id) is Restriction.NO_CONTACT
    assert audit_count(session, "change_restriction") == 0


def test_csrf_token_in_header_is_accepted(client: TestClient, staff_accounts: dict[StaffRole, str],
                                          family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    response = client.post(restriction_url(family), data={"restriction": "none"}, headers={"X-CSRF-Token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert restriction_of(session, family.father_link_id) is Restriction.NONE


def test_a_token_from_another_session_is_refused(web_app: FastAPI, staff_accounts: dict[StaffRole, str],
                                                 family: SeededFamily, session: Session) -> None:
    with TestClient(web_app) as attacker, TestClient(web_app) as victim:
        attacker_token = sign_in(attacker, staff_accounts[StaffRole.OFFICE])
        sign_in(victim, staff_accounts[StaffRole.DSL])
        response = victim.post(restriction_url(family), data={"restriction": "none", "csrf_token": attacker_token})
    assert response.status_code == 403
    assert restriction_of(session, family.father_link_id) is Restriction.NO_CONTACT


def test_every_staff_form_checks_the_csrf_token(client: TestClient, web_app: FastAPI,
                                                staff_accounts: dict[StaffRole, str], family: SeededFamily) -> None:
    from gateway.web.pages import ROUTERS

    sign_in(client, staff_accounts[StaffRole.ADMIN])
    posts = [route.path for router in ROUTERS for route in router.routes
             if isinstance(route, APIRoute) and "POST" in route.methods]
    assert len(posts) >= 15
    for path in posts:
        concrete = path.replace("{pupil_id}", str(family.pupil_id)).replace("{adult_id}", str(family.mother_id))
        for name in ("{link_id}", "{point_id}", "{case_id}", "{inbound_id}", "{half_term_id}", "{batch_id}",
                     "{inset_id}", "{staff_id}"):
            concrete = concrete.replace(name, "1")
        assert client.post(concrete, data={}).status_code == 403, path
    for path in ("/logout", "/login"):
        assert client.post(path, data={"username": "x", "password": "y"}).status_code == 403, path


def test_preferences_change_is_audited_without_addresses(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                         family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    response = client.post(f"/families/{family.pupil_id}/adults/{family.mother_id}/preferences",
                           data={"language": "POL", "literacy": "plain", "channel_order": ["voice", "sms"],
                                 "window_start": "08:00", "window_end": "18:00", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    mother = session.get(Adult, family.mother_id)
    assert mother is not None and mother.channel_order == "voice,sms" and mother.literacy.value == "plain"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "update_preferences")).one()
    assert "+44" not in str(entry.detail)


def test_settings_are_for_administrators_only(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    assert client.get("/settings").status_code == 403
    assert client.get("/audit").status_code == 403


def test_administrator_edits_term_dates(client: TestClient, staff_accounts: dict[StaffRole, str],
                                        session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ADMIN])
    assert client.get("/settings").status_code == 200
    response = client.post("/settings/half-terms", data={"name": "Spring 1", "start": "2027-01-05",
                                                         "end": "2027-02-12", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert "Spring 1" in client.get("/settings").text
    assert audit_count(session, "add_half_term") == 1
