"""E-mail through an SMTP relay with ``aiosmtplib``: a small pool of reused connections.

``send`` is a plain blocking call, safe from many worker threads: it hands the message to an event loop
running in a background thread, where up to ``pool_size`` SMTP sessions stay open between messages (a
connection per message roughly halves throughput, and relays throttle clients that reconnect for each).
A session the relay dropped while idle is reopened once, transparently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import threading
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from channels import errors
from channels.base import OutgoingMessage, Receipt
from channels.config import SmtpConfig
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.status import DeliveryStatus
from gateway.logging_setup import redact

log = logging.getLogger(__name__)

_START_TLS = {"auto": None, "always": True, "never": False}  # aiosmtplib's start_tls: None = if offered


def _address(text: str, display_name: str | None = None) -> Address:
    local, _, domain = text.strip().rpartition("@")
    if not local or not domain:
        raise PermanentDeliveryError(errors.INVALID_ADDRESS, None, "not an e-mail address")
    return Address(display_name=display_name or "", username=local, domain=domain)


def build_email(message: OutgoingMessage, config: SmtpConfig, now: datetime | None = None) -> EmailMessage:
    """The RFC 5322 message: multipart/alternative (text, then HTML when given) with the school's headers."""
    sender = _address(config.from_address, config.from_name)
    email = EmailMessage()
    email["From"] = sender  # the UTF-8 display name is encoded per RFC 2047 by the email package
    email["To"] = _address(message.to)
    reply_to = message.reply_to or config.reply_to
    if reply_to:
        email["Reply-To"] = _address(reply_to)
    email["Subject"] = message.subject or ""
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = message_id_for(message, sender)
    # Quoted-printable keeps the message 7-bit clean for relays without 8BITMIME.
    email.set_content(message.text, cte="quoted-printable")
    if message.html:
        email.add_alternative(message.html, subtype="html", cte="quoted-printable")
    # After the body: set_content and add_alternative move Content-* headers into the parts.
    email["Content-Language"] = message.locale
    return email


def message_id_for(message: OutgoingMessage, sender: Address) -> str:
    """The same Message-ID every time one outbox message is sent: ``<{digest}.gw{outbox id}@{sender domain}>``.

    SMTP cannot tell us afterwards whether a relay accepted a message, so a worker killed between the relay's
    250 and our commit re-sends it (at least once). A stable Message-ID lets receiving systems that de-duplicate
    by Message-ID (many do) collapse that second copy, and lets staff see it is the same message. The digest is
    over the idempotency key and the sender's address, so two schools never share an id."""
    digest = hashlib.sha256(f"{message.idempotency_key}\n{sender.addr_spec}".encode()).hexdigest()[:24]
    return f"<{digest}.gw{message.message_id}@{sender.domain}>"


class SmtpEmailChannel:
    """``send`` delivers one e-mail through a pooled SMTP session; SMTP 4xx -> transient, 5xx -> permanent."""

    name = "email"

    def __init__(self, config: SmtpConfig, *, reuse_connections: bool = True) -> None:
        self.config = config
        self.reuse_connections = reuse_connections
        self.connections_opened = 0
        self._tls_context = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        self._idle: list[aiosmtplib.SMTP] = []
        self._loop = asyncio.new_event_loop()
        self._slots = asyncio.Semaphore(max(1, config.pool_size))
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-pool", daemon=True)
        self._thread.start()

    def send(self, message: OutgoingMessage) -> Receipt:
        """Send one e-mail now; raise PermanentDeliveryError / TransientDeliveryError when it is refused."""
        if self._closed:
            raise RuntimeError("channel is closed")
        email = build_email(message, self.config)
        future = asyncio.run_coroutine_threadsafe(self._deliver(email, message.to.strip()), self._loop)
        try:
            future.result(timeout=self.config.timeout * 3)
        except TimeoutError as exc:
            future.cancel()
            raise TransientDeliveryError(None, "timeout", "SMTP relay too slow") from exc
        log.info("email accepted", extra={"message_id": message.message_id, "to": redact(message.to)})
        return Receipt(provider_id=str(email["Message-ID"]), status=DeliveryStatus.SENT, channel="email")

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.config.host,
            port=self.config.port,
            start_tls=_START_TLS[self.config.starttls],
            tls_context=self._tls_context,
            timeout=self.config.timeout,
        )
        await client.connect()
        self.connections_opened += 1
        if self.config.username and self.config.password:
            await client.login(self.config.username, self.config.password)
        return client

    async def _deliver(self, email: EmailMessage, to: str) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            reused = client is not None
            try:
                if client is None:
                    client = await self._connect()
                try:
                    refused, _ = await client.send_message(email, sender=self.config.from_address, recipients=[to])
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # The relay closed the idle session (timeouts are common): reopen once.
                    client = await self._connect()
                    refused, _ = await client.send_message(email, sender=self.config.from_address, recipients=[to])
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._release(client)
                code = exc.recipients[0].code if exc.recipients else 550
                raise _smtp_error(code, str(exc.recipients[0].message) if exc.recipients else "", rcpt=True) from exc
            except aiosmtplib.SMTPAuthenticationError as exc:
                await _quietly_close(client)
                raise TransientDeliveryError(None, str(exc.code), "the SMTP relay refused our login") from exc
            except aiosmtplib.SMTPResponseException as exc:
                self._release(client)  # aiosmtplib has sent RSET: the session is reusable
                raise _smtp_error(exc.code, exc.message, rcpt=isinstance(exc, aiosmtplib.SMTPRecipientRefused)) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                await _quietly_close(client)
                raise TransientDeliveryError(None, "connection", type(exc).__name__) from exc
            self._release(client)
            if to in refused:
                # Partial refusal: the relay took the message for nobody we asked for.
                raise _smtp_error(refused[to].code, refused[to].message, rcpt=True)

    def _release(self, client: aiosmtplib.SMTP | None) -> None:
        if client is None:
            return
        if self.reuse_connections and client.is_connected and not self._closed:
            self._idle.append(client)
        else:
            self._loop.create_task(_quietly_close(client))

    def close(self) -> None:
        """Say QUIT on every idle session and stop the loop (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True

        async def quit_all() -> None:
            # On the loop's thread: the pool's list is only ever touched there.
            idle, self._idle = self._idle, []
            await asyncio.gather(*(_quietly_close(client) for client in idle))

        try:
            asyncio.run_coroutine_threadsafe(quit_all(), self._loop).result(timeout=self.config.timeout)
        except Exception:  # closing must not fail: the relay may already be gone
            log.warning("smtp pool: closing sessions failed", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self.config.timeout)
        self._loop.close()


def _smtp_error(code: int, text: str, *, rcpt: bool) -> Exception:
    if 400 <= code < 500:
        return TransientDeliveryError(None, str(code), "the SMTP relay asked us to try later")
    reason = errors.RECIPIENT_REFUSED if rcpt else errors.BOUNCED
    # The reply text may quote the address: keep it out of the exception (it ends up in logs).
    return PermanentDeliveryError(reason, str(code), "refused by the SMTP relay")


async def _quietly_close(client: aiosmtplib.SMTP | None) -> None:
    if client is None or not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
