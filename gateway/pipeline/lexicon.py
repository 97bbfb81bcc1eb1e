"""A small multilingual keyword lexicon that *suggests* an attendance code from a parent's reply.

Staff confirm every suggestion: the gateway never writes an attendance code itself. Codes: ``I`` illness,
``M`` medical or dental appointment, ``R`` religious observance.

Entries are word stems matched at the start of a word ("chor" matches "chory", "chora", "choroba"); an entry
ending in ``=`` must match a whole word ("gp=", "dr="); an entry with a space matches a phrase. Matching is
case-insensitive and also tried without accents, so "gorączka" and "goraczka" both match. The sender's own
language and English are tried; the other languages only when the sender's language is English or unknown
(often just the MIS default), which keeps false friends (Turkish "hasta" is ill, Spanish "hasta" is
"until") from crossing over for a parent whose language is on file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

ILLNESS, APPOINTMENT, RELIGIOUS = "I", "M", "R"

LEXICON: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "en": {
        ILLNESS: ("ill=", "illness", "sick", "poorly", "unwell", "fever", "temperature", "vomit", "flu=",
                  "cold=", "cough", "headache", "migraine", "tummy", "stomach", "diarrh", "d&v", "covid",
                  "chickenpox", "chicken pox", "not well", "off colour"),
        APPOINTMENT: ("doctor", "dr=", "dr's", "drs=", "dr appt", "gp=", "dentist", "dental", "hospital", "appt",
                      "appointment", "orthodont", "optician", "clinic", "surgery="),
        RELIGIOUS: ("eid=", "religious", "diwali", "vaisakhi", "yom kippur", "rosh hashanah", "holy day"),
    },
    "pl": {
        ILLNESS: ("chor", "gorączk", "przeziębi", "gryp", "wymiot", "źle się czuje", "boli"),
        APPOINTMENT: ("lekarz", "wizyt", "dentyst", "stomatolog", "szpital", "przychodni"),
        RELIGIOUS: ("święto religijne", "komuni", "religij"),
    },
    "ur": {
        ILLNESS: ("بیمار", "بخار", "طبیعت خراب", "bimar", "beemar", "bemar", "bukhar", "tabiyat kharab"),
        APPOINTMENT: ("ڈاکٹر", "ہسپتال", "اپائنٹمنٹ", "daktar", "haspatal"),
        RELIGIOUS: ("عید", "eid="),
    },
    "pa": {
        ILLNESS: ("ਬਿਮਾਰ", "ਬੁਖਾਰ", "ਬੁਖ਼ਾਰ", "bimar", "bukhar"),
        APPOINTMENT: ("ਡਾਕਟਰ", "ਹਸਪਤਾਲ"),
        RELIGIOUS: ("ਗੁਰਪੁਰਬ", "ਵਿਸਾਖੀ", "gurpurab"),
    },
    "bn": {
        ILLNESS: ("অসুস্থ", "জ্বর", "অসুখ"),
        APPOINTMENT: ("ডাক্তার", "হাসপাতাল", "দাঁতের"),
        RELIGIOUS: ("ঈদ", "পূজা"),
    },
    "so": {
        ILLNESS: ("xanuun", "jiran", "jirran", "qandho", "buka"),
        APPOINTMENT: ("dhakhtar", "isbitaal", "ballan", "ilko"),
        RELIGIOUS: ("ciid",),
    },
    "ar": {
        ILLNESS: ("مريض", "مرض", "حمى", "تعبان", "تعبانة"),
        APPOINTMENT: ("طبيب", "دكتور", "موعد", "مستشفى", "أسنان", "اسنان"),
        RELIGIOUS: ("عيد",),
    },
    "gu": {
        ILLNESS: ("બીમાર", "તાવ", "માંદ"),
        APPOINTMENT: ("ડૉક્ટર", "ડોક્ટર", "દવાખાન", "હોસ્પિટલ"),
        RELIGIOUS: ("દિવાળી", "તહેવાર"),
    },
    "pt": {
        ILLNESS: ("doente", "febre", "gripe", "mal disposto", "mal disposta", "vómito", "vomito"),
        APPOINTMENT: ("médico", "consulta", "dentista", "hospital"),
        RELIGIOUS: ("religios", "dia santo"),
    },
    "ro": {
        ILLNESS: ("bolnav", "răcit", "febr", "gripă", "gripa", "vomit"),
        APPOINTMENT: ("doctor", "medic", "programare", "dentist", "spital"),
        RELIGIOUS: ("religi", "sărbătoare", "sarbatoare"),
    },
    "lt": {
        ILLNESS: ("serg", "lig", "karščiuo", "peršal", "vemia"),
        APPOINTMENT: ("gydytoj", "daktar", "odontolog", "ligonin", "vizit"),
        RELIGIOUS: ("religin",),
    },
    "uk": {
        ILLNESS: ("хвор", "захвор", "температур", "застуд"),
        APPOINTMENT: ("лікар", "стоматолог", "прийом"),
        RELIGIOUS: ("релігій", "церковн"),
    },
    "es": {
        ILLNESS: ("enferm", "fiebre", "gripe", "malo=", "mala="),
        APPOINTMENT: ("médico", "cita=", "dentista", "hospital"),
        RELIGIOUS: ("religios", "fiesta religiosa"),
    },
    "tr": {
        ILLNESS: ("hasta=", "hastalan", "ateş", "grip"),
        APPOINTMENT: ("doktor", "randevu", "diş", "hastane"),
        RELIGIOUS: ("bayram",),
    },
    "ta": {
        ILLNESS: ("காய்ச்சல்", "உடல்நிலை சரியில்லை", "நோய்"),
        APPOINTMENT: ("மருத்துவர்", "மருத்துவமனை", "டாக்டர்"),
        RELIGIOUS: ("பண்டிகை", "தீபாவளி"),
    },
    "fr": {
        ILLNESS: ("malade", "fièvre", "grippe", "vomi"),
        APPOINTMENT: ("médecin", "rendez-vous", "rdv=", "dentiste", "hôpital"),
        RELIGIOUS: ("religieu", "fête religieuse"),
    },
}

_SPLIT = re.compile(r"[\s.,!?;:()\[\]\"“”‘’«»/|+]+")


@dataclass(frozen=True)
class Suggestion:
    """The suggested code (None when nothing matched) and the keywords that led to it."""

    code: str | None
    keywords: tuple[str, ...]
    locale: str | None


def _fold(text: str) -> str:
    """Lower case, apostrophes normalised, accents removed (Latin and Cyrillic letters alike)."""
    text = text.casefold().replace("’", "'")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text) if t]


def _matches(entry: str, tokens: list[str], joined: str) -> bool:
    if entry.endswith("="):
        return entry[:-1] in tokens
    if " " in entry:
        return (" " + joined).find(" " + entry) >= 0
    return any(token.startswith(entry) for token in tokens)


def _scan(language: str, raw_tokens: list[str], folded_tokens: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    raw_joined, folded_joined = " ".join(raw_tokens), " ".join(folded_tokens)
    for code, entries in LEXICON[language].items():
        for entry in entries:
            raw_entry = entry.casefold()
            folded_entry = _fold(entry)
            if _matches(raw_entry, raw_tokens, raw_joined) or _matches(folded_entry, folded_tokens, folded_joined):
                found.setdefault(code, []).append(entry.rstrip("="))
    return found


def suggest_code(text: str, locale: str | None = None) -> Suggestion:
    """Suggest I, M or R from a reply's words, or no code. Staff confirm; nothing is recorded from this alone.

    When words for several codes appear ("ill, at the doctor's"), the appointment wins over illness, since
    the appointment is the more specific reason; religious observance wins over both."""
    raw_tokens = _tokens(text.casefold().replace("’", "'"))
    folded_tokens = _tokens(_fold(text))
    language = (locale or "en").replace("_", "-").split("-", 1)[0].lower()
    first = [lang for lang in (language, "en") if lang in LEXICON]
    rounds = [list(dict.fromkeys(first))]
    if language == "en":  # English on file is often only the MIS default: the reply may be in any language
        rounds.append([lang for lang in LEXICON if lang not in first])
    for languages in rounds:
        for lang in languages:
            found = _scan(lang, raw_tokens, folded_tokens)
            if found:
                for code in (RELIGIOUS, APPOINTMENT, ILLNESS):
                    if code in found:
                        keywords = tuple(k for c in (RELIGIOUS, APPOINTMENT, ILLNESS) for k in found.get(c, []))
                        return Suggestion(code, keywords, lang)
    return Suggestion(None, (), None)
