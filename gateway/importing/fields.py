"""Field checks shared by the CTF and CSV parsers; each reports to a ProblemLog instead of raising."""

from __future__ import annotations

from datetime import time
from typing import Literal

from gateway.importing.records import UPN_PATTERN, ContactPointRecord, ProblemLog
from gateway.languages import current_dfe_code, is_dfe_code, language_note, to_locale
from gateway.models import ContactKind, Literacy, Restriction
from gateway.phones import InvalidEmailError, InvalidPhoneError, PhoneKind, normalise_email, normalise_phone
from gateway.relationships import RELATIONSHIP_CODES

PhoneSlot = Literal["mobile", "home", "work", "other", "minicom"]
CHANNELS = frozenset({"sms", "email", "voice"})


# Column sizes of the models: a longer value is an error here rather than a database failure later.
MAX_LENGTHS = {"name": 100, "title": 20, "year": 8, "contact_ref": 64}


def check_length(log: ProblemLog, where: str, field_name: str, value: str | None, kind: str) -> str | None:
    """``value``, with an error logged when it does not fit its column (so nothing will be written)."""
    if value is not None and len(value) > MAX_LENGTHS[kind]:
        log.error(where, field_name, f"too long ({len(value)} characters, at most {MAX_LENGTHS[kind]})")
    return value


def check_upn(log: ProblemLog, where: str, field_name: str, value: str | None) -> str | None:
    upn = (value or "").strip().upper()
    if not upn:
        log.error(where, field_name, "UPN is missing")
        return None
    if not UPN_PATTERN.match(upn):
        log.error(where, field_name, f"{upn!r} is not a UPN (a letter, 11 digits, then a digit or letter)")
        return None
    return upn


def check_phone(log: ProblemLog, where: str, field_name: str, text: str, slot: PhoneSlot) -> ContactPointRecord | None:
    """A phone as a contact point: a mobile number takes SMS whatever column it was typed in. An unusable
    number is dropped with a warning (:meth:`ProblemLog.contact_problem`); a Minicom textphone is kept as
    one (never called or texted)."""
    try:
        phone = normalise_phone(text)
    except InvalidPhoneError as exc:
        log.contact_problem(where, field_name, text, exc.reason)
        return None
    if slot == "minicom":
        return ContactPointRecord(ContactKind.MINICOM, phone.e164, False)
    mobile = phone.kind is PhoneKind.MOBILE
    if slot == "mobile" and not mobile:
        log.warn(where, field_name, f"given as a mobile but is a {phone.kind.value} number: no SMS to it", text)
    if slot == "work":
        return ContactPointRecord(ContactKind.WORK, phone.e164, mobile)
    kind = ContactKind.MOBILE if mobile else ContactKind.LANDLINE
    return ContactPointRecord(kind, phone.e164, mobile)


def check_email(log: ProblemLog, where: str, field_name: str, text: str) -> ContactPointRecord | None:
    try:
        return ContactPointRecord(ContactKind.EMAIL, normalise_email(text), False)
    except InvalidEmailError as exc:
        log.contact_problem(where, field_name, text, f"not a valid e-mail address: {exc.reason}")
        return None


def add_email(log: ProblemLog, where: str, field_name: str, email: str | None,
              points: list[ContactPointRecord]) -> None:
    """Add the contact's e-mail address to ``points`` when it is valid (dropped with a warning when not)."""
    if email:
        point = check_email(log, where, field_name, email)
        if point is not None:
            points.append(point)


def warn_if_unreachable(log: ProblemLog, where: str, points: list[ContactPointRecord]) -> None:
    """Warn when a contact can be reached no way at all (a Minicom alone cannot be called or texted)."""
    if not any(p.kind is not ContactKind.MINICOM for p in points):
        only = " (only a Minicom textphone, which the gateway never calls or texts)" if points else ""
        log.warn(where, None, f"no usable phone number or e-mail address{only}")


def finish_contact_points(log: ProblemLog, where: str, field_name: str, email: str | None,
                          points: list[ContactPointRecord], errors_before: int) -> None:
    """Add the contact's e-mail (when valid) to ``points``, then warn if the contact can be reached no way at
    all and nothing else was wrong with it (an error already explains a missing number)."""
    add_email(log, where, field_name, email, points)
    if len(log.errors) == errors_before:
        warn_if_unreachable(log, where, points)


def check_bool(log: ProblemLog, where: str, field_name: str, value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in ("true", "yes", "y", "1", "t"):
        return True
    if text in ("false", "no", "n", "0", "f"):
        return False
    log.error(where, field_name, f"{value!r} is not true or false")
    return None


def check_relationship(log: ProblemLog, where: str, field_name: str, value: str | None) -> str:
    code = (value or "").strip().upper()
    if not code:
        return "NOT"
    if code not in RELATIONSHIP_CODES:
        # An MIS may carry local codes; the link still matters more than its label, so warn and go on.
        log.warn(where, field_name, f"{code!r} is not a CTF relationship code: recorded as OTH (other)")
        return "OTH"
    return code


def check_priority(log: ProblemLog, where: str, field_name: str, value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 99:
        log.error(where, field_name, f"{text!r} is not a priority (1 = first contact)")
        return 1
    return int(text)


def check_language(log: ProblemLog, where: str, field_name: str, value: str | None) -> tuple[str | None, str | None]:
    """``(BCP 47 tag, DfE code or None)``; an unknown code is a warning and falls back to en-GB (never guessed
    as an ISO code). A language written to in another script (Shahmukhi Panjabi -> Urdu) is said once per file."""
    text = (value or "").strip()
    if not text:
        return None, None
    tag, warning = to_locale(text)
    if warning:
        log.warn(where, field_name, warning, text)
    note = language_note(text)
    if note:
        log.warn_once(f"language:{text.upper()}", where, field_name, f"{text}: {note} (said once per file)")
    # Keep the school's own code (even one we do not know) so staff can see what the MIS said.
    if is_dfe_code(text):
        return tag, current_dfe_code(text)
    looks_like_dfe = warning is not None and text.isalpha() and 3 <= len(text) <= 4
    return tag, text.upper() if looks_like_dfe else None


def check_channels(log: ProblemLog, where: str, field_name: str, value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    channels = [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        log.error(where, field_name, f"unknown channel(s) {', '.join(unknown)} (use sms, email, voice)")
        return None
    return ",".join(dict.fromkeys(channels))


def check_literacy(log: ProblemLog, where: str, field_name: str, value: str | None) -> Literacy | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    try:
        return Literacy(text)
    except ValueError:
        log.error(where, field_name, f"{value!r} is not standard, plain or voice")
        return None


def check_restriction(log: ProblemLog, where: str, field_name: str, value: str | None) -> Restriction | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    try:
        return Restriction(text)
    except ValueError:
        log.error(where, field_name, f"{value!r} is not none, no_contact or dsl_approval")
        return None


def check_window(log: ProblemLog, where: str, field_name: str, value: str | None) -> tuple[time, time] | None:
    text = (value or "").replace(" ", "")
    if not text:
        return None
    try:
        start_text, end_text = text.split("-")
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        log.error(where, field_name, f"{value!r} is not a window like 08:00-19:30")
        return None
    if start >= end:
        log.error(where, field_name, f"{value!r}: the window must end after it starts")
        return None
    return start, end
