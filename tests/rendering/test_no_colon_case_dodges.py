"""Polish, Ukrainian and Lithuanian name nobody after a colon or in brackets to dodge a case ending (issue 17).

These languages decline names. The gateway never declines or cuts a name, so each sentence is built so that an
inserted name is in the nominative by construction (the subject, or the theme the sentence opens with), never
parked after "w sprawie:", "щодо:", "dėl:", "zadzwonić:" or in brackets. A colon before a name is allowed
only where a header line is genuinely expected: the allow-list below says which and why.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from babel.messages.pofile import read_po

from gateway.rendering import CHANNELS, KINDS, VARIANTS, render_message, sample_context
from gateway.rendering.catalogs import catalog_path
from gateway.rendering.context import SAMPLE_PUPILS, SAMPLE_RECIPIENT
from gateway.rendering.renderer import split_english_copy

DECLINING_LOCALES = ("pl", "uk", "lt")

# Placeholders that carry a person's or a school's name (``missed_each`` is "<name> <n> days" per child).
NAME_PLACEHOLDERS = ("children", "child", "staff", "school", "recipient", "missed_each")
_NAME = "|".join(NAME_PLACEHOLDERS)
# A colon (ASCII or full-width) right before a name, or a name alone in brackets.
_DODGE = re.compile(rf"[:：]\s*(?:%\((?P<colon>{_NAME})\)s|\{{(?P<colon_brace>{_NAME})\}})"
                    rf"|\(\s*%\((?P<bracket>{_NAME})\)s\s*\)")

# Genuine header lines: (pattern the text before the colon matches in full, reason).
ALLOWED_HEADERS: dict[str, tuple[re.Pattern[str], str]] = {
    "sms-sender": (re.compile(r"%\(school\)s"),
                   "an SMS opens with the school's name and a colon, as in the English source: a From line, "
                   "after which the sentence starts (its subject is the name that follows)"),
}


def _header_allowing(text: str, colon_at: int) -> str | None:
    for key, (pattern, _reason) in ALLOWED_HEADERS.items():
        if pattern.fullmatch(text[:colon_at]):
            return key
    return None


def _translations(locale: str) -> Iterator[tuple[str, str]]:
    with catalog_path(locale, ".po").open(encoding="utf-8") as po:
        catalog = read_po(po, locale=locale)
    for message in catalog:
        if not message.id:
            continue
        msgid = str(message.id[0] if isinstance(message.id, (tuple, list)) else message.id)
        forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        for form in forms:
            yield msgid, str(form or "")


def _dodges(text: str) -> list[tuple[str, str | None]]:
    """Each colon or bracket before a name in ``text``: (the match, the allow-list entry that allows it)."""
    found = []
    for match in _DODGE.finditer(text):
        allowed = _header_allowing(text, match.start()) if match.group("bracket") is None else None
        found.append((match.group(0), allowed))
    return found


@pytest.mark.parametrize("locale", DECLINING_LOCALES)
def test_no_translation_puts_a_name_after_a_colon_or_in_brackets(locale: str) -> None:
    offending = [(msgid, text) for msgid, text in _translations(locale)
                 if any(allowed is None for _, allowed in _dodges(text))]
    assert offending == [], "\n".join(f"{msgid!r}\n  -> {text!r}" for msgid, text in offending)


def test_every_allowed_header_is_still_used_and_says_why() -> None:
    used = {allowed for locale in DECLINING_LOCALES for _, text in _translations(locale)
            for _, allowed in _dodges(text) if allowed}
    assert used == set(ALLOWED_HEADERS)
    assert all(len(reason) > 40 for _, reason in ALLOWED_HEADERS.values())


@pytest.mark.parametrize("text", [
    "Prosimy, aby rodzic skontaktował się z nami dziś w sprawie: %(children)s.",
    "Дякуємо, що повідомили щодо：%(children)s.",
    "Taip pat galite skambinti: %(staff)s, tel. %(phone)s.",
    "W tym półsemestrze (%(children)s) o %(count)s dni więcej w szkole.",
    "Wiadomość od: {school}.",
])
def test_the_check_catches_each_kind_of_dodge(text: str) -> None:
    assert [allowed for _, allowed in _dodges(text)] == [None]


def test_the_sms_sender_line_and_a_colon_before_a_phone_number_are_not_dodges() -> None:
    assert _dodges("%(school)s: %(children)s nie jest dziś w szkole. Pomoc: %(phone)s. %(staff)s") == [
        (": %(children)s", "sms-sender")]


_NAMES = (SAMPLE_PUPILS[0]["forename"], SAMPLE_PUPILS[1]["forename"], SAMPLE_RECIPIENT["forename"],
          "Mrs Oluwaseun", "St Mary's")
_RENDERED_DODGE = re.compile(r"(?P<mark>[:：(])\s*(?:" + "|".join(map(re.escape, _NAMES)) + ")")


@pytest.mark.parametrize(("locale", "kind"), list(itertools.product(DECLINING_LOCALES, KINDS)))
def test_rendered_messages_name_nobody_after_a_colon(locale: str, kind: str) -> None:
    context = sample_context(kind)
    school = context["school"]["name"]
    for channel, variant in itertools.product(CHANNELS, VARIANTS):
        message = render_message(kind, locale=locale, channel=channel, variant=variant, context=context)
        translated, _english = split_english_copy(message.text)
        for text in filter(None, (translated, message.subject)):
            for match in _RENDERED_DODGE.finditer(text):
                sender_line = match.group("mark") == ":" and text[:match.start()] == school
                assert sender_line, f"{kind} {locale} {channel} {variant}: {match.group(0)!r} in {text!r}"


@pytest.mark.parametrize(("locale", "kind", "channel", "variant", "expected"), [
    ("pl", "absence_continuing", "email", "standard",
     "Alexandra-Victoria Wiśniewska-Kowalczyk i Maximilian-Jonathan Wiśniewska-Kowalczyk – to już 3 dni "
     "nieobecności w szkole."),
    ("pl", "absence_emergency_contact", "voice", "standard",
     "Alexandra-Victoria i Maximilian-Jonathan – prosimy, aby rodzic skontaktował się z nami dziś."),
    ("pl", "reply_thanks", "email", "standard", "zajmie się nią Mrs Oluwaseun Adeyemi-Clarke."),
    ("uk", "fortnightly_checkin", "sms", "standard",
     "питаємо, як Alexandra-Victoria і Maximilian-Jonathan ходять до школи."),
    ("uk", "absence_first_day", "email", "standard", "— відповість Mrs Oluwaseun Adeyemi-Clarke."),
    ("lt", "positive_attendance", "email", "plain", "Maximilian-Jonathan Wiśniewska-Kowalczyk mokykloje buvo"),
    ("lt", "absence_continuing", "voice", "standard", "Sveiki. Šią žinutę siunčia St Mary's"),
])
def test_names_stand_in_the_nominative_by_construction(locale: str, kind: str, channel: str, variant: str,
                                                       expected: str) -> None:
    message = render_message(kind, locale=locale, channel=channel, variant=variant,  # type: ignore[arg-type]
                             context=sample_context(kind))
    assert expected in " ".join(message.text.split()), message.text
