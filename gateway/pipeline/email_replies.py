"""Parents' e-mail replies, read from the office mailbox over IMAP into the Inbox like texts.

Every e-mail the gateway sends carries ``Reply-To: SMTP_REPLY_TO``. When ``IMAP_HOST`` is set, the scheduler
calls :func:`poll_if_due` every ``IMAP_POLL_SECONDS``: it opens a fresh connection (so a mail server that
restarted is simply reached again on the next poll), reads unseen mail in ``IMAP_FOLDER`` without marking it,
and for each message

1. parses it leniently and keeps only the parent's own words (quoted text, attribution lines and signatures
   are cut; an HTML-only message is reduced to text); a message that cannot be read, or that is larger than
   :data:`MAX_MESSAGE_BYTES` (only its beginning is fetched), is still stored, with a note for staff;
2. stores it once per ``Message-ID`` (``provider_sid`` ``imap:<Message-ID>``) with ``source="email"``;
3. processes it exactly as a text is processed (:func:`gateway.pipeline.replies.process_inbound_message`:
   matched to the adult by e-mail address and to their case, the restricted-contact rule, the suggested
   code, the ladder stopped, thanked once, by e-mail);
4. only then marks it ``\\Seen``: a crash in between means the next poll finds it again, and the
   ``Message-ID`` makes that harmless.

Automatic mail (out-of-office answers, bounces, mailing lists) and the school's own messages are marked seen
and never treated as a parent's answer. Use a mailbox (or folder) the gateway alone reads: a message someone
opened in a mail client first is already seen and is not picked up. Addresses and bodies are never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from sqlalchemy.exc import OperationalError

from gateway.config import Settings, get_settings, is_loopback_host
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import InboundMessage

log = logging.getLogger(__name__)

SOURCE = "email"
UNKNOWN_SENDER = "unknown sender"  # stored as the sender when the From header names no usable address
MAX_MESSAGE_BYTES = 1024 * 1024  # larger messages: only the first PARTIAL_BYTES are fetched
PARTIAL_BYTES = 128 * 1024
MAX_BODY_CHARACTERS = 2000
BATCH = 50  # messages per poll; the rest wait for the next one
TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class MailboxConfig:
    """Where replies are read (from IMAP_* settings)."""

    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    timeout: float = TIMEOUT_SECONDS
    own_addresses: frozenset[str] = frozenset()  # the school's From and Reply-To: never a parent's answer

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MailboxConfig | None:
        """None unless IMAP_HOST, IMAP_USERNAME and IMAP_PASSWORD are all set."""
        settings = settings or get_settings()
        if not (settings.imap_host and settings.imap_username and settings.imap_password):
            return None
        own = {parseaddr(value)[1].lower() for value in (settings.smtp_from, settings.smtp_reply_to) if value}
        return cls(settings.imap_host, settings.imap_port, settings.imap_username, settings.imap_password,
                   settings.imap_folder or "INBOX", own_addresses=frozenset(a for a in own if a))


@dataclass
class PollReport:
    """What one poll did (for logs and tests)."""

    seen: int = 0  # unseen messages looked at
    stored: int = 0  # new inbound messages
    repeated: int = 0  # already stored (the same Message-ID): only marked seen again
    unreadable: int = 0  # stored with a note: malformed, oversized or without a sender
    ignored: int = 0  # automatic mail or the school's own
    failed: int = 0  # left unseen for the next poll
    error: str | None = None  # why the poll stopped early (server unreachable, connection lost)
    inbound_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedReply:
    """What the gateway keeps of one e-mail."""

    message_id: str | None
    sender: str
    body: str
    note: str | None
    automatic: bool = False
    unreadable: bool = False  # malformed, oversized or without a sender: staff should open the mailbox


# -- the poll -----------------------------------------------------------------------------------------------

_last_poll: float | None = None


def poll_if_due(settings: Settings | None = None) -> PollReport | None:
    """The scheduler's hook: poll when IMAP is configured and IMAP_POLL_SECONDS have passed. Never raises."""
    global _last_poll
    try:
        settings = settings or get_settings()
        config = MailboxConfig.from_settings(settings)
        if config is None:
            return None
        now = time.monotonic()
        if _last_poll is not None and now - _last_poll < settings.imap_poll_seconds:
            return None
        _last_poll = now
        report = poll_mailbox(config)
        if report.seen or report.error:
            log.info("mailbox polled", extra={k: v for k, v in vars(report).items() if k != "inbound_ids"})
        return report
    except Exception as exc:  # the scheduler's other work must go on
        # Only the error's type: a database error's text would carry the address and the body.
        log.error("mailbox poll failed", extra={"reason": type(exc).__name__})
        return None


