"""An English translation of a parent's reply in another language, stored for the Inbox.

Runs after a reply was processed (the ladder already stopped, the thanks already queued), outside any
database transaction, and only when a translator is configured (``GATEWAY_TRANSLATE_URL``): otherwise
nothing is sent anywhere. A failing service leaves the reply untranslated; staff still see the lexicon's
gloss. Never raises; never logs the text.
"""

from __future__ import annotations

import logging

from gateway.db import session_scope
from gateway.models import Adult, InboundMessage
from gateway.pipeline.lexicon import suggest_code
from gateway.translation import AUTO, TranslationError, Translator, get_translator

log = logging.getLogger(__name__)

TRANSLATED_SOURCES = ("sms", "email")
MAX_CHARACTERS = 5000  # longer replies are translated in part (LibreTranslate's own default limit)


def reply_language(body: str, adult_language: str | None) -> str | None:
    """The reply's language as a two-letter code, ``auto`` when unknown, or None when it reads as English."""
    found = suggest_code(body, adult_language).locale
    if found is not None:
        return None if found == "en" else found
    language = (adult_language or "").replace("_", "-").split("-", 1)[0].lower()
    return language if language and language != "en" else AUTO


def translate_reply(inbound_id: int, translator: Translator | None = None) -> str | None:
    """Translate one reply into English and store it (once); the translation, or None when there is none."""
    try:
        translator = translator or get_translator()
        if translator is None:
            return None
        with session_scope() as session:
            inbound = session.get(InboundMessage, inbound_id)
            if (inbound is None or inbound.translation or inbound.keyword or not inbound.body.strip()
                    or inbound.source not in TRANSLATED_SOURCES):
                return None
            adult = session.get(Adult, inbound.adult_id) if inbound.adult_id else None
            body = inbound.body[:MAX_CHARACTERS]
            source = reply_language(body, adult.language if adult else None)
        if source is None:
            return None
        result = translator.translate(body, source=source, target="en")
        if result.source.split("-", 1)[0].lower() == "en" or result.text.strip().casefold() == body.strip().casefold():
            return None  # it was English after all
        with session_scope() as session:
            inbound = session.get(InboundMessage, inbound_id)
            if inbound is not None:
                inbound.translation = result.text.strip()
        log.info("reply translated", extra={"inbound_id": inbound_id, "source": result.source})
        return result.text.strip()
    except TranslationError as exc:
        log.warning("reply not translated: %s", exc, extra={"inbound_id": inbound_id})
    except Exception as exc:  # a translation must never disturb the reply; only the type (no text) is logged
        log.warning("reply not translated", extra={"inbound_id": inbound_id, "reason": type(exc).__name__})
    return None
