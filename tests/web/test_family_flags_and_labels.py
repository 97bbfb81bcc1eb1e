"""The Family page: relationship labels (never bare codes), a Minicom shown as such, and the pupil flags the
guidance relies on (bereaved, long-term illness, support plan), set by the attendance lead or the DSL, audited."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Adult, AuditEntry, ContactKind, ContactPoint, Pupil, PupilContact, StaffRole
from tests.web.conftest import SeededFamily, sign_in

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def _cells(html: str) -> list[str]:
    return [cell.strip() for cell in re.findall(r"<td>([^<]*)</td>", html)]


def test_family_page_shows_relationship_labels_never_bare_codes(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    link = session.scalars(select(PupilContact).where(PupilContact.adult_id == family.mother_id)).first()
    assert link is not None
    link.relationship_code = "STM"
    session.commit()
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    cells = _cells(client.get(f"/families/{family.pupil_id}").text)
    assert "Step Mother" in cells and "Father" in cells
    assert not {"STM", "PAM", "PAF"} & set(cells)


def test_family_page_shows_a_minicom_as_a_textphone_never_called_or_texted(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    session.add(ContactPoint(adult_id=family.mother_id, kind=ContactKind.MINICOM, value="+441632960552",
                             sms_capable=False, position=5))
    session.commit()
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}").text
    assert "Minicom textphone" in page and "never called or texted" in page and "+441632960552" in page


@pytest.mark.parametrize("role", [StaffRole.ATTENDANCE_LEAD, StaffRole.DSL])
def test_attendance_lead_and_dsl_set_pupil_flags_audited(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session,
        role: StaffRole) -> None:
    token = sign_in(client, staff_accounts[role])
    assert f"/families/{family.pupil_id}/pupils/{family.sibling_id}/flags" in client.get(
        f"/families/{family.pupil_id}").text
    response = client.post(f"/families/{family.pupil_id}/pupils/{family.sibling_id}/flags",
                           data={"bereaved": "true", "support_plan": "true", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    jan = session.get(Pupil, family.sibling_id)
    assert jan is not None and (jan.bereaved, jan.long_term_ill, jan.support_plan) == (True, False, True)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "change_pupil_flags")).one()
    assert audit.entity_id == family.sibling_id
    assert audit.detail == {"bereaved": {"from": False, "to": True}, "support_plan": {"from": False, "to": True}}
    page = client.get(f"/families/{family.pupil_id}").text
    assert "Bereaved: no attendance nudges" in page
    cleared = client.post(f"/families/{family.pupil_id}/pupils/{family.sibling_id}/flags",
                          data={"csrf_token": token}, follow_redirects=False)
    assert cleared.status_code == 303
    session.expire_all()
    assert session.get(Pupil, family.sibling_id).bereaved is False  # type: ignore[union-attr]


def test_office_cannot_set_pupil_flags(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    assert "/flags" not in client.get(f"/families/{family.pupil_id}").text
    response = client.post(f"/families/{family.pupil_id}/pupils/{family.pupil_id}/flags",
                           data={"bereaved": "true", "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Pupil, family.pupil_id).bereaved is False  # type: ignore[union-attr]


def test_flags_of_a_pupil_outside_the_family_are_not_found(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    stranger = Pupil(upn="Z123456789012", forename="Other", surname="Child")
    session.add(stranger)
    session.commit()
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    response = client.post(f"/families/{family.pupil_id}/pupils/{stranger.id}/flags",
                           data={"bereaved": "true", "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 404


def test_dsl_leaves_a_live_in_step_father_out_of_attendance_messages_audited(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    step = Adult(forename="Steven", surname="Clarke")
    session.add(step)
    session.flush()
    link = PupilContact(pupil_id=family.pupil_id, adult_id=step.id, relationship_code="STF", priority=3,
                        lives_with_pupil=True)
    session.add(link)
    session.commit()
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}").text
    assert "included in attendance messages" in page and "/household-carer" not in page
    refused = client.post(f"/families/{family.pupil_id}/links/{link.id}/household-carer",
                          data={"in_audience": "false", "csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    assert f"/links/{link.id}/household-carer" in client.get(f"/families/{family.pupil_id}").text
    saved = client.post(f"/families/{family.pupil_id}/links/{link.id}/household-carer",
                        data={"in_audience": "false", "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303
    session.expire_all()
    assert session.get(PupilContact, link.id).household_carer_in_audience is False  # type: ignore[union-attr]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "change_household_carer")).one()
    assert audit.detail["from"] is True and audit.detail["to"] is False
    assert "left out of attendance messages by the DSL" in client.get(f"/families/{family.pupil_id}").text
