"""Every SMS fits (GSM-7: 2 segments, UCS-2: 3) with long accented names and every sample count, and reads cleanly."""

from __future__ import annotations

import itertools
import re

import pytest

from gateway.rendering import KINDS, VARIANTS, available_locales, render_message, sample_context
from gateway.rendering.bidi import FSI, PDI, RLM
from gateway.rendering.checks import SMS_BUDGET, SMS_LIMIT, SMS_MARGIN, check_renders
from gateway.rendering.context import sample_contexts
from gateway.rendering.sms import sms_segments

LOCALES = available_locales()
_SENTENCE_START = re.compile(rf"[.!?؟۔।]\s+[{RLM}{FSI}{PDI}]*(\w)")
_DOUBLED_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def test_the_sample_names_are_long_and_accented() -> None:
    context = sample_context("fresh_start")
    assert [p["forename"] for p in context["pupils"]] == ["Alexandra-Victoria", "Maximilian-Jonathan"]
    assert {p["surname"] for p in context["pupils"]} == {"Wiśniewska-Kowalczyk"}
    assert any(ord(ch) > 0x7F for ch in context["recipient"]["forename"])
    assert sample_context("fresh_start", count=101)["days_missed"] == 101
    assert sample_context("fresh_start", counts=(22, 101))["days_missed"] == [22, 101]  # siblings' own figures
    assert sample_context("positive_attendance", count=11)["improved_sessions"] == 22


@pytest.mark.parametrize(("kind", "locale"), list(itertools.product(KINDS, LOCALES)))
def test_every_sms_fits_its_budget_for_every_variant_and_count(kind: str, locale: str) -> None:
    for variant, (figures, context) in itertools.product(VARIANTS, sample_contexts(kind)):
        message = render_message(kind, locale=locale, channel="sms", variant=variant, context=context)
        where = f"{kind} {locale} {variant} figures={figures}"
        assert message.encoding is not None and message.segments is not None, where
        assert message.segments <= SMS_BUDGET[message.encoding], f"{where}: {message.segments} segments: {message.text}"
        units = sms_segments(message.text).characters
        assert units <= SMS_LIMIT[message.encoding], f"{where}: {units} units, no margin left: {message.text}"
        assert "Alexandra-Victoria" in message.text and "Maximilian-Jonathan" in message.text, where  # never cut
        assert "St Mary's Church of England Primary School" in message.text, where


def test_the_limit_leaves_a_margin_inside_the_segment_budget() -> None:
    assert SMS_MARGIN >= 5
    assert SMS_LIMIT == {"GSM-7": 2 * 153 - SMS_MARGIN, "UCS-2": 3 * 67 - SMS_MARGIN}


def test_templates_check_reports_a_text_within_its_segments_but_over_the_margin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.rendering.checks as checks

    monkeypatch.setitem(checks.SMS_LIMIT, "UCS-2", 100)  # every two-sibling text is longer than 100 units
    report = check_renders(["pl"])
    over = [p for p in report.problems if "over the limit of 100" in p]
    assert over and all("segments less a margin" in p for p in over)
    assert all(row["limit"] == 100 for row in report.sms if row["encoding"] == "UCS-2")


@pytest.mark.parametrize("locale", LOCALES)
def test_sms_have_no_doubled_full_stops_and_no_lower_case_sentence_starts(locale: str) -> None:
    for kind, variant in itertools.product(KINDS, VARIANTS):
        for _figures, context in sample_contexts(kind):
            text = render_message(kind, locale=locale, channel="sms", variant=variant, context=context).text
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
