"""SMTP e-mail against real aiosmtpd servers: headers, pooling, reconnects, STARTTLS modes, refusals."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from channels.base import OutgoingMessage
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.sandbox.smtp_server import SmtpSandbox
from channels.smtp_email import SmtpEmailChannel, build_email

from .conftest import smtp_config

_ids = itertools.count(1)


def email_message(to: str = "anna.nowak@example.org", **changes: object) -> OutgoingMessage:
    n = next(_ids)
    values: dict[str, object] = {
        "message_id": n, "idempotency_key": f"mail-{n}", "channel": "email", "to": to,
        "text": "Dzień dobry, Amira nie była dziś w szkole.", "subject": "Nieobecność: Amira",
        "html": "<p>Dzień dobry, Amira nie była dziś w szkole.</p>", "locale": "pl",
    }
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def test_the_email_has_the_schools_headers_and_both_bodies(smtp_sandbox: SmtpSandbox) -> None:
    config = smtp_config(smtp_sandbox)
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    built = build_email(email_message(reply_to="head@oakfield.sch.uk"), config, at)
    assert built["From"].addresses[0].display_name == "Oakfield Primary – Attendance"
    assert built["From"].addresses[0].addr_spec == "office@oakfield.sch.uk"
    assert str(built["Reply-To"]) == "head@oakfield.sch.uk"
    assert built["Date"] == "Mon, 23 Nov 2026 09:30:00 +0000"
    assert built["Message-ID"].endswith("@oakfield.sch.uk>")
    assert built["Content-Language"] == "pl"
    assert built.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in built.iter_parts()] == ["text/plain", "text/html"]
    raw = built.as_bytes()
    assert raw.isascii()  # 7-bit clean: UTF-8 names and bodies are encoded


def test_a_sent_email_arrives_intact(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox))
    try:
        receipt = channel.send(email_message("intact@example.org"))
    finally:
        channel.close()
    [mail] = [m for m in smtp_sandbox.mailbox.messages() if m.rcpt_tos == ("intact@example.org",)]
    received = mail.message
    assert received["Message-ID"] == receipt.provider_id
    assert received["Subject"] == "Nieobecność: Amira"
    assert received["Reply-To"] == "office@oakfield.sch.uk"
    assert received.get_body(("plain",)).get_content().strip() == "Dzień dobry, Amira nie była dziś w szkole."  # type: ignore[union-attr]
    assert "Dzień dobry" in received.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert mail.mail_from == "office@oakfield.sch.uk"


def test_a_text_only_email_is_a_single_part(smtp_sandbox: SmtpSandbox) -> None:
    built = build_email(email_message(html=None), smtp_config(smtp_sandbox))
    assert built.get_content_type() == "text/plain"


def test_connections_are_reused_across_messages(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox, pool_size=2))
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(channel.send, [email_message(f"pool{n}@example.org") for n in range(30)]))
    finally:
        channel.close()
    assert channel.connections_opened <= 2


def test_one_connection_per_message_when_asked(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox), reuse_connections=False)
    try:
        for n in range(3):
            channel.send(email_message(f"single{n}@example.org"))
    finally:
        channel.close()
    assert channel.connections_opened == 3


def test_a_dropped_connection_is_reopened(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox, pool_size=1))
    try:
        channel.send(email_message("before@example.org"))
        smtp_sandbox.drop_connections()
        assert channel.send(email_message("after@example.org")).provider_id
    finally:
        channel.close()
    assert channel.connections_opened == 2


def test_starttls_is_used_when_always_and_when_offered_in_auto(smtp_tls_sandbox: SmtpSandbox) -> None:
    for mode in ("always", "auto"):
        channel = SmtpEmailChannel(smtp_config(smtp_tls_sandbox, starttls=mode))
        try:
            channel.send(email_message(f"tls-{mode}@example.org"))
        finally:
            channel.close()
    mails = [m for m in smtp_tls_sandbox.mailbox.messages() if m.rcpt_tos[0].startswith("tls-")]
    assert len(mails) == 2 and all(m.tls for m in mails)


def test_always_starttls_against_a_server_without_it_is_not_sent_in_clear(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox, starttls="always"))
    try:
        with pytest.raises(TransientDeliveryError):
            channel.send(email_message("clear@example.org"))
    finally:
        channel.close()
    assert not [m for m in smtp_sandbox.mailbox.messages() if m.rcpt_tos == ("clear@example.org",)]


def test_an_untrusted_certificate_is_refused(smtp_tls_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_tls_sandbox, ca_file=None))
    try:
        with pytest.raises(TransientDeliveryError):
            channel.send(email_message("untrusted@example.org"))
    finally:
        channel.close()


@pytest.mark.parametrize(
    ("reply", "stage", "error", "reason"),
    [
        ("550 5.1.1 No such user", "rcpt", PermanentDeliveryError, "recipient_refused"),
        ("552 5.3.4 Message too big", "data", PermanentDeliveryError, "bounced"),
        ("451 4.7.1 Greylisted, try later", "rcpt", TransientDeliveryError, None),
        ("421 4.3.2 Service shutting down", "data", TransientDeliveryError, None),
    ],
)
def test_smtp_replies_map_4xx_transient_and_5xx_permanent(
    smtp_sandbox: SmtpSandbox, reply: str, stage: str, error: type[Exception], reason: str | None
) -> None:
    to = f"fault{next(_ids)}@example.org"
    smtp_sandbox.mailbox.reject(to, reply, stage=stage)  # type: ignore[arg-type]
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox))
    try:
        with pytest.raises(error) as caught:
            channel.send(email_message(to))
        assert caught.value.code == reply[:3]  # type: ignore[attr-defined]
        if reason:
            assert caught.value.reason == reason  # type: ignore[attr-defined]
        assert channel.send(email_message("next@example.org")).provider_id  # the session survived
    finally:
        channel.close()


def test_not_an_address_is_permanent(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox))
    try:
        with pytest.raises(PermanentDeliveryError, match="invalid_address"):
            channel.send(email_message("no-at-sign"))
    finally:
        channel.close()


def test_a_relay_that_is_down_is_transient() -> None:
    from channels.config import SmtpConfig
    from channels.sandbox.runner import free_port

    channel = SmtpEmailChannel(SmtpConfig("127.0.0.1", free_port(), starttls="never", timeout=2.0))
    try:
        with pytest.raises(TransientDeliveryError):
            channel.send(email_message())
    finally:
        channel.close()


def test_sending_after_close_is_an_error(smtp_sandbox: SmtpSandbox) -> None:
    channel = SmtpEmailChannel(smtp_config(smtp_sandbox))
    channel.close()
    with pytest.raises(RuntimeError):
        channel.send(email_message())
