"""Spoken messages: which Twilio ``<Say>`` voice speaks each locale, and the keypad answers.

Only voices that Twilio lists for that very language are declared (Amazon Polly where Twilio offers a
neural or standard Polly voice, otherwise Google). Somali and Urdu have no Twilio voice, so
:func:`voice_for_locale` returns None and routing must choose another channel: we never read one language
with another language's voice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from xml.sax.saxutils import escape, quoteattr

# Keypad digit -> suggested attendance code (I illness, M medical/dental appointment); 3 = "please call
# me" suggests no code. Staff confirm any code; the gateway never writes one itself.
KEYPAD_CODES: Mapping[str, str | None] = MappingProxyType({"1": "I", "2": "M", "3": None})


@dataclass(frozen=True)
class VoiceSpec:
    """A Twilio ``<Say>`` language + voice, and (once rendered) the keypad prompt in that language."""

    language: str
    voice: str
    prompt: str | None = None
    keypad: Mapping[str, str | None] = field(default_factory=lambda: KEYPAD_CODES)


# Locale tag -> (Twilio <Say> language, voice). Checked against Twilio's text-to-speech voice list.
TWILIO_VOICES: Mapping[str, VoiceSpec] = MappingProxyType({
    "en-GB": VoiceSpec("en-GB", "Polly.Amy-Neural"),
    "pl": VoiceSpec("pl-PL", "Polly.Ola-Neural"),
    "ro": VoiceSpec("ro-RO", "Polly.Carmen"),
    "pt": VoiceSpec("pt-PT", "Polly.Ines-Neural"),
    "es": VoiceSpec("es-ES", "Polly.Lucia-Neural"),
    "tr": VoiceSpec("tr-TR", "Polly.Filiz"),
    "fr": VoiceSpec("fr-FR", "Polly.Lea-Neural"),
    "uk": VoiceSpec("uk-UA", "Google.uk-UA-Standard-A"),
    "bn": VoiceSpec("bn-IN", "Google.bn-IN-Standard-C"),
    "pa": VoiceSpec("pa-IN", "Google.pa-IN-Standard-A"),
    "gu": VoiceSpec("gu-IN", "Google.gu-IN-Standard-C"),
    "ta": VoiceSpec("ta-IN", "Google.ta-IN-Standard-C"),
    "lt": VoiceSpec("lt-LT", "Google.lt-LT-Standard-A"),
    "ar": VoiceSpec("ar-XA", "Google.ar-XA-Standard-A"),
    # No catalog yet, but Twilio speaks them: ready for when one is added.
    "de": VoiceSpec("de-DE", "Polly.Vicki-Neural"),
    "it": VoiceSpec("it-IT", "Polly.Bianca-Neural"),
})

# Declared so nobody adds a look-alike: Twilio has no Somali voice and no Urdu voice.
NO_TWILIO_VOICE = frozenset({"so", "ur"})


def voice_for_locale(locale: str) -> VoiceSpec | None:
    """The ``<Say>`` language and voice for a locale tag, or None when Twilio cannot speak it.

    A regional tag finds its language's voice (``pl-PL`` -> pl-PL, ``en`` -> en-GB), never another language's.
    """
    if locale in TWILIO_VOICES:
        return TWILIO_VOICES[locale]
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    if language in NO_TWILIO_VOICE:
        return None
    if language == "en":
        return TWILIO_VOICES["en-GB"]
    return TWILIO_VOICES.get(language)


def with_prompt(spec: VoiceSpec, prompt: str | None) -> VoiceSpec:
    """The same voice carrying a rendered keypad prompt."""
    return replace(spec, prompt=prompt)


def minimal_twiml(spoken_text: str, spec: VoiceSpec, gather_action_url: str | None = None) -> str:
    """A small TwiML document: ``<Say>`` the message, then ``<Gather>`` one digit with the prompt.

    Used by ``gateway render`` when ``channels.twilio_voice.call_twiml`` is not available; the voice channel
    owns the TwiML that real calls receive.
    """
    language, voice = quoteattr(spec.language), quoteattr(spec.voice)
    say = f"<Say language={language} voice={voice}>{escape(spoken_text)}</Say>"
    gather = ""
    if spec.prompt:
        action = f" action={quoteattr(gather_action_url)}" if gather_action_url else ""
        gather = (f'<Gather numDigits="1" timeout="8"{action}>'
                  f"<Say language={language} voice={voice}>{escape(spec.prompt)}</Say></Gather>")
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{say}{gather}</Response>'
