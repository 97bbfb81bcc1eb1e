"""The e-mail's wire bytes (channels.email_wire): what a mail client reads back, folding, encoding, limits."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from channels.base import OutgoingMessage
from channels.config import SmtpConfig
from channels.email_wire import email_bytes
from channels.errors import PermanentDeliveryError

CONFIG = SmtpConfig("relay.invalid", from_address="office@oakfield.sch.uk", from_name="Oakfield Primary – Office",
                    reply_to="head@oakfield.sch.uk")
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def outgoing(**changes: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "message_id": 41, "idempotency_key": "case-7|adult-3|email", "channel": "email", "to": "anna@example.org",
        "text": "Dzień dobry,\nAmira nie była dziś w szkole.", "subject": "Nieobecność: Amira",
        "html": "<p>Dzień dobry,</p><p>Amira nie była dziś w szkole.</p>", "locale": "pl",
    }
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def test_a_mail_client_reads_back_every_header_and_both_bodies() -> None:
    wire = email_bytes(outgoing(), CONFIG, AT)
    message = parsed(wire.raw)
    assert message["From"].addresses[0].display_name == "Oakfield Primary – Office"
    assert message["From"].addresses[0].addr_spec == "office@oakfield.sch.uk"
    assert (message["To"], message["Reply-To"]) == ("anna@example.org", "head@oakfield.sch.uk")
    assert message["Subject"] == "Nieobecność: Amira"
    assert message["Date"] == "Mon, 23 Nov 2026 09:30:00 +0000"
    assert message["Message-ID"] == wire.message_id
    assert (message["Content-Language"], message["MIME-Version"]) == ("pl", "1.0")
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert body(message, "plain") == "Dzień dobry,\nAmira nie była dziś w szkole.\n"
    assert body(message, "html") == "<p>Dzień dobry,</p><p>Amira nie była dziś w szkole.</p>\n"
    assert wire.raw.isascii() and not wire.smtputf8
    assert all(message.defects == [] for message in message.walk())


def test_the_message_id_is_the_same_on_a_resend_and_differs_between_messages() -> None:
    first, again = email_bytes(outgoing(), CONFIG, AT), email_bytes(outgoing(), CONFIG, datetime.now(UTC))
    other = email_bytes(outgoing(message_id=42, idempotency_key="case-8|adult-3|email"), CONFIG, AT)
    assert first.message_id == again.message_id != other.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith(".gw41@oakfield.sch.uk>")


def test_long_and_non_ascii_headers_are_folded_and_encoded() -> None:
    subject = "Nieobecność – " + " ".join(["bardzo długi temat wiadomości"] * 6)
    raw = email_bytes(outgoing(subject=subject), CONFIG, AT).raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert b"=?utf-8?" in head
    assert parsed(raw)["Subject"] == subject


@pytest.mark.parametrize("field", ["subject", "locale"])
def test_a_line_break_in_a_header_value_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match="line breaks"):
        email_bytes(outgoing(**{field: "Absence\r\nBcc: everyone@example.org"}), CONFIG, AT)


def test_a_body_that_looks_like_mime_stays_inside_its_part() -> None:
    boundary_like = "--=_gw0123456789abcdef01234567"
    text = (f"{boundary_like}\n.\n. a line starting with a dot\ntrailing space \nlong " + "é" * 120 +
            "\nContent-Type: text/html\n\nlast")
    for html in (None, f"<pre>{text}</pre>"):
        raw = email_bytes(outgoing(text=text, html=html), CONFIG, AT).raw
        message = parsed(raw)
        assert body(message, "plain") == text + "\n"
        if html:
            assert body(message, "html") == html + "\n"
            assert len(list(message.iter_parts())) == 2
        else:
            assert message.get_content_type() == "text/plain"
        encoded = raw.split(b"\r\n\r\n", 1)[1]
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n") if not line.startswith(b"--=_gw"))


def test_a_non_ascii_address_asks_for_smtputf8() -> None:
    wire = email_bytes(outgoing(to="zoë@example.org"), CONFIG, AT)
    assert wire.smtputf8
    assert parsed(wire.raw)["To"] == "zoë@example.org"
    assert parsed(wire.raw)["Subject"] == "Nieobecność: Amira"


def test_not_an_address_is_permanent() -> None:
    with pytest.raises(PermanentDeliveryError, match="invalid_address"):
        email_bytes(outgoing(to="no-at-sign"), CONFIG, AT)
