"""Signed status callbacks from the sandbox to a receiving app, parsed; a voice call's TwiML round trip."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channels.base import OutgoingMessage
from channels.sandbox.runner import RunningServer, serve_in_thread
from channels.sandbox.twilio_api import TwilioSandbox
from channels.status import DeliveryStatus, StatusUpdate, parse_status_callback
from channels.twilio_signature import is_valid_signature
from channels.twilio_sms import TwilioSmsChannel
from channels.twilio_voice import (
    TwilioVoiceChannel,
    call_twiml,
    gather_reply_twiml,
    is_voicemail,
    voicemail_twiml,
)

from .conftest import twilio_config

_ids = itertools.count(1)


@dataclass
class Receiver:
    """Plays the gateway's webhooks: checks signatures, records status updates, answers TwiML."""

    auth_token: str
    base_url: str = ""
    updates: list[StatusUpdate] = field(default_factory=list)
    bad_signatures: int = 0
    digits: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def _checked(self, request: Request) -> dict[str, str] | None:
        params = {k: str(v) for k, v in (await request.form()).items()}
        url = self.base_url + request.url.path
        if not is_valid_signature(self.auth_token, url, params, request.headers.get("X-Twilio-Signature")):
            with self.lock:
                self.bad_signatures += 1
            return None
        return params

    def app(self) -> Starlette:
        async def status(request: Request) -> Response:
            params = await self._checked(request)
            if params is None:
                return Response(status_code=403)
            with self.lock:
                self.updates.append(parse_status_callback(params))
            return Response(status_code=204)

        async def voice(request: Request) -> Response:
            params = await self._checked(request)
            if params is None:
                return Response(status_code=403)
            gather = f"{self.base_url}{request.url.path}/gather"
            if is_voicemail(params.get("AnsweredBy")):
                twiml = voicemail_twiml("Please call the school office.", "en-GB", "Polly.Amy")
            else:
                twiml = call_twiml("Amira was not in school today.", "en-GB", "Polly.Amy", gather, "Press 1 if ill.")
            return Response(twiml, media_type="application/xml")

        async def gathered(request: Request) -> Response:
            params = await self._checked(request)
            if params is None:
                return Response(status_code=403)
            with self.lock:
                self.digits.append(params["Digits"])
            return Response(gather_reply_twiml("Thank you.", "en-GB", "Polly.Amy"), media_type="application/xml")

        return Starlette(routes=[
            Route("/webhooks/twilio/status", status, methods=["POST"]),
            Route("/webhooks/twilio/voice/{id}", voice, methods=["POST"]),
            Route("/webhooks/twilio/voice/{id}/gather", gathered, methods=["POST"]),
        ])

    def wait_for(self, provider_id: str, final: DeliveryStatus, limit: float = 10.0) -> list[StatusUpdate]:
        """Updates for ``provider_id`` once ``final`` arrived (waits; no timing assertion)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                mine = [u for u in self.updates if u.provider_id == provider_id]
            if any(u.status == final for u in mine):
                return mine
            time.sleep(0.02)
        raise AssertionError(f"no {final} callback for {provider_id}; got {mine}")


@pytest.fixture
def receiver(sandbox: TwilioSandbox) -> Iterator[Receiver]:
    sandbox.state.send_callbacks = True
    receiver = Receiver(sandbox.state.auth_token)
    server: RunningServer = serve_in_thread(receiver.app())
    receiver.base_url = server.url
    try:
        yield receiver
    finally:
        server.stop()


def message(channel: str, to: str = "+447700900123") -> OutgoingMessage:
    n = next(_ids)
    return OutgoingMessage(n, f"cb-{n}", channel, to, "Amira was not in school today.")  # type: ignore[arg-type]


def test_a_delivered_text_reports_queued_sent_delivered_signed(sandbox: TwilioSandbox, receiver: Receiver) -> None:
    channel = TwilioSmsChannel(twilio_config(sandbox, public_url=receiver.base_url))
    try:
        receipt = channel.send(message("sms"))
    finally:
        channel.close()
    updates = receiver.wait_for(receipt.provider_id, DeliveryStatus.DELIVERED)
    assert [u.status for u in updates] == [DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
    assert updates[-1].status.is_success and updates[-1].permanent_reason is None
    assert receiver.bad_signatures == 0


@pytest.mark.parametrize(
    ("code", "final", "reason", "retryable"),
    [(30003, DeliveryStatus.UNDELIVERED, None, True), (30005, DeliveryStatus.FAILED, "unknown_number", False),
     (30006, DeliveryStatus.FAILED, "not_mobile", False), (30007, DeliveryStatus.UNDELIVERED, "filtered", False),
     (30008, DeliveryStatus.UNDELIVERED, "undeliverable", False)],
)
def test_a_late_failure_arrives_in_the_callback_with_its_reason(
    sandbox: TwilioSandbox, receiver: Receiver, code: int, final: DeliveryStatus, reason: str | None, retryable: bool
) -> None:
    sandbox.state.inject_async_error("+447700900300", code)
    channel = TwilioSmsChannel(twilio_config(sandbox, public_url=receiver.base_url))
    try:
        receipt = channel.send(message("sms", "+447700900300"))
    finally:
        channel.close()
    last = receiver.wait_for(receipt.provider_id, final)[-1]
    assert (last.error_code, last.permanent_reason, last.retryable) == (str(code), reason, retryable)


def test_a_call_asks_for_our_twiml_and_a_key_press_reaches_the_gather_url(
    sandbox: TwilioSandbox, receiver: Receiver
) -> None:
    channel = TwilioVoiceChannel(twilio_config(sandbox, public_url=receiver.base_url))
    try:
        sent = message("voice")
        receipt = channel.send(sent)
    finally:
        channel.close()
    [record] = sandbox.state.calls()
    assert record.params["Url"] == f"{receiver.base_url}/webhooks/twilio/voice/{sent.message_id}"
    assert record.params["MachineDetection"] == "DetectMessageEnd"
    assert record.params["StatusCallback"] == f"{receiver.base_url}/webhooks/twilio/status"
    assert record.params["StatusCallbackEvent"] == "initiated ringing answered completed"
    updates = receiver.wait_for(receipt.provider_id, DeliveryStatus.COMPLETED)
    assert [u.status for u in updates] == [DeliveryStatus.INITIATED, DeliveryStatus.RINGING, DeliveryStatus.ANSWERED,
                                           DeliveryStatus.COMPLETED]
    assert updates[-1].answered_by == "human" and not updates[-1].reached_machine
    assert record.twiml is not None and "<Gather" in record.twiml
    reply = sandbox.state.press_digit(receipt.provider_id, "1")
    assert reply is not None and "Thank you." in reply
    assert receiver.digits == ["1"]


def test_a_voicemail_gets_the_short_message(sandbox: TwilioSandbox, receiver: Receiver) -> None:
    sandbox.state.set_answered_by("+447700900400", "machine_end_beep")
    channel = TwilioVoiceChannel(twilio_config(sandbox, public_url=receiver.base_url))
    try:
        receipt = channel.send(message("voice", "+447700900400"))
    finally:
        channel.close()
    updates = receiver.wait_for(receipt.provider_id, DeliveryStatus.COMPLETED)
    assert updates[-1].reached_machine
    record = sandbox.state.find(receipt.provider_id)
    assert record is not None and record.twiml is not None
    assert "Please call the school office." in record.twiml and "<Gather" not in record.twiml
