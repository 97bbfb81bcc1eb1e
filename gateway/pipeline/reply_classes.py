"""What kind of reply a parent sent, beyond its suggested code: a call-back request, a welfare concern.

- A **call-back request** is not an answer: keypad 3 ("please call me"), "call me", "ring me back", "who is
  this?", or a text with no words at all. The ladder stops (the parent has engaged) but the case stays open
  as a staff task until somebody has called (``gateway.pipeline.casework``).
- A **welfare concern** (harm, hospital, police, social services, fear, not knowing where the child is) alerts
  the DSL at once. It is looked for in every language's list whatever the adult's language on file: false
  alarms are acceptable, misses are not. A welfare reply may still explain the absence.

The word lists live in ``gateway/data/reply_lexicon/<language>.toml`` (one per supported language, each with
its ``review_status``, reviewed like the message catalogs); matching follows ``gateway.pipeline.lexicon``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gateway.pipeline.lexicon import find_entries

LEXICON_DIR = Path(__file__).resolve().parent.parent / "data" / "reply_lexicon"
CALL_BACK_DIGIT = "3"


@dataclass(frozen=True)
class LanguageLists:
    """One language's lists and how far they have been reviewed."""

    language: str
    review_status: str
    call_back: tuple[str, ...]
    welfare: tuple[str, ...]


@dataclass(frozen=True)
class ReplyClass:
    """What a reply is, besides the code it suggests."""

    call_back: bool  # the parent asked to be called (or who is writing), or sent no words at all
    call_back_words: tuple[str, ...]
    welfare_words: tuple[str, ...]  # non-empty: alert the DSL now

    @property
    def welfare(self) -> bool:
        return bool(self.welfare_words)


@cache
def lists() -> Mapping[str, LanguageLists]:
    """Every language's lists, by primary language subtag ("en", "pl", …)."""
    found: dict[str, LanguageLists] = {}
    for path in sorted(LEXICON_DIR.glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        language = str(data.get("language", path.stem))
        found[language] = LanguageLists(language, str(data.get("review_status", "draft")),
                                        tuple(data.get("call_back", ())), tuple(data.get("welfare", ())))
    return found


def _primary(locale: str | None) -> str:
    return (locale or "en").replace("_", "-").split("-", 1)[0].lower()


def classify_reply(text: str, locale: str | None = None, *, source: str = "sms",
                   num_media: int = 0) -> ReplyClass:
    """Classify one reply (``source`` "voice": ``text`` is the keypad digit).

    Call-back words are looked for in the adult's language and English (in every language when English or
    nothing is on file, often only the MIS default); welfare words always in every language."""
    if source == "voice":
        asked = text.strip() == CALL_BACK_DIGIT
        return ReplyClass(asked, (f"keypad {CALL_BACK_DIGIT}",) if asked else (), ())
    every = lists()
    welfare = tuple(dict.fromkeys(word for entry in every.values() for word in find_entries(text, entry.welfare)))
    if not any(ch.isalnum() for ch in text):
        return ReplyClass(num_media == 0, ("(no words)",) if num_media == 0 else (), welfare)
    language = _primary(locale)
    languages = [lang for lang in dict.fromkeys((language, "en")) if lang in every]
    if language == "en" or language not in every:
        languages += [lang for lang in every if lang not in languages]
    call_back = tuple(dict.fromkeys(word for lang in languages for word in find_entries(text, every[lang].call_back)))
    return ReplyClass(bool(call_back), call_back, welfare)
