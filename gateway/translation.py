"""Machine translation of parents' replies for staff: a pluggable provider, off by default.

Nothing is sent anywhere unless ``GATEWAY_TRANSLATE_URL`` names a service: :func:`get_translator` then gives a
:class:`LibreTranslateClient` (the LibreTranslate API, ``POST /translate``; meant for a service the school or
its IT support hosts). Any other provider fits behind the :class:`Translator` protocol. A reply's text is
health data: it is never logged, and an error from the service never carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from gateway.config import Settings, get_settings

AUTO = "auto"  # let the service detect the language
DEFAULT_TIMEOUT = 10.0


class TranslationError(Exception):
    """The service could not translate (unreachable, refused, or an answer we cannot read)."""


@dataclass(frozen=True)
class Translation:
    """The translated text and the source language (as detected by the service when asked to)."""

    text: str
    source: str


class Translator(Protocol):
    """Translate ``text`` from ``source`` (a language code, or ``auto``) into ``target``."""

    def translate(self, text: str, *, source: str = AUTO, target: str = "en") -> Translation: ...


class LibreTranslateClient:
    """A LibreTranslate-compatible HTTP client: ``POST {url}/translate`` with ``{q, source, target, format}``."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/translate"
        self.api_key = api_key
        self.timeout = timeout
        self.transport = transport

    def translate(self, text: str, *, source: str = AUTO, target: str = "en") -> Translation:
        payload: dict[str, Any] = {"q": text, "source": source or AUTO, "target": target, "format": "text"}
        if self.api_key:
            payload["api_key"] = self.api_key
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.endpoint, json=payload)
        except httpx.HTTPError as exc:
            raise TranslationError(f"translation service unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise TranslationError(f"translation service answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise TranslationError("translation service answered something other than JSON") from None
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if not isinstance(translated, str):
            raise TranslationError("translation service answered without translatedText")
        detected = answer.get("detectedLanguage")
        language = detected.get("language") if isinstance(detected, dict) else None
        return Translation(translated, language if isinstance(language, str) and language else source)


def get_translator(settings: Settings | None = None) -> Translator | None:
    """The configured translator, or None (the default) when ``GATEWAY_TRANSLATE_URL`` is not set."""
    settings = settings or get_settings()
    if not settings.translate_url:
        return None
    return LibreTranslateClient(settings.translate_url, api_key=settings.translate_api_key)
