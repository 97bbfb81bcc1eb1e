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
from collections.abc import Iterable, Mapping, Sequence
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


def find_entries(text: str, entries: Iterable[str]) -> list[str]:
    """The ``entries`` (stems, ``word=`` whole words, phrases; the rules above) found in ``text``. An entry
    with ``&`` needs each of its parts somewhere in the text, in any order ("don't know & where" finds "I don't
    know where she is" and "don't know, where is she")."""
    raw_tokens = _tokens(text.casefold().replace("’", "'"))
    folded_tokens = _tokens(_fold(text))
    raw_joined, folded_joined = " ".join(raw_tokens), " ".join(folded_tokens)

    def found(part: str) -> bool:
        return (_matches(part.casefold(), raw_tokens, raw_joined)
                or _matches(_fold(part), folded_tokens, folded_joined))

    return [entry.rstrip("=") for entry in entries
            if all(found(part.strip()) for part in entry.split("&") if part.strip())]


_CLAUSES = re.compile(r"[.!?;\n]+|,|\s(?:but|and|while|whereas)\s", re.IGNORECASE)


def suggest_per_pupil(text: str, locale: str | None, pupils: Sequence[tuple[int, str]]) -> dict[int, Suggestion]:
    """Per pupil (id, forename), the code the reply suggests for that pupil.

    When the reply names none of the pupils, every pupil gets the reply's suggestion. When it names some,
    a clause's code goes to the pupils named in it (or, with no name in it, to those named just before:
    "Shafiq is sick. He has a fever"); a pupil the reply does not tie to a reason gets no suggestion
    ("Shafiq is sick, the others will come at 11": I for Shafiq only)."""
    overall = suggest_code(text, locale)
    named = {pupil_id for pupil_id, name in pupils if _names(text, name)}
    if not named:
        return {pupil_id: overall for pupil_id, _ in pupils}
    result: dict[int, Suggestion] = {pupil_id: Suggestion(None, (), None) for pupil_id, _ in pupils}
    current: set[int] = set()
    last: Suggestion | None = None
    for clause in _CLAUSES.split(text):
        if not clause or not clause.strip():
            continue
        here = {pupil_id for pupil_id, name in pupils if _names(clause, name)}
        current = here or current
        suggestion = suggest_code(clause, locale)
        if suggestion.code is None:
            # "Ola jest chora, Kuba też" / "…, and Kuba too": a name with at most one more word shares the reason.
            if here and last is not None and len(_tokens(clause)) - len(here) <= 1:
                for pupil_id in here:
                    result[pupil_id] = last
            continue
        last = suggestion
        for pupil_id in current:
            if result[pupil_id].code is None:
                result[pupil_id] = suggestion
    return result


def _names(text: str, forename: str) -> bool:
    """Whether ``text`` names the pupil: their forename (or its first part) as a whole word, any case or accent."""
    first = _fold(forename).split()
    if not first:
        return False
    return first[0] in _tokens(_fold(text).replace("'s", " "))


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