def poll_mailbox(config: MailboxConfig, *, max_bytes: int = MAX_MESSAGE_BYTES) -> PollReport:
    """Read the folder's unseen mail once (see the module's description). Never raises."""
    report = PollReport()
    try:
        connection = _connect(config)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        report.error = f"could not reach the mailbox ({type(exc).__name__})"
        log.warning("mailbox unreachable", extra={"reason": type(exc).__name__, "host": config.host})
        return report
    try:
        for uid in _unseen(connection)[:BATCH]:
            report.seen += 1
            if not _take(connection, config, uid, report, max_bytes):
                break
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        report.error = f"connection lost ({type(exc).__name__})"
        log.warning("mailbox connection lost", extra={"reason": type(exc).__name__})
    finally:
        with contextlib.suppress(Exception):  # the server may already be gone: the next poll reconnects
            connection.logout()
    return report


def _connect(config: MailboxConfig) -> imaplib.IMAP4:
    """Log in and select the folder: IMAP over TLS on 993, else STARTTLS (plain text only on this machine)."""
    context = ssl.create_default_context()
    connection: imaplib.IMAP4
    if config.port == 993:
        connection = imaplib.IMAP4_SSL(config.host, config.port, ssl_context=context, timeout=config.timeout)
    else:
        connection = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
        if "STARTTLS" in connection.capabilities:
            connection.starttls(context)
        elif not is_loopback_host(config.host):  # never send the office mailbox's password in clear
            with contextlib.suppress(Exception):
                connection.logout()
            raise imaplib.IMAP4.error("the server offers no TLS (use port 993 or a server with STARTTLS)")
    try:
        connection.login(config.username, config.password)
        status, _ = connection.select(_quoted(config.folder))
        if status != "OK":
            raise imaplib.IMAP4.error("the folder could not be opened")
    except Exception:
        with contextlib.suppress(Exception):  # closing a connection that failed to log in
            connection.logout()
        raise
    return connection


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unseen(connection: imaplib.IMAP4) -> list[bytes]:
    status, data = connection.uid("SEARCH", "UNSEEN")
    if status != "OK" or not data or not data[0]:
        return []
    return [uid for uid in bytes(data[0]).split() if uid.isdigit()]


def _take(connection: imaplib.IMAP4, config: MailboxConfig, uid: bytes, report: PollReport, max_bytes: int) -> bool:
    """Fetch, store, process and mark one message; False when the poll should stop (the database is away)."""
    size = _size(connection, uid)
    partial = size is not None and size > max_bytes
    what = f"(BODY.PEEK[]<0.{PARTIAL_BYTES}>)" if partial else "(BODY.PEEK[])"
    status, data = connection.uid("FETCH", uid.decode(), what)
    raw = _literal(data) if status == "OK" else None
    if raw is None:
        report.failed += 1
        log.warning("mailbox message could not be fetched", extra={"uid": uid.decode()})
        return True
    parsed = parse_email(raw, size=size or len(raw), partial=partial)
    sender_key = parsed.sender.lower()
    if parsed.automatic or sender_key in config.own_addresses:
        report.ignored += 1
        log.info("automatic or own e-mail not treated as a reply", extra={"from": redact(parsed.sender)})
        _mark_seen(connection, uid)
        return True
    try:
        inbound_id, created = store_email_reply(parsed, raw)
    except OperationalError:
        report.failed += 1
        log.warning("database unavailable: e-mail left for the next poll")
        return False
    except Exception as exc:  # only the type: a database error's text would carry the address and the body
        report.failed += 1
        log.error("e-mail reply could not be stored: left for the next poll", extra={"reason": type(exc).__name__})
        return True
    report.inbound_ids.append(inbound_id)
    if created:
        report.stored += 1
        report.unreadable += 1 if parsed.unreadable else 0
    else:
        report.repeated += 1
    _mark_seen(connection, uid)
    return True


