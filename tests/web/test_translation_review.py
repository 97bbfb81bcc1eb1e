"""Translation review with a database: the translator permission per language, approving on the web pages (the
text stored with who and when, audited, used by the renderer at once), the checks that refuse a text, the
Templates page and ``gateway translations`` (grant, status, export into a copy of the catalogs)."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AuditEntry, StaffRole, StaffTranslatorLocale, StaffUser, TranslationApproval
from gateway.rendering import render_message, sample_context
from gateway.rendering.approved_texts import invalidate_approved_texts
from gateway.rendering.catalogs import clear_catalog_cache
from gateway.rendering.review_status import clear_review_cache, review_value_of_file
from gateway.resources import locales_dir
from gateway.staff import create_staff
from gateway.translation_review import (
    TranslationReviewError,
    approve_translation,
    catalog_messages,
    draft_forms,
    grant_translator,
)

from .conftest import PASSWORD, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(autouse=True)
def fresh_approvals() -> Iterator[None]:
    """The renderer caches approvals per process: start and end each test without them."""
    invalidate_approved_texts()
    yield
    invalidate_approved_texts()
    clear_catalog_cache()
    clear_review_cache()


@pytest.fixture
def polish_reviewer(session: Session) -> StaffUser:
    staff = create_staff(session, username="anna", password=PASSWORD, role=StaffRole.OFFICE,
                         display_name="Anna Kowalska")
    grant_translator(session, staff, "pl", by=None, via="test")
    session.commit()
    return staff


def _number_of(msgid: str) -> int:
    return next(m.number for m in catalog_messages() if m.msgid == msgid)


GREETING = "Dear %(recipient)s,"


def test_approving_stores_the_text_with_who_and_when_and_the_renderer_uses_it(
        session: Session, polish_reviewer: StaffUser) -> None:
    message = next(m for m in catalog_messages() if m.msgid == GREETING)
    approve_translation(session, polish_reviewer, "pl", message, ["Szanowni Państwo, %(recipient)s,"])
    session.commit()
    row = session.scalars(select(TranslationApproval)).one()
    assert (row.locale, row.msgctxt, row.msgid, row.plural_index) == ("pl", "", GREETING, 0)
    assert row.approved_by == polish_reviewer.id and row.approved_at is not None
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "approve_translation")).one()
    assert audit.detail["locale"] == "pl" and audit.detail["edited"] is True
    assert "Szanowni" not in json.dumps(audit.detail)  # the audit names the message, not the text
    email = render_message("reply_thanks", locale="pl", channel="email", context=sample_context("reply_thanks"))
    assert email.text.startswith("Szanowni Państwo, Małgorzata-Żaneta")
    # Approving again replaces the text (one row per form, never two).
    approve_translation(session, polish_reviewer, "pl", message, list(draft_forms("pl", message)))
    session.commit()
    assert session.scalars(select(TranslationApproval.text)).all() == list(draft_forms("pl", message))


def test_a_polish_reviewer_cannot_approve_arabic(session: Session, polish_reviewer: StaffUser) -> None:
    message = next(m for m in catalog_messages() if m.msgid == GREETING)
    with pytest.raises(TranslationReviewError, match="may not review ar"):
        approve_translation(session, polish_reviewer, "ar", message, list(draft_forms("ar", message)))


def test_a_plural_message_is_stored_form_by_form(session: Session, polish_reviewer: StaffUser) -> None:
    message = next(m for m in catalog_messages() if m.msgid_plural is not None)
    forms = list(draft_forms("pl", message))
    with pytest.raises(TranslationReviewError, match="3 plural forms; 2 were given"):
        approve_translation(session, polish_reviewer, "pl", message, forms[:2])
    approve_translation(session, polish_reviewer, "pl", message, forms)
    session.commit()
    stored = session.scalars(select(TranslationApproval).order_by(TranslationApproval.plural_index)).all()
    assert [(r.plural_index, r.text) for r in stored] == list(enumerate(forms))


def test_review_pages_permissions(client: TestClient, session: Session, staff_accounts: dict[StaffRole, str],
                                  polish_reviewer: StaffUser) -> None:
    number = _number_of(GREETING)
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])  # no language granted
    assert client.get("/translations").status_code == 403
    assert client.get("/translations/pl").status_code == 403
    refused = client.post(f"/translations/pl/{number}", data={"csrf_token": token, "msgid": GREETING,
                                                              "text": "Dzień dobry %(recipient)s,"})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "anna")
    assert client.get("/translations").status_code == 200
    assert client.get("/translations/ar").status_code == 403
    assert client.get(f"/translations/ar/{number}").status_code == 403
    assert client.post(f"/translations/ar/{number}", data={"csrf_token": token, "msgid": GREETING,
                                                           "text": "عزيزي %(recipient)s،"}).status_code == 403
    assert client.get("/translations/xx").status_code == 404
    assert client.get("/translations/pl/99999").status_code == 404
    assert client.post("/translations/reviewers", data={"csrf_token": token, "staff_id": polish_reviewer.id,
                                                        "locale": "ar"}).status_code == 403
    assert session.scalars(select(TranslationApproval)).all() == []


def test_a_reviewer_approves_on_the_web_and_a_wrong_placeholder_is_refused_clearly(
        client: TestClient, session: Session, polish_reviewer: StaffUser) -> None:
    number = _number_of(GREETING)
    token = sign_in(client, "anna")
    listing = client.get("/translations/pl")
    assert listing.status_code == 200 and f'href="/translations/pl/{number}"' in listing.text
    page = client.get(f"/translations/pl/{number}")
    assert page.status_code == 200
    assert 'lang="pl" dir="ltr"' in page.text and "%(recipient)s" in page.text and "Approve" in page.text
    assert 'src="/static/translation_review.js"' in page.text
    refused = client.post(f"/translations/pl/{number}", data={"csrf_token": token, "msgid": GREETING,
                                                              "text": "Dzień dobry %(odbiorca)s,"})
    assert refused.status_code == 422
    assert "leaves out %(recipient)s" in refused.text and "has %(odbiorca)s, which the English text does not" \
        in refused.text
    assert "Dzień dobry %(odbiorca)s," in refused.text  # the reviewer's text is kept to correct
    assert session.scalars(select(TranslationApproval)).all() == []
    stale = client.post(f"/translations/pl/{number}", data={"csrf_token": token, "msgid": "Something else",
                                                            "text": "Dzień dobry %(recipient)s,"})
    assert stale.status_code == 409
    approved = client.post(f"/translations/pl/{number}", data={"csrf_token": token, "msgid": GREETING,
                                                                "text": "Dzień dobry, %(recipient)s,"},
                           follow_redirects=False)
    assert approved.status_code == 303
    assert session.scalars(select(TranslationApproval.text)).one() == "Dzień dobry, %(recipient)s,"
    shown = client.get(f"/translations/pl/{number}").text
    assert "Approved by Anna Kowalska" in shown
    assert "partly reviewed: 1 of" in client.get("/translations").text
    templates = client.get("/templates?kind=reply_thanks&locale=pl&channel=email")
    assert "partly reviewed: 1 of" in templates.text and 'href="/translations/pl"' in templates.text
    assert "Dzień dobry, Małgorzata-Żaneta" in templates.text  # the preview renders the approved text


FIRST_DAY_SMS = "%(school)s: we have not seen %(children)s at school today."  # the start of its msgid


def test_an_approval_that_makes_an_sms_too_long_is_refused_naming_it_and_a_fine_one_passes(
        client: TestClient, session: Session, polish_reviewer: StaffUser) -> None:
    message = next(m for m in catalog_messages() if m.msgid.startswith(FIRST_DAY_SMS))
    draft = list(draft_forms("pl", message))
    padded = [form + " Prosimy o odpowiedź jeszcze dziś, nawet krótką, bo bardzo się martwimy." * 2
              for form in draft]
    token = sign_in(client, "anna")
    url = f"/translations/pl/{message.number}"
    live = client.post(f"{url}/check", data={"csrf_token": token, "msgid": message.msgid, "text": padded})
    assert live.status_code == 200 and live.json()["placeholders_ok"] is True
    assert live.json()["sms_checked"] == 1 and "over the limit of 195" in live.json()["sms_problems"][0]
    refused = client.post(url, data={"csrf_token": token, "msgid": message.msgid, "text": padded})
    assert refused.status_code == 422
    assert ("Too long for a text message: the absence first day SMS (standard variant, two children) would be "
            in refused.text) and "over the limit of 195. Shorten the translation." in refused.text
    assert session.scalars(select(TranslationApproval)).all() == []
    fine = client.post(f"{url}/check", data={"csrf_token": token, "msgid": message.msgid, "text": draft}).json()
    assert fine == {"placeholders_ok": True, "sms_checked": 1, "sms_problems": []}
    wrong = client.post(f"{url}/check", data={"csrf_token": token, "msgid": message.msgid, "text": ["Dzień dobry"]})
    assert wrong.json()["placeholders_ok"] is False  # the page names the placeholders itself
    assert client.post(f"{url}/check", data={"msgid": message.msgid, "text": draft}).status_code == 403  # no CSRF
    approved = client.post(url, data={"csrf_token": token, "msgid": message.msgid, "text": draft},
                           follow_redirects=False)
    assert approved.status_code == 303
    assert session.scalars(select(TranslationApproval.text).order_by(TranslationApproval.plural_index)).all() == draft


def _main_navigation(html: str) -> str:
    return html.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]


def test_translations_link_in_the_navigation_for_reviewers_only(client: TestClient, session: Session,
                                                               staff_accounts: dict[StaffRole, str],
                                                               polish_reviewer: StaffUser) -> None:
    link = '<a href="/translations"'
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])  # no language granted
    assert link not in _main_navigation(client.get("/").text)
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "anna")  # an office account granted Polish
    assert f'{link}>Translations</a>' in _main_navigation(client.get("/").text)
    assert f'{link} aria-current="page">Translations</a>' in _main_navigation(client.get("/translations/pl").text)
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, staff_accounts[StaffRole.ADMIN])  # administrators review every language
    assert link in _main_navigation(client.get("/").text)

def test_right_to_left_languages_get_rtl_text_areas(client: TestClient, session: Session,
                                                    staff_accounts: dict[StaffRole, str]) -> None:
    sign_in(client, staff_accounts[StaffRole.ADMIN])  # administrators review every language
    page = client.get(f"/translations/ar/{_number_of(GREETING)}")
    assert page.status_code == 200
    assert 'lang="ar" dir="rtl"' in page.text.split("<textarea", 1)[1].split(">", 1)[0]
    # The draft shows each placeholder isolated left to right (else "%(recipient)s" reads "s(recipient)%").
    draft = page.text.split('id="draft-h"', 1)[1].split("</section>", 1)[0]
    assert '<bdi dir="ltr">%(recipient)s</bdi>' in draft


def test_an_administrator_grants_and_removes_a_reviewer(client: TestClient, session: Session,
                                                        staff_accounts: dict[StaffRole, str]) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ADMIN])
    office = session.scalars(select(StaffUser).where(StaffUser.username == staff_accounts[StaffRole.OFFICE])).one()
    granted = client.post("/translations/reviewers", data={"csrf_token": token, "staff_id": office.id,
                                                           "locale": "ur"}, follow_redirects=False)
    assert granted.status_code == 303
    assert session.scalars(select(StaffTranslatorLocale.locale)).all() == ["ur"]
    assert "office person (office-user): Urdu" in client.get("/translations").text
    assert client.post("/translations/reviewers", data={"csrf_token": token, "staff_id": office.id,
                                                        "locale": "xx"}).status_code == 422
    client.post("/translations/reviewers/remove", data={"csrf_token": token, "staff_id": office.id, "locale": "ur"})
    session.expire_all()
    assert session.scalars(select(StaffTranslatorLocale)).all() == []
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["grant_translator", "revoke_translator"]


def test_translations_commands_grant_status_and_export(database_url: str, session: Session,
                                                       polish_reviewer: StaffUser, tmp_path: Path) -> None:
    from gateway.cli.main import cli

    runner = CliRunner()
    create_staff(session, username="jan", password=PASSWORD, role=StaffRole.OFFICE, display_name="Jan")
    session.commit()
    granted = runner.invoke(cli, ["translations", "grant", "jan", "lt", "uk"])
    assert granted.exit_code == 0, granted.output
    assert "jan may now review lt" in granted.output
    unknown = runner.invoke(cli, ["translations", "grant", "jan", "xx"])
    assert unknown.exit_code != 0
    message = next(m for m in catalog_messages() if m.msgid == GREETING)
    approve_translation(session, polish_reviewer, "pl", message, ["Szanowni Państwo, %(recipient)s,"])
    session.commit()
    status = runner.invoke(cli, ["translations", "status", "--json"])
    document = json.loads(status.stdout)
    polish = next(s for s in document["languages"] if s["locale"] == "pl")
    assert polish["state"] == "partly reviewed" and polish["reviewers"] == ["Anna Kowalska"]
    assert {"username": "jan", "locale": "uk"} in document["translators"]
    root = tmp_path / "locales"
    shutil.copytree(locales_dir(), root)
    exported = runner.invoke(cli, ["translations", "export", "--locale", "pl", "--locales-dir", str(root)])
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith("pl: 1 text(s) written")
    po = root / "pl" / "LC_MESSAGES" / "messages.po"
    assert "Szanowni Państwo, %(recipient)s," in po.read_text(encoding="utf-8")
    assert review_value_of_file(po).startswith("partly reviewed (1 of ")
    assert "Szanowni" not in (locales_dir() / "pl" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
