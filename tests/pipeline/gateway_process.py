"""Run a ``gateway`` command in a child process with the test stand-ins the parent asked for.

``python -m tests.pipeline.gateway_process scheduler`` behaves like ``gateway scheduler``; the environment
variable ``PIPELINE_TEST_STANDINS`` (comma-separated) installs stand-ins first:

* ``render``: the fake renderer (used while gateway.rendering is not complete);
* ``sandbox_lookup``: gives the SMS channel a ``find_sent`` that asks the Twilio sandbox what it accepted
  (by idempotency key), standing in for the provider lookup the reconciler relies on.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx


class SandboxLookup:
    """Wraps the real channel set; ``sms.find_sent`` asks the sandbox's record of accepted messages."""

    def __init__(self, inner: Any, api_url: str) -> None:
        self._inner = inner
        self._api_url = api_url
        self.email, self.voice = inner.email, inner.voice
        self.sms = _LookupChannel(inner.sms, api_url)

    def close(self) -> None:
        self._inner.close()


class _LookupChannel:
    def __init__(self, inner: Any, api_url: str) -> None:
        self._inner = inner
        self._api_url = api_url

    def send(self, message: Any) -> Any:
        return self._inner.send(message)

    def close(self) -> None:
        self._inner.close()

    def find_sent(self, message: Any) -> Any:
        from channels.base import Receipt
        from channels.status import DeliveryStatus

        records = httpx.get(f"{self._api_url}/_sandbox/records", timeout=10).json()
        for record in records:
            if record["idempotency_key"] == message.idempotency_key:
                return Receipt(record["sid"], DeliveryStatus.QUEUED, "sms")
        return None


def install(standins: list[str]) -> None:
    """Install the named stand-ins in this process."""
    from gateway.pipeline import collaborators

    overrides: dict[str, Any] = {}
    if "render" in standins:
        from tests.pipeline.conftest import fake_render

        overrides["render"] = fake_render
    if "sandbox_lookup" in standins:
        from channels.factory import build_channels
        from gateway.channel_config import channel_config_from_settings
        from gateway.config import get_settings

        real = build_channels(channel_config_from_settings(get_settings()))
        overrides["channels"] = SandboxLookup(real, get_settings().twilio_api_url)
    collaborators._overrides.update(overrides)


def main() -> None:
    install([s for s in os.environ.get("PIPELINE_TEST_STANDINS", "").split(",") if s])
    from gateway.cli.main import main as gateway_main

    gateway_main(sys.argv[1:])


if __name__ == "__main__":
    main()
