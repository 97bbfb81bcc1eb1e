"""One contract, every adapter: memory, Twilio SMS and voice (sandbox over HTTP), SMTP (aiosmtpd, STARTTLS)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from channels.base import Channel, OutgoingMessage
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.memory import MemoryChannel
from channels.sandbox.smtp_server import SmtpSandbox
from channels.sandbox.twilio_api import TwilioSandbox
from channels.smtp_email import SmtpEmailChannel
from channels.status import DeliveryStatus
from channels.twilio_sms import TwilioSmsChannel
from channels.twilio_voice import TwilioVoiceChannel

from .conftest import smtp_config, twilio_config

_ids = itertools.count(1)


@dataclass
class AdapterCase:
    """An adapter plus how to make it accept, refuse for good, and refuse for now."""

    channel: Channel
    name: str
    good_address: Callable[[], str]
    arrange_permanent: Callable[[], tuple[str, str]]  # -> (address, expected reason)
    arrange_transient: Callable[[], str]  # -> address

    def message(self, to: str) -> OutgoingMessage:
        n = next(_ids)
        return OutgoingMessage(n, f"key-{n}", self.name, to, "Amira was not in school today.",  # type: ignore[arg-type]
                               subject="Amira's absence", html="<p>Amira was not in school today.</p>")


def _numbers() -> Iterator[str]:
    for n in itertools.count(100):
        yield f"+4477009{n:05d}"


_number = _numbers()
_address = (f"parent{n}@example.org" for n in itertools.count())


def _memory_case() -> AdapterCase:
    channel = MemoryChannel("sms")

    def permanent() -> tuple[str, str]:
        to = next(_number)
        channel.faults[to] = PermanentDeliveryError("opted_out", "21610")
        return to, "opted_out"

    def transient() -> str:
        to = next(_number)
        channel.faults[to] = TransientDeliveryError(1.0, "20429")
        return to

    return AdapterCase(channel, "sms", lambda: next(_number), permanent, transient)


def _twilio_case(sandbox: TwilioSandbox, voice: bool) -> AdapterCase:
    config = twilio_config(sandbox)
    channel: Channel = TwilioVoiceChannel(config) if voice else TwilioSmsChannel(config)

    def permanent() -> tuple[str, str]:
        to = next(_number)
        sandbox.state.inject_error(to, 21211)
        return to, "invalid_number"

    def transient() -> str:
        sandbox.state.fail_next(1, 429, 20429, retry_after=2)
        return next(_number)

    return AdapterCase(channel, "voice" if voice else "sms", lambda: next(_number), permanent, transient)


def _smtp_case(server: SmtpSandbox) -> AdapterCase:
    channel = SmtpEmailChannel(smtp_config(server))
    addresses = _address

    def permanent() -> tuple[str, str]:
        to = next(addresses)
        server.mailbox.reject(to, "550 5.1.1 No such user")
        return to, "recipient_refused"

    def transient() -> str:
        to = next(addresses)
        server.mailbox.reject(to, "451 4.3.0 Mailbox busy, try later", stage="data")
        return to

    return AdapterCase(channel, "email", lambda: next(addresses), permanent, transient)


@pytest.fixture(params=["memory", "twilio_sms", "twilio_voice", "smtp", "smtp_starttls"])
def adapter(
    request: pytest.FixtureRequest, sandbox: TwilioSandbox, smtp_sandbox: SmtpSandbox, smtp_tls_sandbox: SmtpSandbox
) -> Iterator[AdapterCase]:
    case = {
        "memory": _memory_case,
        "twilio_sms": lambda: _twilio_case(sandbox, voice=False),
        "twilio_voice": lambda: _twilio_case(sandbox, voice=True),
        "smtp": lambda: _smtp_case(smtp_sandbox),
        "smtp_starttls": lambda: _smtp_case(smtp_tls_sandbox),
    }[request.param]()
    yield case
    case.channel.close()


def test_it_keeps_the_protocol(adapter: AdapterCase) -> None:
    assert isinstance(adapter.channel, Channel)


def test_an_accepted_send_returns_a_receipt(adapter: AdapterCase) -> None:
    receipt = adapter.channel.send(adapter.message(adapter.good_address()))
    assert receipt.provider_id
    assert receipt.channel == adapter.name
    assert receipt.status in (DeliveryStatus.QUEUED, DeliveryStatus.ACCEPTED, DeliveryStatus.SENT)


def test_a_permanent_refusal_raises_permanent_with_its_reason(adapter: AdapterCase) -> None:
    to, reason = adapter.arrange_permanent()
    with pytest.raises(PermanentDeliveryError) as caught:
        adapter.channel.send(adapter.message(to))
    assert caught.value.reason == reason
    assert caught.value.code


def test_a_temporary_refusal_raises_transient(adapter: AdapterCase) -> None:
    to = adapter.arrange_transient()
    with pytest.raises(TransientDeliveryError):
        adapter.channel.send(adapter.message(to))


def test_the_channel_still_works_after_a_refusal(adapter: AdapterCase) -> None:
    to, _ = adapter.arrange_permanent()
    with pytest.raises(PermanentDeliveryError):
        adapter.channel.send(adapter.message(to))
    assert adapter.channel.send(adapter.message(adapter.good_address())).provider_id


def test_concurrent_sends_get_distinct_receipts(adapter: AdapterCase) -> None:
    messages = [adapter.message(adapter.good_address()) for _ in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        receipts = list(pool.map(adapter.channel.send, messages))
    assert len({r.provider_id for r in receipts}) == len(messages)


def test_close_is_idempotent(adapter: AdapterCase) -> None:
    adapter.channel.send(adapter.message(adapter.good_address()))
    adapter.channel.close()
    adapter.channel.close()