# What each lexicon entry means in English, for the gloss staff read beside a reply ("chora = ill").
MEANINGS: Mapping[str, Mapping[str, str]] = {
    "pl": {
        "chor": "ill", "gorączk": "fever", "przeziębi": "a cold", "gryp": "flu", "wymiot": "vomiting",
        "źle się czuje": "feels unwell", "boli": "hurts", "lekarz": "doctor", "wizyt": "appointment",
        "dentyst": "dentist", "stomatolog": "dentist", "szpital": "hospital", "przychodni": "clinic",
        "święto religijne": "religious holiday", "komuni": "Holy Communion", "religij": "religious",
    },
    "ur": {
        "بیمار": "ill", "بخار": "fever", "طبیعت خراب": "unwell", "bimar": "ill", "beemar": "ill", "bemar": "ill",
        "bukhar": "fever", "tabiyat kharab": "unwell", "ڈاکٹر": "doctor", "ہسپتال": "hospital",
        "اپائنٹمنٹ": "appointment", "daktar": "doctor", "haspatal": "hospital", "عید": "Eid", "eid=": "Eid",
    },
    "pa": {
        "ਬਿਮਾਰ": "ill", "ਬੁਖਾਰ": "fever", "ਬੁਖ਼ਾਰ": "fever", "bimar": "ill", "bukhar": "fever", "ਡਾਕਟਰ": "doctor",
        "ਹਸਪਤਾਲ": "hospital", "ਗੁਰਪੁਰਬ": "Gurpurab (religious festival)", "ਵਿਸਾਖੀ": "Vaisakhi",
        "gurpurab": "Gurpurab (religious festival)",
    },
    "bn": {
        "অসুস্থ": "ill", "জ্বর": "fever", "অসুখ": "illness", "ডাক্তার": "doctor", "হাসপাতাল": "hospital",
        "দাঁতের": "dental", "ঈদ": "Eid", "পূজা": "puja (religious festival)",
    },
    "so": {
        "xanuun": "ill", "jiran": "ill", "jirran": "ill", "qandho": "fever", "buka": "ill", "dhakhtar": "doctor",
        "isbitaal": "hospital", "ballan": "appointment", "ilko": "teeth (dentist)", "ciid": "Eid",
    },
    "ar": {
        "مريض": "ill", "مرض": "illness", "حمى": "fever", "تعبان": "unwell", "تعبانة": "unwell", "طبيب": "doctor",
        "دكتور": "doctor", "موعد": "appointment", "مستشفى": "hospital", "أسنان": "teeth (dentist)",
        "اسنان": "teeth (dentist)", "عيد": "Eid",
    },
    "gu": {
        "બીમાર": "ill", "તાવ": "fever", "માંદ": "ill", "ડૉક્ટર": "doctor", "ડોક્ટર": "doctor", "દવાખાન": "clinic",
        "હોસ્પિટલ": "hospital", "દિવાળી": "Diwali", "તહેવાર": "festival",
    },
    "pt": {
        "doente": "ill", "febre": "fever", "gripe": "flu", "mal disposto": "unwell", "mal disposta": "unwell",
        "vómito": "vomiting", "vomito": "vomiting", "médico": "doctor", "consulta": "appointment",
        "dentista": "dentist", "hospital": "hospital", "religios": "religious", "dia santo": "holy day",
    },
    "ro": {
        "bolnav": "ill", "răcit": "has a cold", "febr": "fever", "gripă": "flu", "gripa": "flu", "vomit": "vomiting",
        "doctor": "doctor", "medic": "doctor", "programare": "appointment", "dentist": "dentist",
        "spital": "hospital", "religi": "religious", "sărbătoare": "holiday (religious)",
        "sarbatoare": "holiday (religious)",
    },
    "lt": {
        "serg": "ill", "lig": "illness", "karščiuo": "has a fever", "peršal": "has a cold", "vemia": "vomiting",
        "gydytoj": "doctor", "daktar": "doctor", "odontolog": "dentist", "ligonin": "hospital",
        "vizit": "appointment", "religin": "religious",
    },
    "uk": {
        "хвор": "ill", "захвор": "fell ill", "температур": "temperature", "застуд": "a cold", "лікар": "doctor",
        "стоматолог": "dentist", "прийом": "appointment", "релігій": "religious", "церковн": "church",
    },
    "es": {
        "enferm": "ill", "fiebre": "fever", "gripe": "flu", "malo=": "ill", "mala=": "ill", "médico": "doctor",
        "cita=": "appointment", "dentista": "dentist", "hospital": "hospital", "religios": "religious",
        "fiesta religiosa": "religious holiday",
    },
    "tr": {
        "hasta=": "ill", "hastalan": "fell ill", "ateş": "fever", "grip": "flu", "doktor": "doctor",
        "randevu": "appointment", "diş": "teeth (dentist)", "hastane": "hospital", "bayram": "religious holiday",
    },
    "ta": {
        "காய்ச்சல்": "fever", "உடல்நிலை சரியில்லை": "unwell", "நோய்": "illness", "மருத்துவர்": "doctor",
        "மருத்துவமனை": "hospital", "டாக்டர்": "doctor", "பண்டிகை": "festival", "தீபாவளி": "Diwali",
    },
    "fr": {
        "malade": "ill", "fièvre": "fever", "grippe": "flu", "vomi": "vomiting", "médecin": "doctor",
        "rendez-vous": "appointment", "rdv=": "appointment", "dentiste": "dentist", "hôpital": "hospital",
        "religieu": "religious", "fête religieuse": "religious holiday",
    },
}

CODE_MEANINGS = {ILLNESS: "illness", APPOINTMENT: "appointment", RELIGIOUS: "religious observance"}


@dataclass(frozen=True)
class GlossWord:
    """One word (or phrase) of a reply as the parent wrote it, and what it means in English."""

    word: str
    meaning: str

    def __str__(self) -> str:
        return f"{self.word} = {self.meaning}"


def gloss(text: str, locale: str | None = None) -> tuple[GlossWord, ...]:
    """The reply's lexicon words in another language with their English meaning ("chora = ill"), in the order
    they appear; empty for an English reply or when no word is known. Languages are tried as by
    :func:`suggest_code` (the sender's own first; all of them when English or unknown is on file), and the
    first language with a match is glossed. Pure and local: nothing leaves the machine."""
    originals = _tokens(text.replace("’", "'"))
    raw_tokens = [t.casefold() for t in originals]
    folded_tokens = [_fold(t) for t in originals]
    language = (locale or "en").replace("_", "-").split("-", 1)[0].lower()
    order = [language] + [lang for lang in LEXICON if lang != language] if language == "en" else [language]
    for lang in order:
        if lang == "en" or lang not in LEXICON:
            continue
        found: dict[int, GlossWord] = {}
        for entries in LEXICON[lang].values():
            for entry in entries:
                meaning = MEANINGS.get(lang, {}).get(entry)
                at = _where(entry, raw_tokens, folded_tokens)
                if at is not None and at[0] not in found:
                    words = " ".join(originals[at[0]:at[0] + at[1]])
                    found[at[0]] = GlossWord(words, meaning or _code_meaning(lang, entry))
        if found:
            return tuple(found[index] for index in sorted(found))
    return ()


def _where(entry: str, raw_tokens: list[str], folded_tokens: list[str]) -> tuple[int, int] | None:
    """(index of the first token, number of tokens) where ``entry`` matches, or None (rules of :func:`_matches`)."""
    for candidate, tokens in ((entry.casefold(), raw_tokens), (_fold(entry), folded_tokens)):
        words = candidate.rstrip("=").split()
        for index in range(len(tokens) - len(words) + 1):
            window = tokens[index:index + len(words)]
            if candidate.endswith("=") or len(words) > 1:
                hit = window[:-1] == words[:-1] and (
                    window[-1] == words[-1] if candidate.endswith("=") else window[-1].startswith(words[-1]))
            else:
                hit = window[0].startswith(words[0])
            if hit:
                return index, len(words)
    return None


def _code_meaning(language: str, entry: str) -> str:
    return next((CODE_MEANINGS[code] for code, entries in LEXICON[language].items() if entry in entries), "?")
