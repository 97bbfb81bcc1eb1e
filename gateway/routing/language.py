"""The one rule for the language of a message: the adult's language and literacy -> locale and variant.

Every path that writes an outbox row gets its locale and variant from ``language_for`` (the planners through
``reach.choose_channel``); the web app shows ``language_explained``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from gateway.routing.capabilities import LocaleCapabilities, primary_subtag
from gateway.routing.facts import AdultFacts, PupilFacts


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The locale and variant a message is written (or spoken) in, and why."""

    locale: str
    variant: str  # "standard" | "plain"
    wanted: str  # the language the adult reads (their own, else a child's home language, else the default)
    needs_interpreter: bool = False  # a call that must speak the default locale: staff call with an interpreter
    note: str | None = None  # why the locale is not the wanted one (no templates / no voice), or None


def wanted_language(adult: AdultFacts, pupils: Sequence[PupilFacts]) -> tuple[str | None, PupilFacts | None]:
    """(the adult's own language, else the first of their children's home languages, else None; the child
    whose home language it is, or None)."""
    if adult.language:
        return adult.language, None
    for pupil in pupils:
        if pupil.home_language:
            return pupil.home_language, pupil
    return None, None


def variant_for(adult: AdultFacts, channel: str) -> str:
    """``plain`` for plain-language readers, and for a voice-literacy adult reached in writing."""
    if adult.literacy == "plain" or (adult.literacy == "voice" and channel != "voice"):
        return "plain"
    return "standard"


def spoken_language(wanted: str | None, capabilities: LocaleCapabilities) -> LanguageChoice:
    """The locale a call to someone who reads ``wanted`` speaks (variant left standard): theirs when
    text-to-speech can speak it, else the default locale with an interpreter flag."""
    locale, note = capabilities.resolve(wanted)
    want = wanted or capabilities.default_locale
    if primary_subtag(locale) == primary_subtag(want) and capabilities.has_voice(locale):
        return LanguageChoice(locale, "standard", want, False, note)
    default = capabilities.default_locale
    return LanguageChoice(default, "standard", want, True, f"no {want} voice: the call speaks {default}")


def language_for(
    adult: AdultFacts, pupils: Sequence[PupilFacts], capabilities: LocaleCapabilities, channel: str
) -> LanguageChoice:
    """The locale and variant of a message to ``adult`` about ``pupils`` on ``channel``.

    The wanted language falls back to a catalog of the same language, then to the default locale; a call
    in a language text-to-speech cannot speak is spoken in the default locale and flagged for an interpreter
    (the planners route such adults to text first, and routine calls are never made)."""
    wanted, _pupil = wanted_language(adult, pupils)
    if channel == "voice":
        spoken = spoken_language(wanted, capabilities)
        return LanguageChoice(spoken.locale, variant_for(adult, channel), spoken.wanted, spoken.needs_interpreter,
                              spoken.note)
    locale, note = capabilities.resolve(wanted)
    return LanguageChoice(locale, variant_for(adult, channel), wanted or capabilities.default_locale, False, note)


def language_explained(
    adult: AdultFacts, pupils: Sequence[PupilFacts], capabilities: LocaleCapabilities
) -> str:
    """The language texts go in and where it comes from, for staff: "Polish, from Ola's home language"."""
    wanted, pupil = wanted_language(adult, pupils)
    locale, note = capabilities.resolve(wanted)
    name = language_name(locale)
    if wanted is None:
        source = "the school's default (no language recorded for them or their children)"
    elif pupil is not None:
        source = f"from {pupil.forename}'s home language"
    else:
        source = "their own language"
    text = f"{name}, {source}"
    if note:
        text += f" ({note})"
    if not capabilities.has_voice(locale):
        text += f"; no {name} voice, so calls speak {language_name(capabilities.default_locale)}"
    return text


@cache
def _names_by_tag() -> dict[str, str]:
    from gateway.languages import DFE_LANGUAGES

    names: dict[str, str] = {"en-GB": "English"}
    for tag, name in DFE_LANGUAGES.values():
        names.setdefault(tag, name)
    return names


def language_name(locale: str) -> str:
    """An English name for ``locale`` (the DfE table's), else the tag itself."""
    names = _names_by_tag()
    return names.get(locale) or names.get(primary_subtag(locale)) or locale
