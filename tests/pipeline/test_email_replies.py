"""Parents' e-mail replies read over IMAP from a real Dovecot server (tests/dovecot.py) into the Inbox."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import (
    AbsenceCase,
    CaseState,
    ContactKind,
    ContactPoint,
    InboundMessage,
    OutboxMessage,
    PupilContact,
    Restriction,
)
from gateway.pipeline import email_replies
from gateway.pipeline.absence import start_followup
from gateway.pipeline.email_replies import UNKNOWN_SENDER, MailboxConfig, parse_email, poll_mailbox, reply_text
from gateway.web.pages.inbox import inbox_items
from tests import dovecot as private_imap
from tests.dovecot import PASSWORD, USERNAME, Dovecot
from tests.pipeline.conftest import DAY, Family, Pipeline, add_family

dovecot = private_imap.dovecot  # the fixture: a private Dovecot IMAP server
MUM_EMAIL = "anna@example.org"
POLISH_REPLY = """Ola jest chora, ma gorączkę. Wróci w środę.

Pozdrawiam
Anna

W dniu pon., 23 lis 2026 o 09:31 Oakfield Primary <office@oakfield.sch.uk>
napisał(a):

> Dzień dobry, Ola nie przyszła dziś do szkoły. Prosimy o odpowiedź,
> jeśli jest chora lub ma wizytę u lekarza.
"""


def _mail(sender: str, text: str, *, message_id: str, subject: str = "Re: Ola",
          headers: dict[str, str] | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "office@oakfield.sch.uk"
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    return message.as_bytes()


def _config(server: Dovecot) -> MailboxConfig:
    return MailboxConfig(server.host, server.port, USERNAME, PASSWORD, "INBOX", timeout=5)


def _poll(server: Dovecot, pipeline: Pipeline, **options: int) -> email_replies.PollReport:
    report = poll_mailbox(_config(server), **options)
    pipeline.drain()
    return report


def _open_case(session: Session, pipeline: Pipeline) -> tuple[Family, AbsenceCase]:
    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    return family, session.scalars(select(AbsenceCase)).one()


def _inbound(session: Session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_a_polish_email_reply_reaches_the_inbox_stops_the_ladder_and_is_thanked_once(
        session: Session, pipeline: Pipeline, dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    family, case = _open_case(session, pipeline)
    # Typed with capitals in the mail client; the school holds anna@example.org.
    reply = _mail("Anna Nowak <Anna@Example.ORG>", POLISH_REPLY, message_id="reply-1@mail.example.org")
    dovecot.append(reply)

    report = _poll(dovecot, pipeline)
    assert (report.seen, report.stored, report.error) == (1, 1, None)
    [inbound] = _inbound(session)
    assert (inbound.source, inbound.provider_sid) == ("email", "imap:reply-1@mail.example.org")
    assert (inbound.adult_id, inbound.case_id) == (family.mum, case.id)
    # Classified like a text, from the parent's own words only (the quoted school message is cut off).
    assert inbound.body == "Ola jest chora, ma gorączkę. Wróci w środę.\n\nPozdrawiam\nAnna"
    assert inbound.suggested_code == "I" and set(inbound.matched_keywords) == {"chor", "gorączk"}
    session.refresh(case)
    assert case.state is CaseState.REPLIED and case.close_reason == "reply"
    # Thanked once, by e-mail, at the address on file, in Polish.
    thanks = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_thanks")).all()
    assert [(t.channel, t.to_address, t.locale) for t in thanks] == [("email", MUM_EMAIL, "pl")]
    assert [m.to for m in pipeline.email.outbox if m.text.startswith("reply_thanks|")] == [MUM_EMAIL]
    # In the Inbox against Anna and both children; the message is marked seen in the mailbox.
    known, unmatched = inbox_items(session, handled=False)
    assert [(item.sender, sorted(p.id for p in item.pupils)) for item in known] == [
        ("Anna Nowak", sorted(family.pupils))]
    assert unmatched == []
    assert all("\\Seen" in flags for flags in dovecot.flags().values())
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records if r.name.startswith("gateway"))
    assert "e-mail reply stored" in logged
    assert "anna@example" not in logged.lower() and "chora" not in logged  # neither address nor words in clear

    # Nothing new: nothing happens. The same message delivered again (same Message-ID) is not a second reply.
    assert _poll(dovecot, pipeline).seen == 0
    dovecot.append(reply)
    again = _poll(dovecot, pipeline)
    assert (again.seen, again.stored, again.repeated) == (1, 0, 1)
    # A second answer is kept but not thanked again; the ladder stays stopped.
    dovecot.append(_mail(MUM_EMAIL, "Jutro też zostanie w domu.", message_id="reply-2@mail.example.org"))
    assert _poll(dovecot, pipeline).stored == 1
    assert len(_inbound(session)) == 2
    assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "reply_thanks",
                                                         OutboxMessage.id != thanks[0].id)) is None
    pipeline.clock.advance(hours=3)
    pipeline.tick()
    assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.step >= 2)) is None


def test_an_email_from_an_unknown_address_goes_to_unmatched_senders(
        session: Session, pipeline: Pipeline, dovecot: Dovecot) -> None:
    _family, case = _open_case(session, pipeline)
    dovecot.append(_mail("someone@example.net", "My son is ill today", message_id="stranger@example.net"))
    report = _poll(dovecot, pipeline)
    assert report.stored == 1
    [inbound] = _inbound(session)
    assert (inbound.adult_id, inbound.case_id, inbound.handled) == (None, None, False)
    known, unmatched = inbox_items(session, handled=False)
    assert known == [] and [(i.sender, i.reply.body) for i in unmatched] == [("someone@example.net",
                                                                             "My son is ill today")]
    session.refresh(case)
    assert case.state is not CaseState.REPLIED
    assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "reply_thanks")) is None


def test_malformed_and_oversized_emails_are_stored_with_a_note_and_the_poller_goes_on(
        session: Session, pipeline: Pipeline, dovecot: Dovecot) -> None:
    family, case = _open_case(session, pipeline)
    # No headers at all, binary noise (a NUL PostgreSQL would refuse), then a broken MIME message.
    dovecot.append(b"\xff\xfe\x00\x01 this is not an e-mail \x00 at all")
    dovecot.append(b"From: <>\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
                   b"Content-Type: text/plain; charset=no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   b"!!!not base64!!!\r\n--XX\r\nContent-Type: image/jpeg\r\n\r\n\x00\x01\x02")
    # A reply with a large photo attached: only its beginning is read, which holds the parent's words.
    big = EmailMessage()
    big["From"], big["Message-ID"], big["Subject"] = MUM_EMAIL, "<big@mail.example.org>", "Re: Ola"
    big.set_content("Ola ma gorączkę, zdjęcie zaświadczenia w załączniku.")
    big.add_attachment(b"\x89PNG" + bytes(range(256)) * 6000, maintype="image", subtype="png", filename="note.png")
    dovecot.append(big.as_bytes())
    dovecot.append(_mail(MUM_EMAIL, "Wróci jutro.", message_id="after@mail.example.org"))

    report = _poll(dovecot, pipeline, max_bytes=512 * 1024)
    assert (report.seen, report.stored, report.unreadable, report.failed, report.error) == (4, 4, 3, 0, None)
    noise, broken, large, after = _inbound(session)
    assert noise.from_number == UNKNOWN_SENDER and noise.adult_id is None and "no sender" in (noise.note or "")
    assert "\x00" not in noise.body
    assert broken.from_number == UNKNOWN_SENDER and "1 attachment not opened" in (broken.note or "")
    assert large.adult_id == family.mum and large.body.startswith("Ola ma gorączkę")
    assert large.suggested_code == "I" and "only its beginning was read" in (large.note or "")
    assert after.body == "Wróci jutro." and after.processed_at is not None
    session.refresh(case)
    assert case.state is CaseState.REPLIED
    assert all("\\Seen" in flags for flags in dovecot.flags().values())  # none left to trip every poll
    _known, unmatched = inbox_items(session, handled=False)
    assert {item.reply.id for item in unmatched} == {noise.id, broken.id}


def test_out_of_office_answers_and_bounces_do_not_stop_the_ladder(
        session: Session, pipeline: Pipeline, dovecot: Dovecot) -> None:
    _family, case = _open_case(session, pipeline)
    dovecot.append(_mail(MUM_EMAIL, "I am out of the office until Monday.", message_id="ooo@mail.example.org",
                         headers={"Auto-Submitted": "auto-replied"}))
    dovecot.append(_mail("MAILER-DAEMON@mail.example.org", "Delivery failed", message_id="bounce@example.org"))
    report = _poll(dovecot, pipeline)
    assert (report.seen, report.ignored, report.stored) == (2, 2, 0)
    assert _inbound(session) == []
    session.refresh(case)
    assert case.state is not CaseState.REPLIED


def test_an_email_from_a_restricted_parent_goes_to_the_dsl_only(
        session: Session, pipeline: Pipeline, dovecot: Dovecot) -> None:
    family = add_family(session)
    session.add(ContactPoint(adult_id=family.dad, kind=ContactKind.EMAIL, value="piotr@example.org"))
    session.execute(update(PupilContact).where(PupilContact.adult_id == family.dad)
                    .values(restriction=Restriction.NO_CONTACT, dsl_approved_at=None))
    session.commit()
    start_followup(session, DAY)
    pipeline.drain()
    dovecot.append(_mail("piotr@example.org", "Kuba jest chory", message_id="dad@mail.example.org"))
    _poll(dovecot, pipeline)
    [inbound] = _inbound(session)
    assert inbound.dsl_only and inbound.case_id is None and inbound.suggested_code is None
    assert session.scalars(select(AbsenceCase)).one().state is not CaseState.REPLIED
    assert [m for m in pipeline.email.outbox if m.to == "piotr@example.org"] == []
    assert inbox_items(session, handled=False) == ([], [])


def test_the_poller_survives_the_mail_server_restarting(
        session: Session, pipeline: Pipeline, dovecot: Dovecot) -> None:
    family, _case = _open_case(session, pipeline)
    assert _poll(dovecot, pipeline).error is None
    dovecot.stop()
    down = _poll(dovecot, pipeline)
    assert down.error is not None and down.error.startswith("could not reach the mailbox")
    dovecot.start()  # the same port and mailbox, as after a restart
    dovecot.append(_mail(MUM_EMAIL, "Ola jest chora", message_id="after-restart@mail.example.org"))
    back = _poll(dovecot, pipeline)
    assert (back.error, back.stored) == (None, 1)
    assert [i.adult_id for i in _inbound(session)] == [family.mum]


def test_the_scheduler_polls_the_configured_mailbox(session: Session, pipeline: Pipeline, dovecot: Dovecot,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import get_settings

    family, case = _open_case(session, pipeline)
    for name, value in (("IMAP_HOST", dovecot.host), ("IMAP_PORT", str(dovecot.port)), ("IMAP_USERNAME", USERNAME),
                        ("IMAP_PASSWORD", PASSWORD), ("IMAP_POLL_SECONDS", "3600")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(email_replies, "_last_poll", None)
    try:
        dovecot.append(_mail(MUM_EMAIL, "Ola jest chora", message_id="tick-1@mail.example.org"))
        pipeline.tick()
        assert [(i.adult_id, i.case_id) for i in _inbound(session)] == [(family.mum, case.id)]
        dovecot.append(_mail(MUM_EMAIL, "Wróci jutro", message_id="tick-2@mail.example.org"))
        pipeline.tick()  # within IMAP_POLL_SECONDS of the last poll: the mailbox is left alone
        assert len(_inbound(session)) == 1
    finally:
        get_settings.cache_clear()


def test_the_password_never_goes_in_clear_to_another_machine(dovecot: Dovecot,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(_mail(MUM_EMAIL, "Ola jest chora", message_id="clear@mail.example.org"))
    monkeypatch.setattr(email_replies, "is_loopback_host", lambda host: False)  # as if the server were remote
    logins = dovecot.log().count("Login: user=")
    report = poll_mailbox(_config(dovecot))
    assert report.error is not None and report.seen == 0
    assert dovecot.log().count("Login: user=") == logins  # no TLS offered: the gateway never logged in
    assert all("\\Seen" not in flags for flags in dovecot.flags().values())


def test_without_imap_settings_nothing_is_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import load_settings

    monkeypatch.setattr(email_replies, "_last_poll", None)
    monkeypatch.setattr(email_replies, "poll_mailbox", lambda *a, **k: pytest.fail("polled"))
    for name in ("IMAP_HOST", "IMAP_USERNAME", "IMAP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert email_replies.poll_if_due(load_settings()) is None


def test_reply_to_is_the_configured_office_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from channels.base import OutgoingMessage
    from channels.smtp_email import build_email
    from gateway.channel_config import channel_config_from_settings
    from gateway.config import load_settings

    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    settings = load_settings(smtp_reply_to="Oakfield Office <office@oakfield.sch.uk>")
    smtp = channel_config_from_settings(settings).smtp
    assert smtp is not None and smtp.reply_to == "office@oakfield.sch.uk"
    built = build_email(OutgoingMessage(message_id=1, idempotency_key="k", channel="email", to=MUM_EMAIL,
                                        text="Please reply to this e-mail", subject="Ola"), smtp)
    assert built["Reply-To"] == "office@oakfield.sch.uk"


@pytest.mark.parametrize(("text", "own"), [
    (POLISH_REPLY, "Ola jest chora, ma gorączkę. Wróci w środę.\n\nPozdrawiam\nAnna"),
    ("She has a dentist appointment\r\n\r\nSent from my iPhone\r\n\r\nFrom: Oakfield <office@x.org>\r\n"
     "Sent: Monday\r\nTo: Anna\r\nSubject: Absence\r\n\r\nOla was absent today", "She has a dentist appointment"),
    ("On Mon, 23 Nov 2026 at 09:31, Office <o@x.org> wrote:\n> Ola was absent today\n\nShe is poorly\n-- \n"
     "Anna Nowak\n07700 900123", "She is poorly"),
    ("Kuba jest chory\n\n-----Original Message-----\nFrom: office\nOla was absent", "Kuba jest chory"),
])
def test_only_the_parents_own_words_are_kept(text: str, own: str) -> None:
    assert reply_text(text) == own


def test_an_html_only_reply_is_read_without_its_quoted_part() -> None:
    raw = (b"From: =?utf-8?q?Anna_Nowak?= <anna@example.org>\r\nMessage-ID: <h@x>\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n"
           b"<div>Ola jest <b>chora</b></div><div class=gmail_quote><blockquote>Ola was absent</blockquote></div>")
    parsed = parse_email(raw)
    assert (parsed.sender, parsed.body, parsed.message_id, parsed.note) == (MUM_EMAIL, "Ola jest chora", "h@x", None)
