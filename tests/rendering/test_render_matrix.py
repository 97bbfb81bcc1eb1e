"""Every kind x locale x channel x variant renders with long realistic names, within the SMS budget."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from babel.dates import format_date, format_skeleton

from gateway.rendering import (
    CHANNELS,
    KINDS,
    VARIANTS,
    available_locales,
    render_message,
    sample_context,
    voice_for_locale,
)
from gateway.rendering.checks import SMS_BUDGET
from gateway.rendering.locales import babel_locale

LOCALES = available_locales()
REQUIRED_LOCALES = {"pl", "ur", "pa", "bn", "so", "ar", "gu", "pt", "ro", "lt", "uk", "es", "tr", "ta", "fr"}


def test_every_required_locale_has_a_catalog_and_en_gb_comes_first() -> None:
    assert LOCALES[0] == "en-GB"
    assert set(LOCALES) >= REQUIRED_LOCALES


@pytest.mark.parametrize(("kind", "locale"), list(itertools.product(KINDS, LOCALES)))
def test_every_channel_and_variant_renders_completely(kind: str, locale: str) -> None:
    context = sample_context(kind)
    for channel, variant in itertools.product(CHANNELS, VARIANTS):
        message = render_message(kind, locale=locale, channel=channel, variant=variant, context=context)
        where = f"{kind} {locale} {channel} {variant}"
        assert message.locale == locale, where
        assert message.missing_translations == (), where
        assert "Alexandra-Victoria" in message.text and "Maximilian-Jonathan" in message.text, where
        assert "%(" not in message.text, where
        if channel == "email":
            assert message.subject and "Alexandra-Victoria Wiśniewska-Kowalczyk" in message.text, where
            assert message.html and "Alexandra-Victoria Wiśniewska-Kowalczyk" in message.html, where
            assert "Mrs Oluwaseun Adeyemi-Clarke" in message.text, where
        else:
            assert message.subject is None and message.html is None, where
        if channel == "sms":
            assert message.encoding in SMS_BUDGET, where
            assert message.segments is not None and message.segments <= SMS_BUDGET[message.encoding], (
                f"{where}: {message.segments} segments: {message.text}")
            assert "Mrs Oluwaseun Adeyemi-Clarke" in message.text and "St Mary's" in message.text, where
        if channel == "voice":
            assert (message.voice is None) == (voice_for_locale(locale) is None), where


def _day_strings(locale: str, day: Any) -> set[str]:
    where = babel_locale(locale)
    return {format_skeleton("MMMEd", day, locale=where), format_date(day, "full", locale=where)}


@pytest.mark.parametrize("locale", LOCALES)
def test_emergency_contact_message_says_only_that_a_parent_should_get_in_touch(locale: str) -> None:
    context = sample_context("absence_emergency_contact")
    for channel, variant in itertools.product(CHANNELS, VARIANTS):
        message = render_message("absence_emergency_contact", locale=locale, channel=channel, variant=variant,
                                 context=context)
        for text in (message.text, message.subject or "", message.html or ""):
            for day in _day_strings(locale, context["date"]):
                assert day not in text  # no date of absence, nothing about attendance
        assert message.voice is None or message.voice.prompt is None  # no "press 1 if ill" for a neighbour


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if voice_for_locale(loc) is not None])
def test_absence_calls_end_with_the_keypad_question_in_the_locale(locale: str) -> None:
    for kind in ("absence_first_day", "absence_followup", "absence_continuing"):
        message = render_message(kind, locale=locale, channel="voice", context=sample_context(kind))
        assert message.voice is not None and message.voice.prompt
        assert all(digit in message.voice.prompt for digit in "123")
        if locale != "en-GB":
            assert "Press 1" not in message.voice.prompt


@pytest.mark.parametrize(("locale", "day"), [("en-GB", "today, Monday 23 November,"),
                                             ("pl", "(poniedziałek, 23 listopada)"),
                                             ("fr", "aujourd'hui, lundi 23 novembre,")])
def test_the_day_is_a_babel_date_in_the_catalog_pattern(locale: str, day: str) -> None:
    context = sample_context("absence_first_day")
    email = render_message("absence_first_day", locale=locale, channel="email", context=context)
    assert day in email.text


def test_siblings_are_named_together_in_the_locale_way() -> None:
    context = sample_context("reply_thanks")
    for locale, joined in (("en-GB", "Alexandra-Victoria and Maximilian-Jonathan"),
                           ("pl", "Alexandra-Victoria i Maximilian-Jonathan"),
                           ("tr", "Alexandra-Victoria ve Maximilian-Jonathan")):
        assert joined in render_message("reply_thanks", locale=locale, channel="sms", context=context).text
