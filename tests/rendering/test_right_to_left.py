"""Arabic and Urdu: every text opens with a right-to-left mark and every inserted Latin run or number is isolated.

Without the marks a phone lays an Arabic text out from its first strong character (the Latin school name), so
the Arabic runs come out in the wrong order and "01632 960123" shows as "960123 01632".
"""

from __future__ import annotations

import itertools
import re

import pytest

from gateway.rendering import (
    CHANNELS,
    KINDS,
    VARIANTS,
    RenderedMessage,
    render_message,
    sample_context,
    sms_segments,
)
from gateway.rendering.bidi import FSI, PDI, RLM, isolate_html, isolate_text
from gateway.rendering.context import sample_contexts
from gateway.rendering.renderer import LRM, split_english_copy
from gateway.rendering.review_status import is_reviewed

RIGHT_TO_LEFT = ("ar", "ur")
_ISOLATED = re.compile(f"{FSI}[^{FSI}{PDI}]*{PDI}")
_BDI = re.compile(r"<bdi>.*?</bdi>", re.S)
# Latin letters (with their accents) and ASCII digits: what must never stand outside an isolate.
_LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9\u00c0-\u024f]")


def _renders(locale: str) -> list[tuple[str, RenderedMessage]]:
    found = []
    for kind, variant, channel in itertools.product(KINDS, VARIANTS, CHANNELS):
        # Every sample count, and siblings whose own figures differ (each name and number isolated).
        for figures, context in sample_contexts(kind):
            message = render_message(kind, locale=locale, channel=channel, variant=variant, context=context)
            found.append((f"{kind} {channel} {variant} {figures}", message))
    return found


def _outside_isolates(text: str) -> str:
    return _ISOLATED.sub("", text)


@pytest.mark.parametrize("locale", RIGHT_TO_LEFT)
def test_every_right_to_left_text_starts_with_rlm_and_isolates_every_latin_name_and_number(locale: str) -> None:
    for where, message in _renders(locale):
        assert message.locale == locale
        texts = [message.text]
        if message.subject is not None:  # e-mail: the subject and every line of the plain-text body
            translated, english = split_english_copy(message.text)
            texts = [message.subject] + [line for line in translated.split("\n") if line]
            # Until the language is reviewed the English copy follows, each line opened left to right.
            assert (english is None) == is_reviewed(locale), where
            assert all(line.startswith(LRM) for line in (english or "").split("\n") if line), where
        for text in texts:
            assert text.startswith(RLM), f"{where}: {text[:60]!r}"
            stray = _LATIN_OR_DIGIT.findall(_outside_isolates(text))
            assert not stray, f"{where}: not isolated {stray} in {text!r}"
            assert text.count(FSI) == text.count(PDI), where
        # The names, the school, the staff member and the phone number each sit in their own isolate.
        isolated = set(_ISOLATED.findall(message.text))
        assert f"{FSI}Alexandra-Victoria{PDI}" in isolated or \
            f"{FSI}Alexandra-Victoria Wiśniewska-Kowalczyk{PDI}" in isolated, where
        if message.channel == "sms":
            assert f"{FSI}St Mary's Church of England Primary School{PDI}" in isolated, where
            # The marks are UCS-2 characters: segments are counted on the text as sent, marks included.
            assert message.segments == sms_segments(message.text).segments


@pytest.mark.parametrize("locale", RIGHT_TO_LEFT)
def test_right_to_left_html_isolates_every_value_with_bdi(locale: str) -> None:
    for where, message in _renders(locale):
        if message.channel != "email":
            continue
        assert message.html is not None
        html = message.html
        assert f'<html lang="{locale}" dir="rtl">' in html, where
        body = html.split("<body", 1)[1]
        # The English copy (until the language is reviewed) is its own left-to-right block: not isolated.
        body, english_block, _rest = body.partition('<div lang="en" dir="ltr"')
        assert bool(english_block) != is_reviewed(locale), where
        body = _BDI.sub("", body.split(">", 1)[1])
        visible = re.sub(r"<[^>]+>", "", body)
        stray = _LATIN_OR_DIGIT.findall(_outside_isolates(visible))
        assert not stray, f"{where}: not isolated {stray}"
        assert "<bdi>Mrs Oluwaseun Adeyemi-Clarke</bdi>" in html, where
        assert "<bdi>Alexandra-Victoria Wiśniewska-Kowalczyk</bdi>" in html, where


def test_the_phone_number_is_one_left_to_right_isolate_in_arabic() -> None:
    context = sample_context("absence_first_day")
    message = render_message("absence_first_day", locale="ar", channel="sms", context=context)
    assert f"{FSI}01632 960123{PDI}" in message.text


def test_arabic_and_stands_apart_from_the_next_name() -> None:
    message = render_message("reply_thanks", locale="ar", channel="sms", context=sample_context("reply_thanks"))
    assert f"{FSI}Alexandra-Victoria{PDI} و {FSI}Maximilian-Jonathan{PDI}" in message.text
    context = sample_context("reply_thanks")
    context["pupils"] = [{"forename": "محمود", "surname": "حسن"}, {"forename": "وليد", "surname": "حسن"},
                         {"forename": "Zoë", "surname": "Hassan"}]
    text = render_message("reply_thanks", locale="ar", channel="sms", context=context).text
    # Only the conjunction moves: a name that starts with و (Walid) keeps its letter.
    assert f"{FSI}محمود{PDI} و {FSI}وليد{PDI} و {FSI}Zoë{PDI}" in text


def test_left_to_right_locales_get_no_marks() -> None:
    for locale in ("en-GB", "pl"):
        for channel in CHANNELS:
            message = render_message("fresh_start", locale=locale, channel=channel,
                                     context=sample_context("fresh_start"))
            for text in (message.text, message.subject or "", message.html or ""):
                assert RLM not in text and FSI not in text and "<bdi>" not in text


def test_isolation_helpers_escape_and_do_not_double_wrap() -> None:
    assert isolate_text(isolate_text("Amira")) == f"{FSI}Amira{PDI}"
    assert str(isolate_html("<b>O'Neil & Co</b>")) == "<bdi>&lt;b&gt;O&#39;Neil &amp; Co&lt;/b&gt;</bdi>"
    assert isolate_html(isolate_html("x")) == isolate_html("x")