def _size(connection: imaplib.IMAP4, uid: bytes) -> int | None:
    status, data = connection.uid("FETCH", uid.decode(), "(RFC822.SIZE)")
    if status != "OK":
        return None
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        match = re.search(rb"RFC822\.SIZE (\d+)", line or b"")
        if match:
            return int(match.group(1))
    return None


def _literal(data: list[object]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _mark_seen(connection: imaplib.IMAP4, uid: bytes) -> None:
    connection.uid("STORE", uid.decode(), "+FLAGS", r"(\Seen)")


def provider_sid_for(message_id: str | None, raw: bytes) -> str:
    """``imap:<Message-ID>`` (hashed when too long for the column); the content's hash without a Message-ID."""
    if message_id:
        sid = f"imap:{message_id}"
        return sid if len(sid) <= 120 else "imap:sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return "imap:content:" + hashlib.sha256(raw).hexdigest()


def store_email_reply(parsed: ParsedReply, raw: bytes) -> tuple[int, bool]:
    """Record the reply once (commit) and process it as a text is processed; (inbound id, first time)."""
    from gateway.pipeline import ports
    from gateway.pipeline.replies import process_inbound_message, record_inbound
    from gateway.translation import get_translator

    with session_scope() as session:
        inbound_id, created = record_inbound(session, provider_sid=provider_sid_for(parsed.message_id, raw),
                                             from_number=parsed.sender, to_number=None, body=parsed.body,
                                             source=SOURCE)
        if created and parsed.note:
            inbound = session.get(InboundMessage, inbound_id)
            if inbound is not None:
                inbound.note = parsed.note[:300]
    process_inbound_message(inbound_id)  # idempotent: a repeat does nothing; what it queues goes at commit
    if created:
        log.info("e-mail reply stored", extra={"inbound_id": inbound_id, "from": redact(parsed.sender)})
        if get_translator() is not None:
            # The worker adds the English translation (processing is done).
            ports.current().queue.process_inbound(inbound_id)
    return inbound_id, created


# -- reading one e-mail -------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never stored (PostgreSQL refuses NUL)
_AUTOMATIC_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)


def parse_email(raw: bytes, *, size: int | None = None, partial: bool = False) -> ParsedReply:
    """What to keep of ``raw`` (RFC 5322 bytes). Never raises: what cannot be read becomes a note."""
    notes: list[str] = []
    unreadable = partial
    if partial:
        megabytes = (size or len(raw)) / (1024 * 1024)
        notes.append(f"This e-mail is large ({megabytes:.1f} MB): only its beginning was read. "
                     "Open the office mailbox for the rest.")
    try:
        message = message_from_bytes(raw, policy=compat32)
    except Exception:
        notes.append("This e-mail could not be read. Open the office mailbox to see it.")
        return ParsedReply(None, UNKNOWN_SENDER, "", " ".join(notes), unreadable=True)
    message_id = _message_id(message)
    sender = _sender(message)
    if sender == UNKNOWN_SENDER:
        unreadable = True
        notes.append("The e-mail names no sender address.")
    try:
        text, attachments = _text_of(message)
        body = reply_text(text)
        if not body:
            subject = _header_text(message, "Subject")
            body = "" if re.match(r"^\s*(re|odp|aw|sv|rv|r|ynt)\s*:", subject, re.IGNORECASE) else subject.strip()
    except Exception:
        body, attachments, unreadable = "", 0, True
        notes.append("This e-mail could not be read. Open the office mailbox to see it.")
    body = _CONTROL.sub("", body)
    if len(body) > MAX_BODY_CHARACTERS:
        body = body[:MAX_BODY_CHARACTERS].rstrip() + " …"
        notes.append("A long e-mail: only its beginning is shown.")
    if attachments:
        notes.append(f"{attachments} attachment{'s' if attachments != 1 else ''} not opened "
                     "(see the office mailbox).")
    if not body and not notes:
        notes.append("The e-mail had no text.")
    return ParsedReply(message_id, sender, body, " ".join(notes) or None, _automatic(message, sender), unreadable)


