"""``gateway send KIND --channel C --to ADDRESS --locale L [--context FILE.json]``: one message now.

An operator's check that a channel works end to end: renders the template, sends it through the configured
channel (in sandbox mode through sandboxes started for the command) and prints the provider's receipt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from channels.base import ChannelName, OutgoingMessage, Receipt
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.factory import ChannelSet, build_channels
from gateway.channel_config import channel_config_from_settings, running_sandboxes
from gateway.cli.common import emit_json

# Date-valued context keys (JSON has no dates): parsed from ISO text.
_DATE_KEYS = ("date", "start_date")


def example_context(today: date) -> dict[str, Any]:
    """A context every template renders with, for a check without ``--context``."""
    return {
        "school": {"name": "Oakfield Primary School", "phone": "01632 960000", "staff_name": "Mrs Patel"},
        "recipient": {"title": "Ms", "forename": "Anna", "surname": "Nowak"},
        "pupils": [{"forename": "Amira", "surname": "Nowak"}],
        "date": today,
        "days_absent": 2,
        "days_missed": 4,
        "half_term_name": "Spring 1",
        "start_date": today,
        "improved_sessions": 6,
    }


def load_context(path: Path | None, today: date) -> dict[str, Any]:
    """The template context from a JSON file (dates as ``YYYY-MM-DD``), else the example."""
    if path is None:
        return example_context(today)
    try:
        context = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--context") from exc
    if not isinstance(context, dict):
        raise click.BadParameter(f"{path}: the context must be a JSON object", param_hint="--context")
    for key in _DATE_KEYS:
        if isinstance(context.get(key), str):
            try:
                context[key] = date.fromisoformat(context[key])
            except ValueError as exc:
                raise click.BadParameter(f"{path}: {key} is not a date (YYYY-MM-DD)", param_hint="--context") from exc
    return context


def checked_address(channel: str, address: str) -> str:
    """The address normalised for ``channel``; click.BadParameter with one clear line when unusable."""
    from gateway.phones import normalise_email, normalise_phone

    try:
        if channel == "email":
            return normalise_email(address)
        phone = normalise_phone(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    if channel == "sms" and not phone.sms_capable:
        raise click.BadParameter(f"{address!r} is a {phone.kind} number: it cannot take a text (use --channel voice)",
                                 param_hint="--to")
    return phone.e164


@contextmanager
def configured_channels() -> Iterator[ChannelSet]:
    """The configured channels; in sandbox mode, sandboxes started for this command."""
    from gateway.config import get_settings

    settings = get_settings()
    if settings.sandbox:
        with running_sandboxes(settings) as (config, _twilio, _smtp):
            channels = build_channels(config)
            try:
                yield channels
            finally:
                channels.close()
        return
    channels = build_channels(channel_config_from_settings(settings))
    try:
        yield channels
    finally:
        channels.close()


def build_outgoing(kind: str, channel: ChannelName, to: str, locale: str, context: dict[str, Any]) -> OutgoingMessage:
    """Render ``kind`` for ``channel`` and wrap it as an OutgoingMessage."""
    from gateway.rendering import render_message

    rendered = render_message(kind, locale=locale, channel=channel, context=context)
    voice = rendered.voice
    school = context.get("school") if isinstance(context.get("school"), dict) else {}
    return OutgoingMessage(
        message_id=0,
        idempotency_key=f"cli-{uuid.uuid4()}",
        channel=channel,
        to=to,
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html,
        locale=rendered.locale,
        voice_language=voice.language if voice is not None else None,
        voice_name=voice.voice if voice is not None else None,
        voice_prompt=voice.prompt if voice is not None else None,
        same_day=kind.startswith("absence_"),
        reply_to=(school or {}).get("email"),
    )


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Registers the top-level ``send`` command."""

    @cli.command("send")
    @click.argument("kind")
    @click.option("--channel", "channel", type=click.Choice(["sms", "email", "voice"]), required=True)
    @click.option("--to", "to", required=True, help="E.164 or UK phone number, or an e-mail address.")
    @click.option("--locale", "locale", default="en-GB", show_default=True)
    @click.option("--context", "context_file", type=click.Path(path_type=Path, dir_okay=False), default=None)
    @click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON.")
    def send(kind: str, channel: ChannelName, to: str, locale: str, context_file: Path | None, as_json: bool) -> None:
        """Send one message now through the configured channel (an operator's check) and print the receipt."""
        from gateway.clock import now
        from gateway.config import get_settings

        address = checked_address(channel, to)
        today = now().astimezone(get_settings().tz).date()
        message = build_outgoing(kind, channel, address, locale, load_context(context_file, today))
        with configured_channels() as channels:
            try:
                receipt: Receipt = channels.get(channel).send(message)
            except PermanentDeliveryError as exc:
                detail = f"not sent: {exc.reason}" + (f" (code {exc.code})" if exc.code else "")
                raise click.ClickException(detail) from exc
            except TransientDeliveryError as exc:
                later = f", retry after {exc.retry_after:g} s" if exc.retry_after is not None else ""
                raise click.ClickException(f"not sent: temporary failure (code {exc.code}){later}") from exc
        if as_json:
            emit_json({"provider_id": receipt.provider_id, "status": str(receipt.status), "channel": receipt.channel})
        else:
            click.echo(f"sent: {receipt.channel} {receipt.provider_id} status={receipt.status}")
