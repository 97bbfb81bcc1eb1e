"""The bytes of one outgoing e-mail, laid out directly with the ``email`` package's own encoders.

Building an ``EmailMessage`` and flattening it costs about 2 ms of CPU a message (each header is parsed into
a token tree when set and refolded when written), more than the whole SMTP exchange on a reused connection.
Our e-mails always have one shape, so they are written here without the object model:

- headers are folded by ``email.policy.SMTP`` (RFC 2047 encoded words for non-ASCII text, folding of long
  lines); a short ASCII value is written as it is, which is what that policy does with such a value too;
  the sender's ``From`` line is folded once per configuration;
- bodies are UTF-8, quoted-printable (``email.quoprimime``), so the message is 7-bit clean for relays
  without 8BITMIME; text and HTML go as multipart/alternative (text first), text alone as one part;
- the boundary starts with ``=_``, which quoted-printable never produces, so no body can contain it.

A recipient or sender address that is not ASCII needs SMTPUTF8: the headers are then written as UTF-8
(``email.policy.SMTPUTF8``) and ``WireEmail.smtputf8`` tells the channel to ask for it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8, EmailPolicy
from email.utils import format_datetime
from functools import lru_cache

from channels import errors
from channels.base import OutgoingMessage
from channels.config import SmtpConfig
from channels.errors import PermanentDeliveryError

MAX_HEADER_LINE = 78  # RFC 5322's recommended line length, as email.policy folds to
QP_LINE = 76  # RFC 2045's limit for a quoted-printable line
CRLF = "\r\n"


@dataclass(frozen=True)
class WireEmail:
    """One e-mail ready for ``SMTP.sendmail``: its Message-ID, its bytes, and whether it needs SMTPUTF8."""

    message_id: str
    raw: bytes
    smtputf8: bool


def parse_address(text: str, display_name: str | None = None) -> Address:
    """``local@domain`` as an ``Address`` (PermanentDeliveryError when it is not an e-mail address)."""
    local, _, domain = text.strip().rpartition("@")
    if not local or not domain:
        raise PermanentDeliveryError(errors.INVALID_ADDRESS, None, "not an e-mail address")
    return Address(display_name=display_name or "", username=local, domain=domain)


def message_id_for(message: OutgoingMessage, sender: Address) -> str:
    """The same Message-ID every time one outbox message is sent: ``<{digest}.gw{outbox id}@{sender domain}>``.

    SMTP cannot tell us afterwards whether a relay accepted a message, so a worker killed between the relay's
    250 and our commit re-sends it (at least once). A stable Message-ID lets receiving systems that de-duplicate
    by Message-ID (many do) collapse that second copy, and lets staff see it is the same message. The digest is
    over the idempotency key and the sender's address, so two schools never share an id."""
    digest = hashlib.sha256(f"{message.idempotency_key}\n{sender.addr_spec}".encode()).hexdigest()[:24]
    return f"<{digest}.gw{message.message_id}@{sender.domain}>"


def email_bytes(message: OutgoingMessage, config: SmtpConfig, now: datetime | None = None) -> WireEmail:
    """The RFC 5322 message for ``message``: the school's headers, then the text (and HTML when given)."""
    sender = _sender(config.from_address, config.from_name)
    recipient = parse_address(message.to)
    reply_to = message.reply_to or config.reply_to
    reply_address = parse_address(reply_to) if reply_to else None
    smtputf8 = not (sender.addr_spec.isascii() and recipient.addr_spec.isascii())
    policy = SMTPUTF8 if smtputf8 else SMTP
    message_id = message_id_for(message, sender)
    lines = [_from_line(config.from_address, config.from_name, smtputf8),
             _header("To", recipient, policy)]
    if reply_address is not None:
        lines.append(_header("Reply-To", reply_address, policy))
    lines += [_header("Subject", message.subject or "", policy),
              _header("Date", format_datetime(now or datetime.now(UTC)), policy),
              _header("Message-ID", message_id, policy),
              "MIME-Version: 1.0" + CRLF,
              _header("Content-Language", message.locale, policy)]
    if message.html:
        boundary = "=_gw" + secrets.token_hex(12)
        lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}', CRLF,
                  f"--{boundary}{CRLF}", _text_part("plain", message.text),
                  f"{CRLF}--{boundary}{CRLF}", _text_part("html", message.html),
                  f"{CRLF}--{boundary}--{CRLF}"]
    else:
        lines.append(_text_part("plain", message.text))
    return WireEmail(message_id, "".join(lines).encode("utf-8" if smtputf8 else "ascii"), smtputf8)


def _text_part(subtype: str, text: str) -> str:
    """A text part's own headers, a blank line and its quoted-printable UTF-8 body (CRLF line ends)."""
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"  # as email.contentmanager splits a text
    encoded = quoprimime.body_encode(body.decode("latin-1"), QP_LINE, eol=CRLF)
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{encoded}")


def _header(name: str, value: str | Address, policy: EmailPolicy[EmailMessage]) -> str:
    """One header line (folded, CRLF-terminated); a line break in a value is refused, as the email package does."""
    text = str(value)
    if "\r" in text or "\n" in text:
        raise ValueError(f"the {name} header may not contain line breaks")
    if text.isascii() and len(name) + 2 + len(text) <= MAX_HEADER_LINE and "=?" not in text:
        return f"{name}: {text}{CRLF}"
    folded: str = policy.header_factory(name, value).fold(policy=policy)
    return folded


@lru_cache(maxsize=16)
def _sender(from_address: str, from_name: str | None) -> Address:
    return parse_address(from_address, from_name)


@lru_cache(maxsize=16)
def _from_line(from_address: str, from_name: str | None, smtputf8: bool) -> str:
    """The From line, folded once per sender (a UTF-8 display name becomes RFC 2047 encoded words)."""
    policy = SMTPUTF8 if smtputf8 else SMTP
    folded: str = policy.header_factory("From", _sender(from_address, from_name)).fold(policy=policy)
    return folded
