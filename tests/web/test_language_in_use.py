"""The family page shows the language the gateway will actually use, previews in it, and a Preferences save
changes only what the form changed (never writes en-GB over a language taken from the child)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import Adult, Literacy, OutboxMessage, StaffRole
from tests.web.conftest import SeededFamily, sign_in


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def _no_language_of_her_own(session: Session, family: SeededFamily) -> None:
    mother = session.get(Adult, family.mother_id)
    assert mother is not None
    mother.language = None  # taken from the children's home language (Polish)
    session.commit()


def test_the_page_says_which_language_and_why(client: TestClient, staff_accounts: dict[StaffRole, str],
                                              family: SeededFamily, session: Session) -> None:
    _no_language_of_her_own(session, family)
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}").text
    assert "Polish, from Amira&#39;s home language" in page or "Polish, from Amira's home language" in page


def test_preview_and_send_use_the_childs_language_for_a_parent_without_one(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    _no_language_of_her_own(session, family)
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    preview = client.post(f"/families/{family.pupil_id}/preview",
                          data={"adult_id": family.mother_id, "kind": "absence_followup", "channel": ""},
                          headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert preview.status_code == 200 and "sms · pl" in preview.text
    sent = client.post(f"/families/{family.pupil_id}/send",
                       data={"adult_id": family.mother_id, "kind": "absence_followup", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.mother_id)).one()
    assert (row.channel, row.locale) == ("sms", "pl")


def test_saving_only_the_window_changes_only_the_window(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    _no_language_of_her_own(session, family)
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}").text
    assert f'id="lang-{family.mother_id}" name="language" value=""' in page  # the form shows no default
    # The form as the page fills it in, with only the window changed.
    response = client.post(f"/families/{family.pupil_id}/adults/{family.mother_id}/preferences",
                           data={"csrf_token": token, "language": "", "literacy": "standard",
                                 "channel_order": ["sms", "email", "voice"], "window_start": "09:00",
                                 "window_end": "17:00"}, follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    mother = session.get(Adult, family.mother_id)
    assert mother is not None
    assert mother.language is None  # not en-GB: her texts still go in Polish
    assert (mother.window_start, mother.window_end) == (time(9, 0), time(17, 0))
    assert mother.literacy is Literacy.STANDARD and mother.channel_order == "sms,email,voice"
