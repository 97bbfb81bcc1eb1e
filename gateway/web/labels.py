"""Words staff read instead of codes: language names, delivery states, channels, register codes.

Language names come from Babel in the staff's language (English): ``so`` reads "Somali", ``pa-Arab``
"Punjabi (Arabic)", a DfE code ``POL`` "Polish". Delivery states say where a message is in words an office
uses ("with the phone company", "delivered", "failed: not a mobile").
"""

from __future__ import annotations

from functools import cache

from babel import Locale, UnknownLocaleError

STAFF_LOCALE = Locale("en")

CHANNEL_NAMES = {"sms": "text", "email": "e-mail", "voice": "call"}
CHANNEL_TITLES = {"sms": "Text (SMS)", "email": "E-mail", "voice": "Phone call"}
CHANNEL_VERBS = {"sms": "Texted", "email": "E-mailed", "voice": "Called"}

FAILURE_REASONS = {
    "invalid_number": "not a phone number",
    "not_mobile": "not a mobile",
    "opted_out": "the parent texted STOP",
    "region_not_enabled": "a number abroad the account cannot reach",
    "rejected": "refused by the phone company",
    "bounced": "the e-mail bounced",
    "recipient_refused": "the mail server refused the address",
    "unreachable": "the phone stayed switched off",
    "unknown_number": "the number does not exist",
    "filtered": "blocked by the phone company's spam filter",
    "undeliverable": "could not be delivered",
    "invalid_address": "not an e-mail address",
    "not_configured": "this channel is not set up",
    "no_answer": "no answer",
    "busy": "the line was busy",
}

STATE_WORDS = {
    "planned": "waiting for approval",
    "queued": "waiting to go",
    "sending": "being sent",
    "accepted": "with the phone company",
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "not delivered",
    "cancelled": "not sent (no longer needed)",
    "suppressed": "not sent (may not be contacted)",
}

KIND_WORDS = {
    "absence_first_day": "first-day absence", "absence_followup": "absence follow-up",
    "absence_emergency_contact": "message to an emergency contact", "absence_continuing": "continuing absence",
    "reply_thanks": "thank-you for a reply", "fresh_start": "fresh start", "positive_attendance": "well done",
    "fortnightly_checkin": "fortnightly check-in", "dsl_alert": "alert to the DSL",
}

REGISTER_CODES = {
    "/": "present (morning)", "\\": "present (afternoon)", "L": "late, before registers closed",
    "N": "absent, no reason yet", "U": "late, after registers closed", "O": "unauthorised absence",
    "G": "holiday not agreed", "I": "illness", "M": "medical or dental appointment", "C": "other authorised",
}


@cache
def language_name(code_or_tag: str | None) -> str:
    """``so`` -> "Somali", ``pt-BR`` -> "Portuguese (Brazil)", ``en-GB`` -> "English", ``POL`` -> "Polish".
    An unknown value is shown as given, so nothing is hidden."""
    value = (code_or_tag or "").strip()
    if not value:
        return "English"
    if value.isupper() and len(value) in (3, 4):
        from gateway.languages import dfe_language_name

        named = dfe_language_name(value)
        if named:
            return named
    try:
        locale = Locale.parse(value.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return str(STAFF_LOCALE.languages.get(value.lower(), value))
    base = str(STAFF_LOCALE.languages.get(locale.language, value))
    if locale.language == "en":
        return base
    extra = [STAFF_LOCALE.scripts.get(locale.script, locale.script)] if locale.script else []
    if locale.territory:
        extra.append(STAFF_LOCALE.territories.get(locale.territory, locale.territory))
    return f"{base} ({', '.join(extra)})" if extra else base


def delivery_state(state: object, reason: str | None = None) -> str:
    """An outbox state in words; a failure says why when known ("failed: not a mobile")."""
    word = str(getattr(state, "value", state))
    text = STATE_WORDS.get(word, word.replace("_", " "))
    if word in ("failed", "undelivered") and reason:
        text = f"{text}: {FAILURE_REASONS.get(reason, reason.replace('_', ' '))}"
    return text


def channel_name(channel: str) -> str:
    """``sms`` -> "text", ``voice`` -> "call"."""
    return CHANNEL_NAMES.get(channel, channel)


def register_code(code: str) -> str:
    """What a register code means, for the office."""
    return REGISTER_CODES.get(code, code)
