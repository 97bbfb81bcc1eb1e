"""Which locales the gateway can write in and speak in, as plain data routing decides from.

Routing never imports the templates at decision time: ``LocaleCapabilities`` is passed in, so tests can
describe any set of catalogs and voices. ``capabilities_from_rendering()`` builds it from
``gateway.rendering`` when that package is importable; otherwise it returns ``STATIC_CAPABILITIES``, a
documented default that follows DOMAIN.md (Twilio has no voice for Somali, and Urdu is not in its list).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_LOCALE = "en-GB"

# The top home languages in English schools (DOMAIN.md), probed against the rendering package's tables.
COMMON_LOCALES = ("en-GB", "ur", "pa", "pl", "bn", "so", "ar", "gu", "pt", "ta", "fr", "ro", "tr", "lt",
                  "es", "uk", "de", "it", "fa")


def primary_subtag(locale: str) -> str:
    """``pl-PL`` -> ``pl``; ``en_GB`` -> ``en``."""
    return locale.replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True)
class LocaleCapabilities:
    """Locales with a template catalog, locales with a text-to-speech voice, and declared fallbacks.

    ``fallbacks`` maps a locale to the catalog locale the templates declare for it (e.g. ``en`` -> ``en-GB``);
    anything else falls back to a catalog with the same primary language subtag, then to en-GB.
    """

    catalogs: frozenset[str]
    voices: frozenset[str]
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    default_locale: str = DEFAULT_LOCALE
    _catalog_by_subtag: dict[str, str] = field(init=False, repr=False, compare=False)
    _voice_subtags: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Lookups by primary subtag, built once: routing asks these questions for every adult.
        object.__setattr__(self, "_catalog_by_subtag", _first_by_subtag(self.catalogs, self.default_locale))
        object.__setattr__(self, "_voice_subtags", frozenset(primary_subtag(v) for v in self.voices))

    @classmethod
    def of(cls, catalogs: Iterable[str], voices: Iterable[str], **kwargs: object) -> LocaleCapabilities:
        """Capabilities from plain iterables; the default locale is always a catalog with a voice."""
        default = str(kwargs.pop("default_locale", DEFAULT_LOCALE))
        fallbacks = kwargs.pop("fallbacks", {})
        assert isinstance(fallbacks, Mapping)
        return cls(frozenset(catalogs) | {default}, frozenset(voices) | {default}, dict(fallbacks), default)

    def resolve(self, wanted: str | None) -> tuple[str, str | None]:
        """(catalog locale to write in, why it fell back — or None when it is the wanted one)."""
        if not wanted:
            return self.default_locale, None
        if wanted in self.catalogs:
            return wanted, None
        declared = self.fallbacks.get(wanted)
        if declared is not None and declared in self.catalogs:
            return declared, None if primary_subtag(declared) == primary_subtag(wanted) else (
                f"no {wanted} templates, {declared} instead")
        same_language = self._catalog_by_subtag.get(primary_subtag(wanted))
        if same_language is not None:
            return same_language, None
        return self.default_locale, f"no {wanted} templates, {self.default_locale} instead"

    def has_voice(self, locale: str) -> bool:
        """Whether text-to-speech can speak this locale's language."""
        return locale in self.voices or primary_subtag(locale) in self._voice_subtags


def _first_by_subtag(locales: Iterable[str], default: str) -> dict[str, str]:
    by_subtag: dict[str, str] = {}
    for locale in sorted(locales, key=lambda loc: (loc != default, loc)):
        by_subtag.setdefault(primary_subtag(locale), locale)
    return by_subtag


# Used only while gateway.rendering is not importable: the DOMAIN.md facts, nothing more.
STATIC_CAPABILITIES = LocaleCapabilities.of(
    catalogs=COMMON_LOCALES,
    voices=("en-GB", "pl-PL", "ro-RO", "pt-PT", "es-ES", "tr-TR", "uk-UA", "bn-IN", "pa-IN", "fr-FR", "de-DE",
            "it-IT"),
    fallbacks={"en": "en-GB", "en-US": "en-GB"},
)


def capabilities_from_rendering(probe: Iterable[str] = COMMON_LOCALES) -> LocaleCapabilities:
    """The template catalogs and Twilio voices the rendering package declares.

    Imported lazily so routing works (and is tested) without templates; falls back to
    ``STATIC_CAPABILITIES`` when ``gateway.rendering`` is not importable or lacks the binding functions.
    """
    try:
        rendering = importlib.import_module("gateway.rendering")
        available_locales = rendering.available_locales
        voice_for_locale = rendering.voice_for_locale
    except (ImportError, AttributeError):
        return STATIC_CAPABILITIES
    resolve_locale = getattr(rendering, "resolve_locale", None)
    catalogs = tuple(available_locales())
    candidates = dict.fromkeys([*catalogs, *probe, *_home_language_tags()])
    voices = [locale for locale in candidates if voice_for_locale(locale) is not None]
    fallbacks: dict[str, str] = {}
    if resolve_locale is not None:
        for locale in candidates:
            if locale not in catalogs:
                fallbacks[locale] = resolve_locale(locale)[0]
    default = catalogs[0] if catalogs else DEFAULT_LOCALE
    return LocaleCapabilities.of(catalogs, voices, fallbacks=fallbacks, default_locale=default)


def _home_language_tags() -> list[str]:
    """Every language the DfE code table knows, so any home language gets an answer about its voice."""
    try:
        from gateway.languages import DFE_LANGUAGES
    except ImportError:
        return []
    return sorted({tag for tag, _name in DFE_LANGUAGES.values()})
