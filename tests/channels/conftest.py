"""Sandboxes shared by the channel tests: the Twilio fake over real HTTP and real aiosmtpd servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.config import SmtpConfig, TwilioConfig
from channels.sandbox.smtp_server import SmtpSandbox
from channels.sandbox.twilio_api import TwilioSandbox, start_twilio_sandbox

FROM_NUMBER = "+447700900000"


@pytest.fixture(scope="session")
def twilio_sandbox() -> Iterator[TwilioSandbox]:
    with start_twilio_sandbox(callback_delay=0.0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(twilio_sandbox: TwilioSandbox) -> Iterator[TwilioSandbox]:
    """The shared Twilio sandbox, with no faults or records left over from another test."""
    twilio_sandbox.state.reset()
    twilio_sandbox.state.send_callbacks = False
    yield twilio_sandbox
    twilio_sandbox.state.reset()


def twilio_config(sandbox: TwilioSandbox, **changes: object) -> TwilioConfig:
    values: dict[str, object] = {
        "account_sid": sandbox.state.account_sid,
        "auth_token": sandbox.state.auth_token,
        "public_url": "http://127.0.0.1:9",  # nobody listens: callbacks are not under test here
        "api_url": sandbox.url,
        "from_number": FROM_NUMBER,
        "mps": 1000.0,
        "calls_per_second": 1000.0,
        "timeout": 5.0,
    }
    values.update(changes)
    return TwilioConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def smtp_sandbox() -> Iterator[SmtpSandbox]:
    with SmtpSandbox() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_tls_sandbox() -> Iterator[SmtpSandbox]:
    with SmtpSandbox(starttls=True, require_starttls=True) as server:
        yield server


def smtp_config(server: SmtpSandbox, **changes: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "from_address": "office@oakfield.sch.uk",
        "from_name": "Oakfield Primary – Attendance",
        "reply_to": "office@oakfield.sch.uk",
        "starttls": "always" if server.ca_file else "never",
        "ca_file": server.ca_file,
        "pool_size": 2,
        "timeout": 10.0,
    }
    values.update(changes)
    return SmtpConfig(**values)  # type: ignore[arg-type]
