"""Every SMS fits (GSM-7: 2 segments, UCS-2: 3) with long accented names and every sample count, and reads cleanly."""

from __future__ import annotations

import itertools
import re

import pytest

from gateway.rendering import KINDS, VARIANTS, available_locales, render_message, sample_context
from gateway.rendering.bidi import FSI, PDI, RLM
from gateway.rendering.checks import SMS_BUDGET
from gateway.rendering.context import COUNTED_FIELDS, SAMPLE_COUNTS

LOCALES = available_locales()
_SENTENCE_START = re.compile(rf"[.!?؟۔।]\s+[{RLM}{FSI}{PDI}]*(\w)")
_DOUBLED_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def _counts(kind: str) -> tuple[int | None, ...]:
    return SAMPLE_COUNTS if kind in COUNTED_FIELDS else (None,)


def test_the_sample_names_are_long_and_accented() -> None:
    context = sample_context("fresh_start")
    assert [p["forename"] for p in context["pupils"]] == ["Alexandra-Victoria", "Maximilian-Jonathan"]
    assert {p["surname"] for p in context["pupils"]} == {"Wiśniewska-Kowalczyk"}
    assert any(ord(ch) > 0x7F for ch in context["recipient"]["forename"])
    assert sample_context("fresh_start", count=101)["days_missed"] == 101
    assert sample_context("positive_attendance", count=11)["improved_sessions"] == 22


@pytest.mark.parametrize(("kind", "locale"), list(itertools.product(KINDS, LOCALES)))
def test_every_sms_fits_its_budget_for_every_variant_and_count(kind: str, locale: str) -> None:
    for variant, count in itertools.product(VARIANTS, _counts(kind)):
        message = render_message(kind, locale=locale, channel="sms", variant=variant,
                                 context=sample_context(kind, count=count))
        where = f"{kind} {locale} {variant} count={count}"
        assert message.encoding is not None and message.segments is not None, where
        assert message.segments <= SMS_BUDGET[message.encoding], f"{where}: {message.segments} segments: {message.text}"
        assert "Alexandra-Victoria" in message.text and "Maximilian-Jonathan" in message.text, where  # never cut
        assert "St Mary's Church of England Primary School" in message.text, where


@pytest.mark.parametrize("locale", LOCALES)
def test_sms_have_no_doubled_full_stops_and_no_lower_case_sentence_starts(locale: str) -> None:
    for kind, variant in itertools.product(KINDS, VARIANTS):
        for count in _counts(kind):
            text = render_message(kind, locale=locale, channel="sms", variant=variant,
                                  context=sample_context(kind, count=count)).text
            assert not _DOUBLED_STOP.search(text), f"{kind} {locale} {variant}: {text}"
            starts = [found.group(1) for found in _SENTENCE_START.finditer(text)]
            assert not [letter for letter in starts if letter.islower()], f"{kind} {locale} {variant}: {text}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", ["absence_first_day", "absence_followup"])
def test_first_day_and_follow_up_texts_give_the_school_phone(kind: str, locale: str) -> None:
    for variant in VARIANTS:
        text = render_message(kind, locale=locale, channel="sms", variant=variant, context=sample_context(kind)).text
        assert "01632 960123" in text, f"{kind} {locale} {variant}"


@pytest.mark.parametrize("kind", ["absence_first_day", "absence_followup"])
def test_english_first_day_and_follow_up_ask_after_the_child_and_offer_help(kind: str) -> None:
    for variant, channel in itertools.product(VARIANTS, ("sms", "voice", "email")):
        message = render_message(kind, locale="en-GB", channel=channel, variant=variant,  # type: ignore[arg-type]
                                 context=sample_context(kind))
        text = message.text
        assert "well" in text and "help" in text, f"{kind} {channel} {variant}: {text}"
        if channel == "voice":  # the reason is asked by the keypad question that follows
            assert message.voice is not None and message.voice.prompt and "0 1 6 3 2" in text
        else:
            assert "why" in text and "01632 960123" in text
