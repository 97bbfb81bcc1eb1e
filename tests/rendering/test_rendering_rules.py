"""Rendering rules: strict context, fallback reporting, plurals, RTL, escaping, locales and voices."""

from __future__ import annotations

import re
from datetime import date
from xml.etree import ElementTree

import pytest

from gateway.rendering import (
    KEYPAD_CODES,
    KINDS,
    ContextError,
    TemplateRenderError,
    available_locales,
    build_context,
    render_message,
    resolve_locale,
    sample_context,
    voice_for_locale,
)
from gateway.rendering import renderer as renderer_module
from gateway.rendering.bidi import FSI, PDI
from gateway.rendering.catalogs import MessageCatalog, load_catalog
from gateway.rendering.email_message import build_email_message
from gateway.rendering.voice import TWILIO_VOICES, minimal_twiml

from .conftest import single_child_context


def test_a_missing_kind_value_names_kind_locale_channel_and_field() -> None:
    context = sample_context("absence_continuing")
    del context["days_absent"]
    with pytest.raises(TemplateRenderError) as caught:
        render_message("absence_continuing", locale="pl", channel="sms", context=context)
    error = caught.value
    assert (error.kind, error.locale, error.channel) == ("absence_continuing", "pl", "sms")
    assert "days_absent" in str(error) and "absence_continuing" in str(error) and "pl" in str(error)


def test_a_missing_nested_value_names_its_path() -> None:
    context = sample_context("absence_first_day")
    context["school"] = {"name": "St Mary's", "phone": "01632 960123"}
    with pytest.raises(TemplateRenderError, match=r"absence_first_day \[uk, email\].*school\.staff_name"):
        render_message("absence_first_day", locale="uk", channel="email", context=context)


def test_an_undefined_template_variable_is_an_error_not_a_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    from jinja2 import Template

    from gateway.rendering.environment import template_environment

    broken: Template = template_environment().from_string("{% trans %}Hello {{ nobody }}{% endtrans %}")
    monkeypatch.setattr(renderer_module, "get_template", lambda name: broken)
    with pytest.raises(TemplateRenderError, match=r"reply_thanks \[en-GB, sms\].*nobody"):
        render_message("reply_thanks", locale="en-GB", channel="sms", context=sample_context("reply_thanks"))


@pytest.mark.parametrize(("field", "value"), [("date", "23/11/2026"), ("days_absent", "3"), ("days_absent", -1)])
def test_a_wrong_value_is_a_render_error_naming_the_field(field: str, value: object) -> None:
    context = sample_context("absence_continuing")
    context[field] = value
    with pytest.raises(TemplateRenderError, match=rf"absence_continuing \[pl, sms\].*{field}"):
        render_message("absence_continuing", locale="pl", channel="sms", context=context)


def test_unknown_kind_is_reported() -> None:
    with pytest.raises(TemplateRenderError, match="unknown kind"):
        render_message("absence_lunch", locale="en-GB", channel="sms", context=sample_context("reply_thanks"))


def test_build_context_rejects_missing_and_wrong_values_by_name() -> None:
    base = sample_context("reply_thanks")
    common = {k: base[k] for k in ("school", "recipient", "pupils", "date")}
    with pytest.raises(ContextError, match="fresh_start: start_date: missing"):
        build_context("fresh_start", **common, days_missed=4, half_term_name="Spring 1")
    with pytest.raises(ContextError, match="days_absent: expected a whole number"):
        build_context("absence_continuing", **common, days_absent="three")
    with pytest.raises(ContextError, match=r"pupils\[0\]\.forename"):
        build_context("reply_thanks", **{**common, "pupils": [{"surname": "Nowak"}]})
    with pytest.raises(ContextError, match="not used by reply_thanks"):
        build_context("reply_thanks", **common, days_absent=2)
    context = build_context("fresh_start", **{**common, "date": "2027-01-05"}, days_missed=4,
                            half_term_name="Spring 1", start_date="2027-01-05")
    assert context["start_date"] == date(2027, 1, 5) and context["date"] == date(2027, 1, 5)


