"""The office's "Contacts to fix" page: every adult the gateway cannot reach as their preferences ask."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gateway.models import ContactKind, ContactPoint, StaffRole
from tests.web.conftest import SeededFamily, sign_in

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def test_contacts_to_fix_lists_a_landline_only_parent_and_links_to_the_family(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    session.execute(delete(ContactPoint).where(ContactPoint.adult_id == family.mother_id))
    session.add(ContactPoint(adult_id=family.mother_id, kind=ContactKind.LANDLINE, value="+441632960001"))
    session.commit()
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get("/contacts/problems")
    assert page.status_code == 200
    assert "Contacts to fix" in page.text and "Anna Nowak" in page.text
    assert "landline only, but texts are preferred" in page.text
    assert f'href="/families/{family.pupil_id}#adult-{family.mother_id}"' in page.text
    assert "Piotr" not in page.text  # restricted by the DSL: not the office's to fix


def test_contacts_to_fix_says_so_when_everyone_can_be_reached(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get("/contacts/problems").text
    assert "Every adult can be reached as their preferences ask." in page
