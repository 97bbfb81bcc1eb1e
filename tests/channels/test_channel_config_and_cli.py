"""Settings -> ChannelConfig -> ChannelSet, and the ``gateway send`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from channels.errors import PermanentDeliveryError
from channels.factory import ChannelNotConfigured, build_channels
from channels.memory import MemoryChannel
from channels.smtp_email import SmtpEmailChannel
from channels.twilio_sms import TwilioSmsChannel
from gateway.channel_config import (
    SANDBOX_FROM_NUMBER,
    SandboxAddresses,
    channel_config_from_settings,
    running_sandboxes,
)
from gateway.config import SANDBOX_ACCOUNT_SID, load_settings


def _templates_render() -> bool:
    """True once gateway.rendering and the absence_first_day templates exist (written alongside)."""
    try:
        from datetime import date

        from gateway.cli.send import example_context
        from gateway.rendering import render_message  # type: ignore[import-untyped, import-not-found, unused-ignore]

        for channel in ("sms", "email"):
            render_message("absence_first_day", locale="en-GB", channel=channel, context=example_context(date.today()))
    except Exception:
        return False
    return True


HAS_RENDERING = _templates_render()


def test_sandbox_mode_uses_the_sandbox_credentials_and_addresses() -> None:
    settings = load_settings(channels="sandbox", public_url="https://gw.example/")
    where = SandboxAddresses("http://127.0.0.1:1234", "127.0.0.1", 2525)
    config = channel_config_from_settings(settings, sandbox=where)
    assert config.sandbox and config.twilio is not None and config.smtp is not None
    assert config.twilio.account_sid == SANDBOX_ACCOUNT_SID
    assert config.twilio.api_url == "http://127.0.0.1:1234"
    assert config.twilio.from_number == SANDBOX_FROM_NUMBER
    assert config.twilio.status_callback_url == "https://gw.example/webhooks/twilio/status"
    assert config.twilio.voice_url(7) == "https://gw.example/webhooks/twilio/voice/7"
    assert (config.smtp.host, config.smtp.port, config.smtp.starttls) == ("127.0.0.1", 2525, "never")


def test_live_mode_takes_everything_from_settings() -> None:
    settings = load_settings(
        channels="live", twilio_account_sid="AC" + "1" * 32, twilio_auth_token="t", twilio_from_number="+447700900001",
        twilio_api_url="http://127.0.0.1:4010/", twilio_mps=25, broker_url="redis://127.0.0.1:6379/3",
        smtp_host="smtp.example", smtp_port=2525, smtp_from="Oakfield Primary <office@oakfield.sch.uk>",
        smtp_starttls="always",
    )
    config = channel_config_from_settings(settings)
    assert config.twilio is not None and config.smtp is not None
    assert config.twilio.api_url == "http://127.0.0.1:4010"
    assert config.twilio.mps == 25 and config.twilio.redis_url == "redis://127.0.0.1:6379/3"
    assert (config.smtp.from_name, config.smtp.from_address) == ("Oakfield Primary", "office@oakfield.sch.uk")
    assert config.smtp.starttls == "always"


def test_the_factory_builds_each_channel_and_closes_them_once() -> None:
    settings = load_settings(channels="sandbox")
    channels = build_channels(channel_config_from_settings(settings))
    try:
        assert isinstance(channels.sms, TwilioSmsChannel)
        assert isinstance(channels.email, SmtpEmailChannel)
        assert channels.get("voice") is channels.voice
    finally:
        channels.close()
        channels.close()


def test_a_channel_without_settings_refuses_permanently() -> None:
    settings = load_settings(channels="live", twilio_account_sid="AC" + "1" * 32, twilio_auth_token="t",
                             twilio_from_number="+447700900001")
    channels = build_channels(channel_config_from_settings(settings))
    try:
        with pytest.raises(ChannelNotConfigured) as caught:
            channels.email.send(None)  # type: ignore[arg-type]
        assert isinstance(caught.value, PermanentDeliveryError) and caught.value.reason == "not_configured"
    finally:
        channels.close()


def test_running_sandboxes_deliver_a_text_and_an_email() -> None:
    from channels.base import OutgoingMessage

    with running_sandboxes(load_settings(channels="sandbox")) as (config, twilio, smtp):
        channels = build_channels(config)
        try:
            channels.sms.send(OutgoingMessage(1, "k1", "sms", "+447700900123", "hello"))
            channels.email.send(OutgoingMessage(2, "k2", "email", "a@example.org", "hello", subject="hi"))
        finally:
            channels.close()
        assert len(twilio.state.messages()) == 1 and len(smtp.mailbox.messages()) == 1


def _gateway(args: list[str]) -> tuple[int, str, str]:
    from gateway.cli.main import cli

    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("channel", "address", "problem"),
    [("sms", "07700 90012", "not a valid phone number"), ("sms", "01632 960001", "cannot take a text"),
     ("email", "anna at example", "--to"), ("voice", "call me", "--to")],
)
def test_send_refuses_a_bad_address_in_one_line(channel: str, address: str, problem: str) -> None:
    code, _, err = _gateway(["send", "absence_first_day", "--channel", channel, "--to", address, "--locale", "en-GB"])
    assert code != 0
    assert problem in err
    assert len([line for line in err.strip().splitlines() if line.startswith("Error")]) == 1


@pytest.mark.skipif(not HAS_RENDERING, reason="templates for absence_first_day not there yet")
def test_send_renders_sends_and_prints_the_receipt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gateway.config import get_settings

    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        code, out, err = _gateway(["send", "absence_first_day", "--channel", "sms", "--to", "07700 900123",
                                   "--locale", "en-GB", "--json"])
        assert code == 0, err
        receipt = json.loads(out)
        assert receipt["provider_id"].startswith("SM") and receipt["status"] == "queued"
        code, out, err = _gateway(["send", "absence_first_day", "--channel", "email", "--to", "anna@example.org",
                                   "--locale", "pl"])
        assert code == 0, err
        assert out.startswith("sent: email <")
    finally:
        get_settings.cache_clear()


def test_memory_channel_answers_a_repeated_key_with_its_first_receipt() -> None:
    from channels.base import OutgoingMessage

    channel = MemoryChannel()
    message = OutgoingMessage(1, "same", "sms", "+447700900123", "hello")
    assert channel.send(message) == channel.send(message)
    assert len(channel.outbox) == 1 and channel.sends_per_key["same"] == 2


def test_sandbox_mode_defaults_to_the_sandbox_the_web_app_mounts() -> None:
    settings = load_settings(channels="sandbox", public_url="http://127.0.0.1:8000")
    config = channel_config_from_settings(settings)
    assert config.twilio is not None
    assert config.twilio.api_url == "http://127.0.0.1:8000/sandbox/twilio"


@pytest.mark.parametrize(
    ("channel", "address", "printed"),
    [("sms", "07700 900123", "sent: sms SM"), ("email", "anna@example.org", "sent: email <"),
     ("voice", "01632 960001", "sent: voice CA")],
)
def test_send_sends_what_the_renderer_made_through_the_sandboxes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, channel: str, address: str, printed: str
) -> None:
    """The command's own work, with a stand-in renderer (the real one is tested with the templates)."""
    import sys
    import types
    from dataclasses import dataclass

    from gateway.config import get_settings

    @dataclass(frozen=True)
    class Voice:
        language: str = "pl-PL"
        voice: str = "Polly.Ola-Neural"
        prompt: str | None = "Naciśnij 1"

    @dataclass(frozen=True)
    class Rendered:
        locale: str
        text: str
        subject: str | None
        html: str | None
        voice: Voice | None

    seen: list[dict[str, object]] = []

    def render_message(kind: str, *, locale: str, channel: str, context: dict[str, object]) -> Rendered:
        seen.append({"kind": kind, "locale": locale, "channel": channel, "context": context})
        return Rendered(locale, "Amira nie było dziś w szkole.", "Nieobecność" if channel == "email" else None,
                        "<p>Amira</p>" if channel == "email" else None, Voice() if channel == "voice" else None)

    fake = types.ModuleType("gateway.rendering")
    fake.render_message = render_message  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gateway.rendering", fake)
    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(tmp_path))
    context_file = tmp_path / "context.json"
    context_file.write_text(json.dumps({"school": {"name": "Oakfield"}, "date": "2026-11-23"}))
    get_settings.cache_clear()
    try:
        code, out, err = _gateway(["send", "absence_first_day", "--channel", channel, "--to", address,
                                   "--locale", "pl", "--context", str(context_file)])
    finally:
        get_settings.cache_clear()
    assert code == 0, err
    assert out.startswith(printed)
    [call] = seen
    assert call["kind"] == "absence_first_day" and call["locale"] == "pl" and call["channel"] == channel
    from datetime import date

    assert call["context"]["date"] == date(2026, 11, 23)  # type: ignore[index]


def test_sandbox_mode_sends_e_mail_to_an_explicit_smtp_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.channel_config import channel_config_from_settings
    from gateway.config import load_settings

    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", "2526")
    config = channel_config_from_settings(load_settings())
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2526)
