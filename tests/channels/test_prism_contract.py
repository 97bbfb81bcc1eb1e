"""Our Twilio requests, validated by Prism against Twilio's own OpenAPI description (2xx = valid; 422 = ours
is wrong). CI sets GATEWAY_TEST_PRISM (the prism binary) and GATEWAY_TEST_TWILIO_OAI (twilio_api_v2010.json)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from channels.base import OutgoingMessage
from channels.config import TwilioConfig
from channels.errors import DeliveryError
from channels.sandbox.runner import free_port
from channels.twilio_client import ApiBaseHttpClient
from channels.twilio_sms import TwilioSmsChannel
from channels.twilio_voice import TwilioVoiceChannel

Channel = TypeVar("Channel", TwilioSmsChannel, TwilioVoiceChannel)

PRISM = os.environ.get("GATEWAY_TEST_PRISM")
SPEC = os.environ.get("GATEWAY_TEST_TWILIO_OAI")

pytestmark = pytest.mark.skipif(
    not (PRISM and SPEC),
    reason="Prism contract test needs GATEWAY_TEST_PRISM and GATEWAY_TEST_TWILIO_OAI (see ../shared/twilio-oai)",
)

ACCOUNT_SID = "AC" + "a1" * 16  # matches the spec's ^AC[0-9a-fA-F]{32}$


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    log = log_path.open("wb")  # a file, not a pipe: Prism logs every request and would fill a pipe
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 180  # it parses a 2 MB description first; slow on a busy machine
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prism exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("prism did not start within 180 s") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _config(api_url: str, **changes: object) -> TwilioConfig:
    values: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": "prism-token",
                                 "public_url": "https://gateway.school.example", "api_url": api_url,
                                 "from_number": "+447700900000", "mps": 100.0, "calls_per_second": 100.0,
                                 "timeout": 30.0}
    values.update(changes)
    return TwilioConfig(**values)  # type: ignore[arg-type]


class PrismDialectHttpClient(ApiBaseHttpClient):
    """Names list-valued form fields ``Name[]``, the only array spelling Prism 5 reads.

    Twilio wants repeated keys (``StatusCallbackEvent=a&StatusCallbackEvent=b``, the OpenAPI default
    ``style: form, explode: true``, and what the SDK sends), but Prism keeps only the last repeated key and
    then reports "must be array" (stoplightio/prism issue #2473). Only the spelling of arrays changes here;
    every other field is checked as sent."""

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, *args: Any, **kwargs: Any) -> Any:
        if data:
            data = {f"{key}[]" if isinstance(value, list) else key: value for key, value in data.items()}
        return super().request(method, uri, params, data, *args, **kwargs)


def _prism_dialect(channel: Channel) -> Channel:
    http = PrismDialectHttpClient(channel.config.api_url, timeout=channel.config.timeout)
    channel.client.http_client = http
    channel._http = http
    return channel


def _message(channel: str, same_day: bool = False) -> OutgoingMessage:
    return OutgoingMessage(42, "prism-1", channel, "+447700900123", "Amira was not in school today.",  # type: ignore[arg-type]
                           same_day=same_day)


def _accepted(channel: TwilioSmsChannel | TwilioVoiceChannel, message: OutgoingMessage) -> str:
    try:
        return channel.send(message).provider_id
    except DeliveryError as exc:
        pytest.fail(f"Prism refused our request (422 = invalid against Twilio's spec): {exc!r}")
    finally:
        channel.close()


def test_an_sms_from_a_number_is_valid(prism_url: str) -> None:
    assert _accepted(TwilioSmsChannel(_config(prism_url)), _message("sms", same_day=True))


def test_an_sms_through_a_messaging_service_is_valid(prism_url: str) -> None:
    config = _config(prism_url, from_number=None, messaging_service_sid="MG" + "b2" * 16)
    assert _accepted(TwilioSmsChannel(config), _message("sms"))


def test_a_call_with_machine_detection_is_valid(prism_url: str) -> None:
    assert _accepted(_prism_dialect(TwilioVoiceChannel(_config(prism_url))), _message("voice"))


def test_prism_does_refuse_an_invalid_request(prism_url: str) -> None:
    # Guards the test itself: a request the spec forbids (a malformed account SID) must not pass.
    channel = TwilioSmsChannel(_config(prism_url, account_sid="ACnot-a-sid"))
    try:
        with pytest.raises(DeliveryError):
            channel.send(_message("sms"))
    finally:
        channel.close()
