"""Dates in each catalog's own pattern and case, translated half-term names, and the wording findings of issue 17."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from gateway.rendering import CHANNELS, KINDS, VARIANTS, available_locales, render_message, sample_context
from gateway.rendering import checks as checks_module
from gateway.rendering.bidi import FSI, PDI, RLM
from gateway.rendering.catalogs import catalog_path
from gateway.rendering.checks import check_catalog, extracted_message_ids
from gateway.rendering.dates import START_DAY_SMS, pattern_problem
from gateway.rendering.renderer import split_english_copy
from gateway.resources import locales_dir, templates_dir

LOCALES = available_locales()


def _plain(text: str) -> str:
    return text.replace(RLM, "").replace(FSI, "").replace(PDI, "")


@pytest.mark.parametrize(("locale", "expected"), [
    ("en-GB", "starts on Tuesday 5 January"),
    ("pl", "zaczyna się 5 stycznia (wtorek)"),
    ("uk", "починається 5 січня (вівторок)"),
    ("lt", "prasideda sausio 5 d. (antradienis)"),
    ("pt", "começa a 5 de janeiro (terça-feira)"),
    ("fr", "commence le mardi 5 janvier"),
    ("es", "empieza el martes 5 de enero"),
    ("ar", "يوم الثلاثاء 5 يناير"),
])
def test_the_start_date_takes_the_catalogs_preposition_and_case(locale: str, expected: str) -> None:
    message = render_message("fresh_start", locale=locale, channel="email", context=sample_context("fresh_start"))
    assert expected in _plain(message.text)


@pytest.mark.parametrize(("locale", "expected", "never"), [
    ("lt", "sausio 5-ąją", "01-05"),
    ("fr", "le 5 janvier", "janv.."),
    ("pl", "5 sty", "wt.,"),
])
def test_sms_dates_are_short_words_not_numbers(locale: str, expected: str, never: str) -> None:
    for variant in VARIANTS:
        text = render_message("fresh_start", locale=locale, channel="sms", variant=variant,
                              context=sample_context("fresh_start")).text
        assert expected in text and never not in text


def test_date_patterns_that_read_wrongly_are_reported() -> None:
    assert pattern_problem("EEE d MMM", "fr", sms=True) is not None  # "mar. 5 janv." + "." = "janv.."
    assert pattern_problem("MM-dd, EEE", "lt", sms=True) is not None  # "01-05" is 1 May to a UK reader
    assert pattern_problem("EEEE", "pl", sms=False) is not None  # no day of the month
    assert pattern_problem("'le' d MMMM", "fr", sms=True) is None


def test_templates_check_reports_a_broken_date_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po, mo = tmp_path / "messages.po", tmp_path / "messages.mo"
    shutil.copy(catalog_path("lt", ".po"), po)
    shutil.copy(catalog_path("lt", ".mo"), mo)
    monkeypatch.setattr(checks_module, "catalog_path", lambda loc, suffix=".mo": tmp_path / f"messages{suffix}")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="lt")
    context, msgid = START_DAY_SMS
    message = catalog.get(msgid, context=context)
    assert message is not None
    message.string = "MM-dd"
    with po.open("wb") as handle:
        write_po(handle, catalog)
    problems = "\n".join(check_catalog("lt", extracted_message_ids()))
    assert "date pattern 'MM-dd'" in problems and "month must be a word" in problems


@pytest.mark.parametrize(("locale", "name"), [("pl", "Wiosna 1"), ("ar", "الربيع الأول"), ("fr", "Printemps 1"),
                                               ("ur", "بہار کا پہلا حصہ")])
def test_half_term_names_are_translated(locale: str, name: str) -> None:
    message = render_message("fresh_start", locale=locale, channel="email", context=sample_context("fresh_start"))
    translated, english = split_english_copy(message.text)  # the English copy below names "Spring 1"
    assert name in translated and "Spring 1" not in translated
    assert english is None or "Spring 1" in english


def test_an_unknown_half_term_name_is_shown_as_written() -> None:
    context = sample_context("fresh_start")
    context["half_term_name"] = "Term 3b"
    message = render_message("fresh_start", locale="pl", channel="email", context=context)
    assert "Term 3b" in message.text and message.missing_translations == ()


def _template_texts() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in templates_dir().rglob("*.*"))


def test_fresh_start_has_no_line_that_judges_parenting() -> None:
    pot = (locales_dir() / "messages.pot").read_text(encoding="utf-8")
    assert "morning routine" not in pot and "morning routine" not in _template_texts()
    for locale, channel, variant in itertools.product(LOCALES, CHANNELS, VARIANTS):
        text = render_message("fresh_start", locale=locale, channel=channel, variant=variant,
                              context=sample_context("fresh_start")).text
        assert "routine" not in text.lower(), (locale, channel, variant)


def test_plain_voice_never_says_or_call_without_a_first_option() -> None:
    for kind in KINDS:
        spoken = (templates_dir() / kind / "plain" / "voice.txt").read_text(encoding="utf-8")
        assert "Or call" not in spoken, kind
        text = render_message(kind, locale="en-GB", channel="voice", variant="plain", context=sample_context(kind)).text
        assert ". Or " not in text and not text.startswith("Or "), kind


@pytest.mark.parametrize(("locale", "kind", "channel", "present", "absent"), [
    ("ur", "reply_thanks", "email", "محترم/محترمہ", "محترم "),
    ("ur", "fresh_start", "email", "دن اسکول نہیں آئے", "اسکول سے رہ گئے"),
    ("pt", "reply_thanks", "sms", "Já a encaminhámos", "passámos"),
    ("pt", "reply_thanks", "email", "Encaminhámos a sua mensagem", "Passámos"),
    ("ta", "absence_first_day", "sms", "பாடசாலை", "பள்ளி"),
    ("ta", "absence_emergency_contact", "sms", "தொடர்பாக", " இன் "),
    ("so", "absence_continuing", "email", "ma aanu ku arag", "aanan"),
    ("lt", "absence_first_day", "sms", "Alexandra-Victoria ir Maximilian-Jonathan šiandien", "mokykloje:"),
    ("lt", "absence_continuing", "email", "Maximilian-Jonathan Wiśniewska-Kowalczyk jau 3 dienas", "mokykloje:"),
    ("uk", "absence_first_day", "sms", "Alexandra-Victoria і Maximilian-Jonathan сьогодні не в школі", "школі:"),
    ("uk", "absence_followup", "email", "чому Alexandra-Victoria Wiśniewska-Kowalczyk і", "школі:"),
])
def test_specific_catalog_findings_are_fixed(locale: str, kind: str, channel: str, present: str, absent: str) -> None:
    text = _plain(render_message(kind, locale=locale, channel=channel,  # type: ignore[arg-type]
                                 context=sample_context(kind)).text)
    assert present in text and absent not in text


@pytest.mark.parametrize(("siblings", "names", "verb"), [
    (False, "Alexandra-Victoria", "nie jest"),
    (True, "Alexandra-Victoria i Maximilian-Jonathan", "nie są"),
])
def test_polish_names_stay_in_the_nominative_and_the_verb_agrees_with_the_number_of_children(
        siblings: bool, names: str, verb: str) -> None:
    context = sample_context("absence_first_day", siblings=siblings)
    sms = render_message("absence_first_day", locale="pl", channel="sms", context=context).text
    assert f": {names} {verb} dziś w szkole." in sms
    email = render_message("absence_followup", locale="pl", channel="email", context=context)
    assert email.subject is not None and f" {verb} dziś w szkole – prosimy o kontakt" in email.subject
    assert "w sprawie:" not in email.subject and "w szkole: Alexandra" not in email.text


def test_romanian_asks_with_sa() -> None:
    po = catalog_path("ro", ".po").read_text(encoding="utf-8")
    assert "rugăm răspundeți" not in po and "Vă rugăm să răspundeți" in po
