"""Localised message templates (Jinja2 + Babel): every kind, channel, variant and locale.

The public interface (ARCHITECTURE.md, "Rendering")::

    render_message(kind, locale=..., channel=..., variant=..., context=...) -> RenderedMessage
    available_locales(), resolve_locale(tag), voice_for_locale(tag), KEYPAD_CODES, TemplateRenderError
    build_context(kind, school=..., recipient=..., pupils=..., date=..., **kind_specific)
    sms_segments(text) -> SegmentInfo(encoding, segments, characters)
"""

from __future__ import annotations

from .context import KIND_FIELDS, KINDS, ContextError, build_context, sample_context
from .locales import SOURCE_LOCALE, available_locales, resolve_locale
from .renderer import CHANNELS, VARIANTS, RenderedMessage, TemplateRenderError, render_message
from .sms import SegmentInfo, normalise_sms_text, sms_segments
from .voice import KEYPAD_CODES, VoiceSpec, voice_for_locale

__all__ = [
    "CHANNELS",
    "KEYPAD_CODES",
    "KINDS",
    "KIND_FIELDS",
    "SOURCE_LOCALE",
    "VARIANTS",
    "ContextError",
    "RenderedMessage",
    "SegmentInfo",
    "TemplateRenderError",
    "VoiceSpec",
    "available_locales",
    "build_context",
    "normalise_sms_text",
    "render_message",
    "resolve_locale",
    "sample_context",
    "sms_segments",
    "voice_for_locale",
]
