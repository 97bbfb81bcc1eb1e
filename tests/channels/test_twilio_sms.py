"""Twilio SMS against the sandbox over real HTTP: request shape, every error mapping, exactly-once, routing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from channels.base import OutgoingMessage
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.sandbox.runner import free_port
from channels.sandbox.twilio_api import TwilioSandbox
from channels.twilio_client import ApiBaseHttpClient, parse_retry_after
from channels.twilio_sms import TwilioSmsChannel, same_day_validity

from .conftest import FROM_NUMBER, twilio_config

_ids = itertools.count(1)


def sms(to: str = "+447700900123", same_day: bool = False) -> OutgoingMessage:
    n = next(_ids)
    return OutgoingMessage(n, f"sms-{n}", "sms", to, "Amira was not in school today.", same_day=same_day)


@pytest.fixture
def channel(sandbox: TwilioSandbox) -> TwilioSmsChannel:
    made = TwilioSmsChannel(twilio_config(sandbox, public_url="https://gw.school.example"))
    yield made  # type: ignore[misc]
    made.close()


def test_the_request_names_sender_body_and_status_callback(channel: TwilioSmsChannel, sandbox: TwilioSandbox) -> None:
    receipt = channel.send(sms())
    [record] = sandbox.state.messages()
    assert record.sid == receipt.provider_id and receipt.provider_id.startswith("SM")
    assert record.params["From"] == FROM_NUMBER
    assert record.params["To"] == "+447700900123"
    assert record.params["Body"] == "Amira was not in school today."
    assert record.params["StatusCallback"] == "https://gw.school.example/webhooks/twilio/status"
    assert "ValidityPeriod" not in record.params


def test_a_messaging_service_replaces_the_from_number(sandbox: TwilioSandbox) -> None:
    service = "MG" + "1" * 32
    channel = TwilioSmsChannel(twilio_config(sandbox, from_number=None, messaging_service_sid=service))
    try:
        channel.send(sms())
    finally:
        channel.close()
    [record] = sandbox.state.messages()
    assert record.params["MessagingServiceSid"] == service
    assert "From" not in record.params


def test_a_same_day_message_carries_a_validity_period(sandbox: TwilioSandbox) -> None:
    at_three = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # London is on GMT in November
    channel = TwilioSmsChannel(twilio_config(sandbox, now=lambda: at_three))
    try:
        channel.send(sms(same_day=True))
    finally:
        channel.close()
    [record] = sandbox.state.messages()
    assert record.params["ValidityPeriod"] == str(5 * 3600)  # until 20:00


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(9, 30, 36000), (15, 0, 18000), (19, 30, 3600), (22, 0, 3600)],
)
def test_same_day_validity_runs_to_the_evening_within_twilios_bounds(
    sandbox: TwilioSandbox, hour: int, minute: int, expected: int
) -> None:
    # BST in June: 14:00 UTC is 15:00 in London.
    when = datetime(2026, 6, 10, hour - 1, minute, tzinfo=UTC)
    assert same_day_validity(when, twilio_config(sandbox)) == expected


@pytest.mark.parametrize(
    ("code", "reason"),
    [(21211, "invalid_number"), (21614, "not_mobile"), (21610, "opted_out"), (21408, "region_not_enabled"),
     (21612, "rejected"), (21601, "rejected")],
)
def test_twilio_refusals_are_permanent_with_a_reason(
    channel: TwilioSmsChannel, sandbox: TwilioSandbox, code: int, reason: str
) -> None:
    sandbox.state.inject_error("+447700900555", code)
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(sms("+447700900555"))
    assert (caught.value.reason, caught.value.code) == (reason, str(code))


@pytest.mark.parametrize(
    ("number", "reason"),
    [("+15005550001", "invalid_number"), ("+15005550003", "region_not_enabled"), ("+15005550004", "opted_out"),
     ("+15005550009", "not_mobile")],
)
def test_twilios_magic_test_numbers_behave_as_documented(channel: TwilioSmsChannel, number: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(sms(number))
    assert caught.value.reason == reason


def test_numbers_ending_in_chosen_digits_fail(channel: TwilioSmsChannel, sandbox: TwilioSandbox) -> None:
    sandbox.state.inject_suffix_error("77", 21614)
    with pytest.raises(PermanentDeliveryError, match="not_mobile"):
        channel.send(sms("+447700900177"))
    assert channel.send(sms("+447700900178")).provider_id


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(429, 20429, 3.0), (429, 20429, None), (503, 20503, None), (500, 20500, 1.5), (502, 502, None)],
)
def test_overload_and_server_errors_are_transient(
    channel: TwilioSmsChannel, sandbox: TwilioSandbox, status: int, code: int, retry_after: float | None
) -> None:
    sandbox.state.fail_next(1, status, code, retry_after)
    with pytest.raises(TransientDeliveryError) as caught:
        channel.send(sms())
    assert caught.value.code == str(code)
    assert caught.value.retry_after == retry_after


def test_a_provider_that_is_down_is_transient(sandbox: TwilioSandbox) -> None:
    channel = TwilioSmsChannel(twilio_config(sandbox, api_url=f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            channel.send(sms())
    finally:
        channel.close()
    assert caught.value.code == "connection_error"


def test_a_provider_too_slow_to_answer_is_transient(sandbox: TwilioSandbox) -> None:
    sandbox.state.set_latency(2.0)
    channel = TwilioSmsChannel(twilio_config(sandbox, timeout=0.2))
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            channel.send(sms())
    finally:
        channel.close()
    assert caught.value.code == "timeout"


def test_wrong_credentials_are_transient_for_the_operator_to_fix(sandbox: TwilioSandbox) -> None:
    channel = TwilioSmsChannel(twilio_config(sandbox, auth_token="wrong"))
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            channel.send(sms())
    finally:
        channel.close()
    assert caught.value.code == "20003"


def test_each_send_reaches_the_provider_exactly_once(channel: TwilioSmsChannel, sandbox: TwilioSandbox) -> None:
    message = sms()
    sandbox.state.fail_next(1, 429, 20429)
    with pytest.raises(TransientDeliveryError):
        channel.send(message)
    channel.send(message)  # the pipeline's retry
    assert sandbox.state.attempts_per_key[message.idempotency_key] == 2
    assert len(sandbox.state.messages()) == 1
    others = [sms() for _ in range(5)]
    for other in others:
        channel.send(other)
    assert all(sandbox.state.attempts_per_key[m.idempotency_key] == 1 for m in others)


def test_every_request_goes_to_the_api_url_even_with_a_region_and_edge(
    sandbox: TwilioSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK rewrites its host to api.dublin.ie1.twilio.com for these; the sandbox must still get it.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    channel = TwilioSmsChannel(twilio_config(sandbox))
    try:
        assert channel.client.get_hostname("https://api.twilio.com/x") == "https://api.dublin.ie1.twilio.com/x"
        assert channel.send(sms()).provider_id
    finally:
        channel.close()


def test_routing_keeps_the_path_and_query_and_adds_a_prefix() -> None:
    client = ApiBaseHttpClient("http://127.0.0.1:4010/twilio/")
    routed = client.route("https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5")
    assert routed == "http://127.0.0.1:4010/twilio/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"


def test_connections_are_kept_per_thread(channel: TwilioSmsChannel) -> None:
    http = channel.client.http_client
    assert http._session() is http._session()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: go now


def test_problem_details_errors_map_by_code_too() -> None:
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException

    from channels.twilio_client import map_twilio_error

    problem = TwilioServiceException("https://www.twilio.com/docs/errors/21610", "Unsubscribed", 400, 21610)
    mapped = map_twilio_error(problem, None)
    assert isinstance(mapped, PermanentDeliveryError) and mapped.reason == "opted_out"
    plain_502 = TwilioRestException(502, "/x", "Bad gateway", 502)  # a proxy's HTML page: code = HTTP status
    assert isinstance(map_twilio_error(plain_502, 4.0), TransientDeliveryError)


def test_every_request_to_the_provider_takes_a_permit(sandbox: TwilioSandbox) -> None:
    from channels.rate_limit import RateLimiter

    class CountingLimiter(RateLimiter):
        def __init__(self) -> None:
            super().__init__(1000)
            self.taken = 0

        def acquire(self, timeout: float | None = None) -> int:
            self.taken += 1
            return super().acquire(timeout)

    limiter = CountingLimiter()
    channel = TwilioSmsChannel(twilio_config(sandbox), limiter)
    try:
        channel.send(sms())
        sandbox.state.fail_next(1, 429, 20429)
        with pytest.raises(TransientDeliveryError):
            channel.send(sms())  # refused, but it still reached the provider: it counts
    finally:
        channel.close()
    assert limiter.taken == 2
