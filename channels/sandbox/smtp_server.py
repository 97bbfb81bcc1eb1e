"""An SMTP sandbox (aiosmtpd) that keeps what it receives in a :class:`Mailbox`.

Optional STARTTLS with a certificate from a throw-away CA made at start (``trustme``; the client trusts
``ca_file``). Faults per address: ``mailbox.reject(address, "550 5.1.1 No such user")`` refuses it at RCPT
(or at DATA with ``stage="data"``), and a ``4xx`` reply plays a temporary failure.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.sandbox.runner import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    peer: str  # "host:port" of the client: one per connection, so tests can count connections
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """What the server received, and the faults it plays; thread-safe."""

    received: list[ReceivedMail] = field(default_factory=list)
    rcpt_faults: dict[str, str] = field(default_factory=dict)
    data_faults: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, address: str, reply: str, stage: Literal["rcpt", "data"] = "rcpt") -> None:
        """Answer ``reply`` (e.g. ``"550 5.1.1 No such user"``, ``"451 4.7.1 Try later"``) for ``address``."""
        with self._lock:
            (self.rcpt_faults if stage == "rcpt" else self.data_faults)[address.lower()] = reply

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.rcpt_faults.clear()
            self.data_faults.clear()

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.received)

    def connections_used(self) -> int:
        """How many distinct client connections carried mail."""
        with self._lock:
            return len({mail.peer for mail in self.received})

    def _store(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.received.append(mail)


class _MailboxHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        fault = self.mailbox.rcpt_faults.get(address.lower())
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            fault = self.mailbox.data_faults.get(address.lower())
            if fault:
                return fault
        peer = session.peer if isinstance(session.peer, tuple) else (str(session.peer), 0)
        raw = envelope.original_content or b""
        self.mailbox._store(
            ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(raw), f"{peer[0]}:{peer[1]}",
                         session.ssl is not None)
        )
        return "250 Message accepted for delivery"


class _TrackingController(Controller):  # type: ignore[misc]  # aiosmtpd is untyped
    """Remembers each connection's protocol object so a test can drop them all (to test reconnecting)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp = SMTP(self.handler, **self.SMTP_kwargs)
        self.sessions.append(smtp)
        return smtp


class SmtpSandbox:
    """A running SMTP sandbox: ``host``, ``port``, ``mailbox``; ``ca_file`` when STARTTLS is offered."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, starttls: bool = False,
                 require_starttls: bool = False) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.mailbox = Mailbox()
        self.ca_file: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        kwargs: dict[str, Any] = {}
        if starttls or require_starttls:
            kwargs["tls_context"] = self._make_tls_context()
            kwargs["require_starttls"] = require_starttls
        self._controller = _TrackingController(
            _MailboxHandler(self.mailbox), hostname=host, port=self.port, server_hostname="sandbox.invalid",
            ident="gateway-smtp-sandbox", **kwargs,
        )

    def _make_tls_context(self) -> ssl.SSLContext:
        import trustme  # only needed for STARTTLS: a test dependency

        ca = trustme.CA()
        cert = ca.issue_cert(self.host, "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tmp = tempfile.TemporaryDirectory(prefix="smtp-sandbox-")
        path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        self.ca_file = str(path)
        return context

    def start(self) -> SmtpSandbox:
        self._controller.start()
        return self

    def drop_connections(self) -> None:
        """Close every open client connection from the server side (as a relay's idle timeout does)."""
        def close_all() -> None:
            for smtp in self._controller.sessions:
                if smtp.transport is not None:
                    smtp.transport.close()

        self._controller.loop.call_soon_threadsafe(close_all)

    def stop(self) -> None:
        with contextlib.suppress(AssertionError):  # already stopped
            self._controller.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_smtp_sandbox(*, host: str = "127.0.0.1", port: int = 0, starttls: bool = False) -> SmtpSandbox:
    """Run the SMTP sandbox in a thread on ``host:port`` (0: a free port)."""
    return SmtpSandbox(host=host, port=port, starttls=starttls).start()