@pytest.mark.parametrize(("days", "expected"), [(1, "1 dzień szkolny"), (2, "2 dni szkolne"),
                                                 (5, "5 dni szkolnych"), (22, "22 dni szkolne"),
                                                 (12, "12 dni szkolnych")])
def test_polish_plural_forms_of_days(days: int, expected: str) -> None:
    context = single_child_context("fresh_start", days_missed=days)
    email = render_message("fresh_start", locale="pl", channel="email", context=context)
    assert expected in email.text


@pytest.mark.parametrize(("days", "expected"), [(1, "1 day of school"), (7, "7 days of school")])
def test_english_plural_forms_of_days(days: int, expected: str) -> None:
    context = single_child_context("fresh_start", days_missed=days)
    assert expected in render_message("fresh_start", locale="en-GB", channel="sms", context=context).text


@pytest.mark.parametrize(("days", "expected"), [(1, "يوم واحد"), (2, "يومان"), (3, "3 أيام"), (11, "11 يومًا"),
                                                 (100, "100 يوم"), (102, "102 يوم"), (111, "111 يومًا")])
def test_arabic_plural_forms_of_days(days: int, expected: str) -> None:
    # CLDR order: zero, one, two, few (3-10), many (11-99), other (100-102, ...). Numbers arrive isolated.
    context = single_child_context("fresh_start", days_missed=days)
    text = render_message("fresh_start", locale="ar", channel="email", context=context).text
    assert expected in text.replace(FSI, "").replace(PDI, "")


def test_fresh_start_counts_days_and_never_threatens() -> None:
    for variant in ("standard", "plain"):
        for channel in ("sms", "email", "voice"):
            text = render_message("fresh_start", locale="en-GB", channel=channel, variant=variant,
                                  context=sample_context("fresh_start")).text.lower()
            assert "7 days" in text and "%" not in text
            assert not re.search(r"\b(fine|fines|penalty|prosecut\w*|court|legal)\b", text)
            assert "help" in text  # an offer of help in every channel


@pytest.mark.parametrize("locale", ["ar", "ur"])
def test_right_to_left_locales_mark_their_html(locale: str) -> None:
    message = render_message("absence_first_day", locale=locale, channel="email",
                             context=sample_context("absence_first_day"))
    assert message.html is not None
    assert f'<html lang="{locale}" dir="rtl">' in message.html


def test_left_to_right_html_has_lang_and_no_images() -> None:
    message = render_message("fresh_start", locale="pl", channel="email", context=sample_context("fresh_start"))
    assert message.html is not None and '<html lang="pl" dir="ltr">' in message.html
    assert "<img" not in message.html and "<title>" in message.html


def test_html_is_escaped_and_text_is_not() -> None:
    context = sample_context("reply_thanks")
    context["pupils"] = [{"forename": "<b>Amira</b>", "surname": "O'Neil & Co"}]
    message = render_message("reply_thanks", locale="en-GB", channel="email", context=context)
    assert message.html is not None
    assert "&lt;b&gt;Amira&lt;/b&gt; O&#39;Neil &amp; Co" in message.html and "<b>Amira" not in message.html
    assert "<b>Amira</b> O'Neil & Co" in message.text


def test_a_missing_translation_falls_back_to_en_gb_and_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    full = load_catalog("pl")
    msgid = "We just want to know that everyone is safe and well."
    partial = MessageCatalog("pl", singular={k: v for k, v in full.singular.items() if k != msgid},
                             plural=full.plural, plural_index=full.plural_index)
    monkeypatch.setattr(renderer_module, "load_catalog", lambda locale: partial)
    message = render_message("absence_first_day", locale="pl", channel="email",
                             context=sample_context("absence_first_day"))
    assert message.missing_translations == (msgid,)
    assert msgid in message.text and "nie są w szkole" in message.text


def test_a_translation_with_a_wrong_placeholder_falls_back_rather_than_failing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    full = load_catalog("pl")
    msgid = "Dear %(recipient)s,"
    broken = MessageCatalog("pl", singular={**full.singular, msgid: "Dzień dobry, %(odbiorca)s,"},
                            plural=full.plural, plural_index=full.plural_index)
    monkeypatch.setattr(renderer_module, "load_catalog", lambda locale: broken)
    message = render_message("reply_thanks", locale="pl", channel="email", context=sample_context("reply_thanks"))
    assert "Dear Małgorzata-Żaneta Wiśniewska-Kowalczyk," in message.text
    assert message.missing_translations == (msgid,)


