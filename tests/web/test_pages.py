"""The staff pages against the real pipeline (no worker: messages stay queued; replies are processed by
calling the pipeline's own handler, as the worker would)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.twilio_signature import compute_signature
from gateway import clock
from gateway.config import get_settings
from gateway.models import (
    AbsenceCase,
    AuditEntry,
    CaseState,
    HalfTerm,
    InboundMessage,
    OutboxMessage,
    StaffRole,
)
from tests.web.conftest import SeededFamily, TestClient, sign_in


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def start_followup(client: TestClient, token: str) -> None:
    response = client.post("/today/start", data={"csrf_token": token, "date": "2026-11-23"}, follow_redirects=False)
    assert response.status_code == 303


def parent_replies(client: TestClient, body: str, sid: str = "SM" + "a" * 32) -> int:
    from gateway.pipeline.replies import process_inbound_message

    params = {"MessageSid": sid, "From": "+447700900123", "To": "+447700900000", "Body": body}
    url = "http://127.0.0.1:8000/webhooks/twilio/sms"
    _, auth_token = get_settings().twilio_credentials()  # this install's sandbox token
    response = client.post("/webhooks/twilio/sms", data=params,
                           headers={"X-Twilio-Signature": compute_signature(auth_token, url, params)})
    assert response.status_code == 200
    from gateway.db import session_scope

    with session_scope() as db:
        inbound_id = db.scalars(select(InboundMessage.id).where(InboundMessage.provider_sid == sid)).one()
    process_inbound_message(inbound_id)
    return inbound_id


def test_today_lists_the_family_and_starts_follow_up(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                     family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get("/?date=2026-11-23").text
    assert "Amira Nowak" in page and "Jan Nowak" in page and "Start follow-up for 1 family" in page
    start_followup(client, token)
    case = session.scalars(select(AbsenceCase)).one()
    assert {p.id for p in case.pupils} == {family.pupil_id, family.sibling_id}
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).all()
    assert [m.adult_id for m in messages] == [family.mother_id]  # never the restricted father
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "start_followup")).one()
    assert audit.detail["cases_opened"] == 1
    progress = client.get("/today/progress?date=2026-11-23", headers={"HX-Request": "true"}).text
    assert "Contacted" in progress and "Anna Nowak" in progress


def test_a_reply_shows_on_today_and_in_the_inbox_and_staff_confirm_it(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ATTENDANCE_LEAD])
    start_followup(client, token)
    inbound_id = parent_replies(client, "Amira is ill with a temperature")
    today = client.get("/today/progress?date=2026-11-23").text
    assert "Replied" in today and "Amira is ill with a temperature" in today
    inbox = client.get("/inbox").text
    assert "Anna Nowak" in inbox and "Suggested code" in inbox
    reply = session.get(InboundMessage, inbound_id)
    assert reply is not None and reply.suggested_code == "I"
    response = client.post(f"/inbox/{inbound_id}/confirm", data={"code": "I", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    reply = session.get(InboundMessage, inbound_id)
    assert reply is not None and reply.confirmed_code == "I" and reply.handled
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.REPLIED
    assert "Waiting for a decision" in client.get("/inbox").text


def test_unknown_sender_is_listed_apart(client: TestClient, staff_accounts: dict[StaffRole, str],
                                        family: SeededFamily, session: Session) -> None:
    from gateway.pipeline.replies import process_inbound_message, record_inbound

    inbound_id, _ = record_inbound(session, provider_sid="SMunknown", from_number="+447700900999",
                                   to_number=None, body="who is this")
    session.commit()
    process_inbound_message(inbound_id)
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get("/inbox").text
    unmatched = page.split("Unmatched senders", 1)[1]
    assert "+447700900999" in unmatched and "who is this" in unmatched


def test_family_page_previews_and_sends_in_the_adults_language(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    page = client.get(f"/families/{family.pupil_id}").text
    assert "Anna" in page and "Restricted: never contacted" in page
    preview = client.post(f"/families/{family.pupil_id}/preview",
                          data={"adult_id": family.mother_id, "kind": "absence_followup", "channel": "sms"},
                          headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert preview.status_code == 200 and "sms · pl" in preview.text
    sent = client.post(f"/families/{family.pupil_id}/send",
                       data={"adult_id": family.mother_id, "kind": "absence_followup", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id == family.mother_id)).one()
    assert row.locale == "pl" and row.staff_id is not None


def test_family_page_refuses_to_message_a_restricted_adult(
        client: TestClient, staff_accounts: dict[StaffRole, str], family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ADMIN])
    response = client.post(f"/families/{family.pupil_id}/send",
                           data={"adult_id": family.father_id, "kind": "absence_followup", "csrf_token": token})
    assert response.status_code == 403
    assert session.scalars(select(OutboxMessage)).all() == []


def test_milestones_templates_and_sandbox_pages_render(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                       family: SeededFamily, session: Session) -> None:
    session.add(HalfTerm(name="Spring 1", start=datetime(2027, 1, 5).date(), end=datetime(2027, 2, 12).date()))
    session.commit()
    token = sign_in(client, staff_accounts[StaffRole.ATTENDANCE_LEAD])
    milestones = client.get("/milestones").text
    assert "Spring 1" in milestones and "Plan the nudges now" in milestones
    half_term_id = session.scalars(select(HalfTerm.id)).one()
    prepared = client.post(f"/milestones/{half_term_id}/prepare", data={"csrf_token": token},
                           follow_redirects=False)
    assert prepared.status_code == 303
    assert "Estimated SMS cost" in client.get("/milestones").text
    templates = client.get("/templates?kind=absence_first_day&locale=en-GB&channel=sms&variant=plain")
    assert templates.status_code == 200 and "Translation review" in templates.text
    assert client.get("/sandbox/phones").status_code == 200
    assert client.get("/sandbox/mailbox").status_code == 200
    assert client.get("/families?q=nowak").text.count("/families/") >= 2


def test_review_status_is_read_from_the_header_or_the_leading_comment(tmp_path: Path) -> None:
    from gateway.web.pages.message_templates import review_status

    header = tmp_path / "header.po"
    header.write_text('msgid ""\nmsgstr ""\n"Language: pl\\n"\n"X-Review-Status: reviewed by a native speaker\\n"\n')
    comment = tmp_path / "comment.po"
    comment.write_text('# X-Review-Status: draft, machine-drafted\nmsgid ""\nmsgstr ""\n')
    plain = tmp_path / "plain.po"
    plain.write_text('msgid ""\nmsgstr ""\n')
    assert review_status(header) == "reviewed by a native speaker"
    assert review_status(comment) == "draft, machine-drafted"
    assert review_status(plain) == "not stated"
    assert review_status(tmp_path / "missing.po") == "no catalog"


def test_only_the_dsl_takes_on_an_alerted_case(client: TestClient,
                                              staff_accounts: dict[StaffRole, str], family: SeededFamily,
                                              session: Session) -> None:
    from gateway.models import DslAlert, Pupil

    case = AbsenceCase(date=datetime(2026, 11, 23).date(), family_key=str(family.pupil_id),
                       state=CaseState.DSL_ALERTED, current_step=4)
    case.pupils = [session.get(Pupil, family.pupil_id)]  # type: ignore[list-item]
    session.add(case)
    session.flush()
    session.add(DslAlert(case_id=case.id))
    session.commit()
    office_token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    assert "The DSL has been alerted" in client.get("/?date=2026-11-23").text
    assert client.post(f"/cases/{case.id}/acknowledge", data={"csrf_token": office_token}).status_code == 403
    client.post("/logout", data={"csrf_token": office_token})
    token = sign_in(client, staff_accounts[StaffRole.DSL])
    assert "I am dealing with this family" in client.get("/?date=2026-11-23").text
    response = client.post(f"/cases/{case.id}/acknowledge", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    alert = session.scalars(select(DslAlert)).one()
    assert alert.acknowledged_at is not None
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "acknowledge_dsl_alert")).one()


def test_parent_phone_shows_what_a_call_said() -> None:
    from gateway.web.pages.sandbox import spoken_text

    twiml = ('<?xml version="1.0"?><Response><Say language="pl-PL">Dzie&#324; dobry, Amira</Say>'
             '<Gather action="x"><Say>Press 1 if Amira is ill</Say></Gather></Response>')
    assert spoken_text(twiml) == "Dzień dobry, Amira\nPress 1 if Amira is ill"
    assert spoken_text(None) == "Voice call (not answered yet)"
