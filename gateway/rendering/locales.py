"""Which locales the gateway writes in, and how each BCP 47 tag maps to Babel.

Locale tags in the gateway are BCP 47 (``pl``, ``pt``, ``en-GB``). Catalogs live under
``locales/<tag>/LC_MESSAGES/messages.po`` using the tag's primary language (``pt``), and Babel is asked for
the regional variant families in England most often read (documented in ``BABEL_LOCALE_IDS``).
"""

from __future__ import annotations

from functools import cache

from babel import Locale

from gateway.resources import locales_dir

SOURCE_LOCALE = "en-GB"

# Tag -> Babel locale id. The region picks date words and digits, so it follows the families we write to:
# pt -> pt_PT (most Portuguese-speaking families in England are from Portugal or lusophone Africa),
# ur -> ur_PK, bn -> bn_BD (Sylheti/Bangladeshi heritage), pa -> pa_Guru_IN (Gurmukhi script; a
# Shahmukhi catalog would be a separate ``pa-Arab`` tag), so -> so_SO, ta -> ta_IN.
BABEL_LOCALE_IDS: dict[str, str] = {
    "en-GB": "en_GB",
    "pl": "pl_PL",
    "ur": "ur_PK",
    "pa": "pa_Guru_IN",
    "bn": "bn_BD",
    "so": "so_SO",
    "ar": "ar",
    "gu": "gu_IN",
    "pt": "pt_PT",
    "ro": "ro_RO",
    "lt": "lt_LT",
    "uk": "uk_UA",
    "es": "es_ES",
    "tr": "tr_TR",
    "ta": "ta_IN",
    "fr": "fr_FR",
}

RIGHT_TO_LEFT = frozenset({"ar", "ur"})


@cache
def babel_locale(tag: str) -> Locale:
    """The Babel ``Locale`` for a supported tag (cached: parsing a locale is slow)."""
    return Locale.parse(BABEL_LOCALE_IDS.get(tag, tag.replace("-", "_")))


def text_direction(tag: str) -> str:
    """``rtl`` for Arabic and Urdu, ``ltr`` otherwise (the HTML ``dir`` attribute)."""
    return "rtl" if tag in RIGHT_TO_LEFT else "ltr"


@cache
def available_locales() -> tuple[str, ...]:
    """Locales with a catalog on disk, the source locale ``en-GB`` first, the rest sorted."""
    root = locales_dir()
    found = sorted(p.parent.parent.name for p in root.glob("*/LC_MESSAGES/messages.mo"))
    return (SOURCE_LOCALE, *(tag for tag in found if tag != SOURCE_LOCALE))


def _normalise_tag(locale: str) -> str:
    parts = [p for p in locale.strip().replace("_", "-").split("-") if p]
    if not parts:
        return ""
    head, *rest = parts
    return "-".join([head.lower(), *(p.upper() if len(p) == 2 else p.title() for p in rest)])


def resolve_locale(locale: str) -> tuple[str, str | None]:
    """The locale to write in for a requested tag, and why it differs from the request (or None).

    ``pl`` and ``PL`` give ``("pl", None)``; ``pl-PL`` gives ``("pl", None)`` (same language, the catalog
    is regionless); ``en``/``en-GB`` give ``("en-GB", None)``; ``pt-BR`` gives ``("pt", "…")``; an unknown
    language gives ``("en-GB", "no catalog for 'de'; writing in en-GB")``.
    """
    tag = _normalise_tag(locale)
    known = available_locales()
    if tag in known:
        return tag, None
    language = tag.split("-", 1)[0]
    if language == "en":
        if tag in ("en", "en-GB", "en-UK"):
            return SOURCE_LOCALE, None
        return SOURCE_LOCALE, f"no catalog for {tag!r}; writing in {SOURCE_LOCALE}"
    if language in known:
        region = tag.split("-", 1)[1] if "-" in tag else ""
        babel_region = BABEL_LOCALE_IDS.get(language, "").rpartition("_")[2]
        if region and region != babel_region:
            return language, f"no catalog for {tag!r}; writing in {language!r}"
        return language, None
    if not tag:
        return SOURCE_LOCALE, f"no language given; writing in {SOURCE_LOCALE}"
    return SOURCE_LOCALE, f"no catalog for {tag!r}; writing in {SOURCE_LOCALE}"