@pytest.mark.parametrize(("asked", "expected"), [
    ("pl", ("pl", None)), ("PL", ("pl", None)), ("pl-PL", ("pl", None)), ("pl_PL", ("pl", None)),
    ("en", ("en-GB", None)), ("en-GB", ("en-GB", None)), ("pt-PT", ("pt", None)),
])
def test_resolve_locale_without_fallback(asked: str, expected: tuple[str, None]) -> None:
    assert resolve_locale(asked) == expected


@pytest.mark.parametrize(("asked", "expected"), [("pt-BR", "pt"), ("de", "en-GB"), ("", "en-GB"), ("en-US", "en-GB")])
def test_resolve_locale_explains_a_fallback(asked: str, expected: str) -> None:
    locale, why = resolve_locale(asked)
    assert locale == expected and why


def test_unknown_locale_renders_in_english() -> None:
    message = render_message("reply_thanks", locale="de", channel="sms", context=sample_context("reply_thanks"))
    assert message.locale == "en-GB" and "thank you" in message.text


def test_somali_and_urdu_have_no_voice_and_no_voice_borrows_another_language() -> None:
    assert voice_for_locale("so") is None and voice_for_locale("ur") is None
    for locale, spec in TWILIO_VOICES.items():
        assert spec.language.split("-")[0] == locale.split("-")[0], locale
    for locale in available_locales():
        if locale not in ("so", "ur"):
            assert voice_for_locale(locale) is not None, locale
    message = render_message("absence_first_day", locale="so", channel="voice",
                             context=sample_context("absence_first_day"))
    assert message.voice is None  # the text is still there for staff calling with an interpreter


@pytest.mark.parametrize(("tag", "language"), [("pl-PL", "pl-PL"), ("en", "en-GB"), ("PT", "pt-PT"),
                                                ("ur-PK", None), ("so-SO", None), ("fa", None), ("de", "de-DE")])
def test_voice_for_regional_tags_stays_in_the_language(tag: str, language: str | None) -> None:
    spec = voice_for_locale(tag)
    assert (spec.language if spec else None) == language


def test_keypad_codes_and_spoken_phone_number() -> None:
    assert dict(KEYPAD_CODES) == {"1": "I", "2": "M", "3": None}
    message = render_message("absence_first_day", locale="en-GB", channel="voice",
                             context=sample_context("absence_first_day"))
    assert "0 1 6 3 2, 9 6 0 1 2 3" in message.text
    assert message.voice is not None and message.voice.voice == "Polly.Amy-Neural"


def test_minimal_twiml_is_well_formed_and_escaped() -> None:
    spec = voice_for_locale("pl")
    assert spec is not None
    twiml = minimal_twiml("Dzień dobry & <witamy>", spec.__class__(spec.language, spec.voice, "Naciśnij 1."),
                          "https://example.invalid/webhooks/twilio/voice/7/gather")
    root = ElementTree.fromstring(twiml)
    say = root.find("Say")
    assert say is not None and say.text == "Dzień dobry & <witamy>" and say.get("language") == "pl-PL"
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"


def test_email_message_is_multipart_alternative_with_plain_text_first() -> None:
    rendered = render_message("fresh_start", locale="ar", channel="email", context=sample_context("fresh_start"))
    email = build_email_message(rendered, sender="office@stmarys.example", recipient="parent@example.org")
    assert email.get_content_type() == "multipart/alternative"
    parts = list(email.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == rendered.text.strip()
    assert email["Content-Language"] == "ar" and email["Subject"] == rendered.subject


@pytest.mark.parametrize("kind", KINDS)
def test_one_child_reads_naturally_too(kind: str) -> None:
    context = single_child_context(kind)
    message = render_message(kind, locale="en-GB", channel="sms", context=context)
    assert "Amelia-Rose" in message.text and " and " not in message.text.split(":", 1)[1].split(".")[0]
