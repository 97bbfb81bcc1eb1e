"""Casework on the staff pages: call-back tasks on Today, one code per pupil and per session in the Inbox,
staff answering a reply in their own words (with the safeguarding checks), welfare tasks for the DSL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    AbsenceCase,
    CaseState,
    CaseTask,
    ConfirmedCode,
    DslAlert,
    OutboxMessage,
    OutboxState,
    PupilContact,
    Restriction,
    StaffRole,
    TaskKind,
)
from gateway.operations.reasons import reason_rows
from tests.pipeline.test_translation import TRANSLATED, FakeLibreTranslate, libretranslate
from tests.web.conftest import ABSENCE_DAY, SeededFamily, sign_in
from tests.web.test_pages import parent_replies, start_followup

__all__ = ["libretranslate"]  # the fake LibreTranslate, shared with tests/pipeline/test_translation.py


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def test_a_call_back_request_is_a_task_on_today_not_a_green_replied(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    start_followup(client, token)
    parent_replies(client, "Who is this?")
    page = client.get("/?date=2026-11-23").text
    assert "Call Mrs Nowak back — asked at 09:30" in page and 'id="case-tasks"' in page
    assert "Asked to be called back" in page and ">Replied<" not in page
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all() == []
    task = session.scalars(select(CaseTask)).one()
    response = client.post(f"/tasks/{task.id}/done", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    assert session.get(CaseTask, task.id).done_at is not None  # type: ignore[union-attr]
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.CLOSED
    assert 'id="case-tasks"' not in client.get("/?date=2026-11-23").text  # nothing left to do


def test_recording_the_reason_in_the_inbox_finishes_the_call_back(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    start_followup(client, token)
    inbound_id = parent_replies(client, "Prosze zadzwonic")
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.CALL_BACK
    assert "Asked to be called back" in client.get("/inbox").text
    response = client.post(f"/inbox/{inbound_id}/confirm", data={
        "csrf_token": token, "codes": [f"{family.pupil_id}:AM:I", f"{family.sibling_id}:AM:I"]},
        follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    assert session.scalars(select(CaseTask)).one().done_at is not None
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.CLOSED


def test_one_code_per_pupil_and_session_prefilled_for_the_named_child(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ATTENDANCE_LEAD])
    start_followup(client, token)
    inbound_id = parent_replies(client, "Amira is sick, Jan will come at 11")
    inbox = client.get("/inbox").text
    assert f'value="{family.pupil_id}:AM:I" selected' in inbox  # Amira: I pre-filled
    assert f'value="{family.sibling_id}:AM:" selected' in inbox  # Jan: nothing suggested
    response = client.post(f"/inbox/{inbound_id}/confirm", data={
        "csrf_token": token, "codes": [f"{family.pupil_id}:AM:I", f"{family.pupil_id}:PM:M",
                                       f"{family.sibling_id}:AM:", f"{family.sibling_id}:PM:"]},
        follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    confirmed = {(c.pupil_id, c.session): c.code for c in session.scalars(select(ConfirmedCode))}
    assert confirmed == {(family.pupil_id, "AM"): "I", (family.pupil_id, "PM"): "M"}
    rows = {(r[0], r[2]): (r[3], r[7]) for r in reason_rows(session, ABSENCE_DAY)}
    assert rows == {("A123456789012", "AM"): ("I", "I"), ("A123456789012", "PM"): ("I", "M"),
                    ("A123456789013", "AM"): ("", "")}
    bad = client.post(f"/inbox/{inbound_id}/confirm", data={"csrf_token": token, "codes": ["999999:AM:I"]},
                      follow_redirects=False)
    assert bad.status_code == 422


def test_staff_answer_a_reply_through_the_outbox_with_a_segment_counter(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    start_followup(client, token)
    inbound_id = parent_replies(client, "Amira is ill")
    inbox = client.get("/inbox").text
    assert 'data-segments="segments-' in inbox and '<script src="/static/segments.js"' in inbox
    assert "Add a translation" not in inbox  # no translation provider configured
    assert "segments" in client.get("/static/segments.js").text
    response = client.post(f"/inbox/{inbound_id}/answer", data={
        "csrf_token": token, "text": "Thank you, get well soon Amira!"}, follow_redirects=False)
    assert response.status_code == 303
    answer = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff_answer")).one()
    assert (answer.channel, answer.to_address, answer.adult_id) == ("sms", family.mother_number, family.mother_id)
    assert answer.text == "Thank you, get well soon Amira!" and answer.state is OutboxState.QUEUED

    # The DSL restricts the mother after she wrote: staff can no longer answer her.
    for link in session.scalars(select(PupilContact).where(PupilContact.adult_id == family.mother_id)):
        link.restriction = Restriction.NO_CONTACT
    session.commit()
    refused = client.post(f"/inbox/{inbound_id}/answer", data={"csrf_token": token, "text": "Are you there?"})
    assert "Not sent" in refused.text
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff_answer")).all()) == 1


def test_welfare_concern_is_flagged_and_only_the_dsl_closes_it(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    start_followup(client, token)
    parent_replies(client, "Amira jest w szpitalu")
    task = session.scalars(select(CaseTask)).one()
    assert task.kind is TaskKind.WELFARE
    assert "Welfare concern in a reply from Mrs Nowak at 09:30" in client.get("/?date=2026-11-23").text
    assert "Welfare concern: the DSL has been alerted" in client.get("/inbox").text
    alert = session.scalars(select(DslAlert)).one()  # the DSL sees it in the app (and by e-mail, with an address)
    assert alert.concern is not None and "szpital" in alert.concern and "Amira jest" not in alert.concern
    assert client.post(f"/tasks/{task.id}/done", data={"csrf_token": token}).status_code == 403


def test_with_a_translation_provider_staff_check_and_send_the_translation_alongside(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session,
        libretranslate: FakeLibreTranslate, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import get_settings

    monkeypatch.setenv("GATEWAY_TRANSLATE_URL", libretranslate.url)
    get_settings.cache_clear()
    try:
        token = sign_in(client, staff_accounts[StaffRole.OFFICE])
        start_followup(client, token)
        inbound_id = parent_replies(client, "Amira jest chora")
        assert "Add a translation" in client.get("/inbox").text
        preview = client.post(f"/inbox/{inbound_id}/answer", data={
            "csrf_token": token, "text": "Amira: get well soon", "action": "translate"}).text
        assert "In Polish (machine translation" in preview and TRANSLATED in preview
        assert ("Amira: get well soon", "en", "pl") in [(r["q"], r["source"], r["target"])
                                                       for r in libretranslate.requests]
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff_answer")).all() == []
        sent = client.post(f"/inbox/{inbound_id}/answer", data={
            "csrf_token": token, "text": "Amira: get well soon", "translation": "Amira: szybkiego powrotu do zdrowia",
            "action": "send"}, follow_redirects=False)
        assert sent.status_code == 303
        answer = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff_answer")).one()
        assert answer.text == "Amira: get well soon\n\nAmira: szybkiego powrotu do zdrowia"
    finally:
        get_settings.cache_clear()
