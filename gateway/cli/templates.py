"""``gateway render KIND ...`` (print one rendered message) and ``gateway templates check [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from gateway.cli.common import emit_json
from gateway.errors import InputError, Problem

CHANNEL_CHOICES = ("sms", "email", "voice")
VARIANT_CHOICES = ("standard", "plain")
PREVIEW_SENDER = "attendance@school.invalid"
PREVIEW_RECIPIENT = "parent@family.invalid"


def _load_context(kind: str, path: Path | None) -> dict[str, Any]:
    from gateway.rendering import ContextError, build_context, sample_context

    if path is None:
        return sample_context(kind)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError([Problem(str(path), "", None, f"not a readable JSON file: {exc}")]) from exc
    if not isinstance(document, dict):
        raise InputError([Problem(str(path), "", None, "expected a JSON object (school, recipient, pupils, date, …)")])
    common = {key: document.pop(key, None) for key in ("school", "recipient", "pupils", "date")}
    try:
        return build_context(kind, school=common["school"] or {}, recipient=common["recipient"] or {},
                             pupils=common["pupils"] or [], date=common["date"] or "", **document)
    except ContextError as exc:
        raise InputError([Problem(str(path), "", exc.field, exc.problem)]) from exc


def _voice_twiml(text: str, language: str, voice: str, prompt: str | None) -> str:
    from gateway.config import get_settings
    from gateway.rendering.voice import VoiceSpec, minimal_twiml

    action = f"{get_settings().public_url.rstrip('/')}/webhooks/twilio/voice/0/gather"
    try:
        from channels.twilio_voice import call_twiml
    except ImportError:  # the voice channel owns real TwiML; this keeps `render` usable without it
        return minimal_twiml(text, VoiceSpec(language, voice, prompt), action)
    return str(call_twiml(text, language, voice, action, prompt or ""))


def _known_locale(tag: str) -> bool:
    """True when ``tag`` names a language Babel knows (a known one without a catalog still falls back to en-GB,
    with a note; an unknown one such as ``xx`` is an error, never English in silence)."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


@click.command("render")
@click.argument("kind")
@click.option("--locale", "locale", default="en-GB", show_default=True, help="BCP 47 tag, e.g. pl, pt, en-GB.")
@click.option("--channel", "channel", type=click.Choice(CHANNEL_CHOICES), required=True)
@click.option("--variant", "variant", type=click.Choice(VARIANT_CHOICES), default="standard", show_default=True)
@click.option("--context", "context_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON context (see gateway/rendering/context.py); default: a built-in realistic sample.")
def render_command(kind: str, locale: str, channel: str, variant: str, context_file: Path | None) -> None:
    """Print one rendered message: SMS text, voice TwiML, or the e-mail as RFC 5322."""
    from gateway.rendering import KINDS, TemplateRenderError, render_message, resolve_locale
    from gateway.rendering.email_message import build_email_message
    from gateway.rendering.renderer import Channel, Variant

    if kind not in KINDS:
        raise InputError([Problem("render", "KIND", None, f"unknown kind {kind!r}; one of {', '.join(KINDS)}")])
    context = _load_context(kind, context_file)
    if not _known_locale(locale):
        raise InputError([Problem("render", "--locale", None, f"{locale!r} is not a language tag Babel knows "
                                                               f"(e.g. pl, so, pt-BR, en-GB)")])
    resolved, why = resolve_locale(locale)
    if why:
        click.echo(f"note: {why}", err=True)
    try:
        message = render_message(kind, locale=resolved, channel=cast(Channel, channel),
                                 variant=cast(Variant, variant), context=context)
    except TemplateRenderError as exc:
        raise InputError([Problem("render", f"{kind} [{exc.locale}, {exc.channel}]", None, exc.detail)]) from exc
    if message.missing_translations:
        click.echo(f"note: {len(message.missing_translations)} string(s) fell back to en-GB", err=True)
    if channel == "sms":
        click.echo(message.text)
        click.echo(f"note: {message.segments} segment(s), {message.encoding}", err=True)
    elif channel == "voice":
        if message.voice is None:
            raise InputError([Problem("render", f"{kind} [{message.locale}, voice]", None,
                                      f"no Twilio voice speaks {message.locale}: route by SMS or e-mail")])
        click.echo(_voice_twiml(message.text, message.voice.language, message.voice.voice, message.voice.prompt))
    else:
        email = build_email_message(message, sender=PREVIEW_SENDER, recipient=PREVIEW_RECIPIENT)
        click.echo(email.as_string())


@click.command("check")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document: problems, SMS segments per message, each language's review status.")
def check_command(as_json: bool) -> None:
    """Every template in every locale: renders, catalogs complete and fresh, SMS within budget; review status."""
    from gateway.rendering.checks import check_templates
    from gateway.rendering.context import SAMPLE_COUNTS

    report = check_templates()
    if as_json:
        emit_json(report.as_dict())
    if not report.ok:
        raise InputError([Problem("templates", "", None, problem) for problem in report.problems])
    if not as_json:
        counts = ", ".join(str(count) for count in SAMPLE_COUNTS)
        click.echo(f"templates ok: {len(report.sms)} SMS renders within budget (every kind, locale and variant; "
                   f"counts {counts}; long accented names); every catalog complete")
        for status in report.review:
            click.echo(f"review {status['locale']}: {status['summary']}")


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Registers the top-level ``render`` command and ``templates check``."""
    cli.add_command(render_command)
    groups["templates"].add_command(check_command)