def _header_text(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _message_id(message: Message) -> str | None:
    value = _header_text(message, "Message-ID").strip()
    match = re.search(r"<([^<>\s]+)>", value)
    found = match.group(1) if match else value.split()[0] if value.split() else ""
    return _CONTROL.sub("", found) or None


def _sender(message: Message) -> str:
    header = _header_text(message, "From")
    addresses = [address for _, address in getaddresses([header]) if address]
    address = addresses[0].strip() if addresses else ""
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or len(address) > 254 or re.search(r"[\s<>()\[\],;:\"]", address):
        return UNKNOWN_SENDER
    return f"{local}@{domain.lower()}"


def _automatic(message: Message, sender: str) -> bool:
    """An out-of-office answer, a bounce or list mail (RFC 3834 and the headers mail systems use)."""
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (auto != "no" or precedence in ("bulk", "junk", "list", "auto_reply")
            or any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "List-Id"))
            or message.get_content_type() == "multipart/report" or bool(_AUTOMATIC_SENDERS.match(sender)))


def _text_of(message: Message) -> tuple[str, int]:
    """(the message's text, the number of attachments): the plain part, else the HTML part reduced to text."""
    plain: str | None = None
    html: str | None = None
    attachments = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
        kind = part.get_content_type()
        if disposition == "attachment" or part.get_filename() or not kind.startswith("text/"):
            attachments += 1
            continue
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and html is None:
            html = _decoded(part)
    if plain is not None and plain.strip():
        return plain, attachments
    if html is not None:
        return html_to_text(html), attachments
    return plain or "", attachments


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "replace")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


class _TextExtractor(HTMLParser):
    """Visible text of an HTML e-mail; quoted blocks (``<blockquote>``), styles and scripts left out."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
    SKIPPED = frozenset({"blockquote", "style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(extractor.parts).splitlines()]
    return "\n".join(lines)


# Where the quoted message begins: an attribution line ("On Mon, … Anna wrote:", Polish "… napisał(a):", …),
# a forwarded or original-message divider, or an Outlook header block ("From: … / Sent: …").
_ATTRIBUTION = re.compile(
    r"(wrote|napisał\(a\)|napisał|napisała|pisze|a écrit|escribió|escreveu|schrieb|a scris|yazdı|rašė"
    r"|написал|написала|написав|написала|كتب)\s*:?\s*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*(-{2,}\s*(original message|forwarded message|oryginalna wiadomość|wiadomość oryginalna"
                      r"|message d'origine|mensaje original|mensagem original)\s*-{2,}|_{10,}|-{10,})\s*$",
                      re.IGNORECASE)
_HEADER_START = re.compile(r"^\s*\*?(from|od|de|von|от|від|van)\s*\*?\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|date|to|subject|wysłano|data|do|temat|envoyé|gesendet|enviado|"
                          r"datum|отправлено|надіслано)\s*\*?\s*:", re.IGNORECASE)
_SIGN_OFF = re.compile(r"^\s*(--\s*|sent from my .*|get outlook for .*|wysłane z .*|wysłano z .*|"
                       r"envoyé de mon .*|enviado desde mi .*|enviado do meu .*|gesendet von meinem .*|"
                       r"trimis de pe .*)$", re.IGNORECASE)


def reply_text(text: str) -> str:
    """The parent's own words: the text above the quoted message, without quoted (``>``) lines, the
    attribution line or the signature. Falls back to the unquoted lines when nothing stands above the quote
    (a reply written below it)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    own = _unquoted(lines[:cut])
    if not "".join(own).strip():
        rest = _unquoted([line for index, line in enumerate(lines[cut:], cut) if not _is_attribution(lines, index)])
        own = rest[:_quote_start(rest)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(own)).strip()


def _quote_start(lines: list[str]) -> int:
    """The index of the first line of quoted text or signature (``len(lines)`` when there is none)."""
    for index, line in enumerate(lines):
        following = lines[index + 1:index + 5]
        if (_DIVIDER.match(line) or _SIGN_OFF.match(line)
                or (_HEADER_START.match(line) and any(_HEADER_NEXT.match(n) for n in following))
                or _is_attribution(lines, index)):
            return index
    return len(lines)


def _is_attribution(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line or line.startswith(">"):
        return False
    if _ATTRIBUTION.search(line) and (line.endswith(":") or re.search(r"\d", line)):
        return True
    # Gmail wraps a long "On …, Name <address>" line before "wrote:".
    nxt = lines[index + 1].strip() if index + 1 < len(lines) else ""
    return bool(re.match(r"^(on|w dniu|le|el|em|am|în)\s", line, re.IGNORECASE) and nxt
                and _ATTRIBUTION.search(nxt) and nxt.endswith(":") and len(nxt) < 80)


def _unquoted(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if not line.lstrip().startswith(">")]
