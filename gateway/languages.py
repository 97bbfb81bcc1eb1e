"""Home languages: the DfE language codes used in CTF and MIS exports, mapped to BCP 47 tags.

DfE codes are not ISO codes (``PNJ`` is Panjabi, ``PRS`` Persian/Farsi, ``RMN`` Romanian), and many have
four-letter variants for a dialect or country (``PNJM`` Panjabi (Mirpuri), ``PORB`` Portuguese (Brazil)).
The table below lists the codes we are sure of; a code we do not know is never fatal: it falls back to
English with a warning the importer shows, so a school can tell us about it.

Variants map to the base language because messages are written per language, not per dialect: a Sylheti
speaker reads Bengali script, a Mirpuri speaker is best served by Panjabi (or a voice call).
"""

from __future__ import annotations

import re
from typing import Final

from babel import Locale, UnknownLocaleError

DEFAULT_LOCALE: Final = "en-GB"

# DfE code -> (BCP 47 tag, English name). Keep the base code and its variants together.
DFE_LANGUAGES: Final[dict[str, tuple[str, str]]] = {
    "ENG": ("en-GB", "English"),
    "ENB": ("en-GB", "English (believed to be)"),
    "ALB": ("sq", "Albanian/Shqip"),
    "AMR": ("am", "Amharic"),
    "ARA": ("ar", "Arabic"),
    "ARAA": ("ar", "Arabic (Algeria)"),
    "ARAE": ("ar", "Arabic (Egypt)"),
    "ARAI": ("ar", "Arabic (Iraq)"),
    "ARAM": ("ar", "Arabic (Morocco)"),
    "ARAS": ("ar", "Arabic (Sudan)"),
    "ARAY": ("ar", "Arabic (Yemen)"),
    "BNG": ("bn", "Bengali"),
    "BNGA": ("bn", "Bengali (variant)"),
    "BNGC": ("bn", "Bengali (variant)"),
    "BNGS": ("bn", "Bengali (variant)"),
    "BUL": ("bg", "Bulgarian"),
    "CHI": ("zh", "Chinese"),
    "CHIC": ("zh", "Chinese (Cantonese)"),
    "CHIM": ("zh", "Chinese (Mandarin/Putonghua)"),
    "CZE": ("cs", "Czech"),
    "DUT": ("nl", "Dutch/Flemish"),
    "FRN": ("fr", "French"),
    "GER": ("de", "German"),
    "GRE": ("el", "Greek"),
    "GUJ": ("gu", "Gujarati"),
    "HEB": ("he", "Hebrew"),
    "HIN": ("hi", "Hindi"),
    "HUN": ("hu", "Hungarian"),
    "IGB": ("ig", "Igbo"),
    "ITA": ("it", "Italian"),
    "JPN": ("ja", "Japanese"),
    "KOR": ("ko", "Korean"),
    "KUR": ("ku", "Kurdish"),
    "LAT": ("lv", "Latvian"),
    "LIT": ("lt", "Lithuanian"),
    "NEP": ("ne", "Nepali"),
    "PAT": ("ps", "Pashto/Pakhto"),
    "PNJ": ("pa", "Panjabi"),
    "PNJA": ("pa", "Panjabi (variant)"),
    "PNJG": ("pa", "Panjabi (Gurmukhi)"),
    "PNJM": ("pa", "Panjabi (Mirpuri)"),
    "PNJP": ("pa", "Panjabi (Pothwari)"),
    "POL": ("pl", "Polish"),
    "POR": ("pt", "Portuguese"),
    "PORA": ("pt", "Portuguese (Angola)"),
    "PORB": ("pt", "Portuguese (Brazil)"),
    "PRS": ("fa", "Persian/Farsi"),
    "RMN": ("ro", "Romanian"),
    "RUS": ("ru", "Russian"),
    "SHO": ("sn", "Shona"),
    "SIN": ("si", "Sinhala"),
    "SLO": ("sk", "Slovak"),
    "SOM": ("so", "Somali"),
    "SPA": ("es", "Spanish"),
    "TAM": ("ta", "Tamil"),
    "TEL": ("te", "Telugu"),
    "THA": ("th", "Thai"),
    "TIG": ("ti", "Tigrinya"),
    "TUR": ("tr", "Turkish"),
    "UKR": ("uk", "Ukrainian"),
    "URD": ("ur", "Urdu"),
    "VIE": ("vi", "Vietnamese"),
    "YOR": ("yo", "Yoruba"),
}

# DfE codes that say something about the language without naming one: English, with a warning.
DFE_NOT_A_LANGUAGE: Final[dict[str, str]] = {
    "OTB": "believed to be other than English, language not known",
    "OTL": "other language, not named",
    "NOT": "information not obtained",
    "REF": "refused",
}

# A DfE code is 3 letters, or 4 for a variant; checked before BCP 47 so "pol" means Polish (POL), too.
_DFE_CODE = re.compile(r"^[A-Za-z]{3,4}$")
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def dfe_language_name(code: str) -> str | None:
    """The English name of a DfE language code, or None when the code is not in the table."""
    entry = DFE_LANGUAGES.get(code.strip().upper())
    return entry[1] if entry else None


def is_dfe_code(value: str) -> bool:
    """True when ``value`` is a DfE code this module knows (including the not-a-language codes)."""
    code = value.strip().upper()
    return code in DFE_LANGUAGES or code in DFE_NOT_A_LANGUAGE


def _canonical_tag(value: str) -> str | None:
    """The canonical form of a BCP 47 tag Babel knows (``pt-br`` -> ``pt-BR``), else None."""
    if not _TAG.match(value):
        return None
    try:
        locale = Locale.parse(value.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    parts = [locale.language]
    if locale.script:
        parts.append(locale.script)
    if locale.territory:
        parts.append(locale.territory)
    return "-".join(parts)


def to_locale(code_or_tag: str | None) -> tuple[str, str | None]:
    """Map a DfE code (``POL``) or a BCP 47 tag (``pl``, ``pt-BR``) to ``(BCP 47 tag, warning or None)``.

    Never raises: an empty, unknown or malformed value gives ``("en-GB", "why")`` so the caller can
    report it as a warning and carry on.
    """
    value = (code_or_tag or "").strip()
    if not value:
        return DEFAULT_LOCALE, None
    if _DFE_CODE.match(value):
        code = value.upper()
        if code in DFE_LANGUAGES:
            return DFE_LANGUAGES[code][0], None
        if code in DFE_NOT_A_LANGUAGE:
            return DEFAULT_LOCALE, f"language code {code} ({DFE_NOT_A_LANGUAGE[code]}): using {DEFAULT_LOCALE}"
    tag = _canonical_tag(value)
    if tag is not None:
        return tag, None
    return DEFAULT_LOCALE, f"unknown language code {value!r}: using {DEFAULT_LOCALE}"
