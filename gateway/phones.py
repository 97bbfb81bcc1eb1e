"""Phone numbers and e-mail addresses as schools type them, normalised for sending.

Phones go to E.164 with ``phonenumbers`` (default region GB) and are classed mobile / landline / other;
only a mobile can take an SMS. E-mail addresses are checked for syntax only (no DNS lookups at import).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType

# Ofcom keeps these ranges for drama and testing; libphonenumber calls them invalid, but schools' test
# data, our demo school and the documentation use them, so they count as a mobile / a landline here.
_OFCOM_DRAMA_MOBILE: Final = re.compile(r"^\+447700900\d{3}$")
_OFCOM_DRAMA_LANDLINE: Final = re.compile(r"^\+441632960\d{3}$")

_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_LANDLINE_TYPES: Final = frozenset({PhoneNumberType.FIXED_LINE})
_POSSIBILITY_HINTS: Final = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}
# Characters people put in phone numbers that carry no meaning.
_SEPARATORS: Final = re.compile(r"[\s\-.()/]")


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    OTHER = "other"  # non-geographic, VoIP, pager, ...: may take a call, never an SMS


@dataclass(frozen=True)
class PhoneNumber:
    """A normalised phone number."""

    e164: str
    kind: PhoneKind
    sms_capable: bool


class InvalidPhoneError(ValueError):
    """The text is not a usable phone number; ``reason`` says why in words a school office understands."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InvalidEmailError(ValueError):
    """The text is not a syntactically valid e-mail address."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _classify(number: phonenumbers.PhoneNumber, e164: str) -> PhoneKind | None:
    if phonenumbers.is_valid_number(number):
        number_type = phonenumbers.number_type(number)
        if number_type in _MOBILE_TYPES:
            return PhoneKind.MOBILE
        if number_type in _LANDLINE_TYPES:
            return PhoneKind.LANDLINE
        return PhoneKind.OTHER
    if _OFCOM_DRAMA_MOBILE.match(e164):
        return PhoneKind.MOBILE
    if _OFCOM_DRAMA_LANDLINE.match(e164):
        return PhoneKind.LANDLINE
    return None


def _uk_hint(cleaned: str, number: phonenumbers.PhoneNumber) -> str | None:
    """Why a UK number is not valid, in the words an office uses for the usual slips, or None."""
    if number.country_code != 44:
        return None
    national = str(number.national_number)
    if not cleaned.startswith(("0", "+")) and len(cleaned) <= 8:
        return f"a local number without its area code: {len(cleaned)} digits"
    if national.startswith("7") and len(national) < 10:
        missing = 10 - len(national)
        return f"too short: a UK mobile has 11 digits, this one is {missing} digit{'s' if missing > 1 else ''} short"
    return None


@lru_cache(maxsize=65536)  # siblings repeat the same numbers; parsing is the slow part of an import
def normalise_phone(text: str, region: str = "GB") -> PhoneNumber:
    """Normalise a phone number as typed (``07700 900123``, ``+44 7700 900123``, ``0044 …``, ``(01632) 960 001``).

    Raises :class:`InvalidPhoneError` (a ``ValueError``) with a clear reason when it is not a usable number.
    """
    cleaned = _SEPARATORS.sub("", text.strip())
    if not cleaned:
        raise InvalidPhoneError("empty phone number")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not re.fullmatch(r"\+?\d+", cleaned):
        raise InvalidPhoneError(f"{text.strip()!r} contains characters that are not digits")
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"{text.strip()!r} is not a phone number ({exc._msg})") from exc
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = _classify(number, e164)
    if kind is None:
        hint = _uk_hint(cleaned, number) or _POSSIBILITY_HINTS.get(phonenumbers.is_possible_number_with_reason(number))
        if hint is None and number.country_code == 44:  # UK numbers have 9 or 10 digits after the 0
            digits = len(str(number.national_number))
            hint = "too short" if digits < 9 else "too long" if digits > 10 else None
        hint = hint or "not an allocated number range"
        raise InvalidPhoneError(f"{text.strip()!r} is not a valid phone number ({hint})")
    return PhoneNumber(e164=e164, kind=kind, sms_capable=kind is PhoneKind.MOBILE)


@lru_cache(maxsize=65536)
def normalise_email(text: str) -> str:
    """Check an e-mail address's syntax (no network) and return its normalised form.

    Raises :class:`InvalidEmailError` (a ``ValueError``) when the syntax is wrong.
    """
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmailError(str(exc)) from exc
