"""E-mail through an SMTP relay with ``aiosmtplib``: a small pool of reused connections.

``send`` is a plain blocking call, safe from many worker threads: it hands the message to an event loop
running in a background thread, where up to ``pool_size`` SMTP sessions stay open between messages (a
connection per message roughly halves throughput, and relays throttle clients that reconnect for each).
A session the relay dropped while idle is reopened once, transparently. The message's bytes are composed
on the caller's thread (``channels.email_wire``, a few hundredths of a millisecond) and handed to
``SMTP.sendmail`` as they are, so the loop never builds or flattens a MIME tree.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import ssl
import threading
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from channels import errors
from channels.base import OutgoingMessage, Receipt
from channels.config import SmtpConfig
from channels.email_wire import WireEmail, email_bytes
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.status import DeliveryStatus
from gateway.logging_setup import redact

log = logging.getLogger(__name__)

_START_TLS = {"auto": None, "always": True, "never": False}  # aiosmtplib's start_tls: None = if offered


def build_email(message: OutgoingMessage, config: SmtpConfig, now: datetime | None = None) -> EmailMessage:
    """The message exactly as ``send`` puts it on the wire, parsed back (for previews and tests)."""
    parsed = email.message_from_bytes(email_bytes(message, config, now).raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


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
        # The bytes are composed here, on the caller's thread, before a pooled session is taken: the event loop
        # only speaks SMTP, and a session is held no longer than the exchange.
        wire = email_bytes(message, self.config)
        future = asyncio.run_coroutine_threadsafe(self._deliver(wire, message.to.strip()), self._loop)
        try:
            future.result(timeout=self.config.timeout * 3)
        except TimeoutError as exc:
            future.cancel()
            raise TransientDeliveryError(None, "timeout", "SMTP relay too slow") from exc
        log.info("email accepted", extra={"message_id": message.message_id, "to": redact(message.to)})
        return Receipt(provider_id=wire.message_id, status=DeliveryStatus.SENT, channel="email")

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

    async def _send_on(self, client: aiosmtplib.SMTP, wire: WireEmail, to: str) -> dict[str, aiosmtplib.SMTPResponse]:
        refused, _ = await client.sendmail(self.config.from_address, [to], wire.raw,
                                           mail_options=["SMTPUTF8"] if wire.smtputf8 else None)
        return refused

    async def _deliver(self, wire: WireEmail, to: str) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            reused = client is not None
            try:
                if client is None:
                    client = await self._connect()
                try:
                    refused = await self._send_on(client, wire, to)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # The relay closed the idle session (timeouts are common): reopen once.
                    client = await self._connect()
                    refused = await self._send_on(client, wire, to)
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
