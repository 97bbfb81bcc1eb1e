"""Translation review by people: which messages a language has, who may review it, and approving a text.

The messages are those of ``locales/messages.pot`` (every kind x channel x variant of ``templates/`` and the
date patterns and half-term names in ``gateway/rendering/dates.py``), each with where it is used. A member of
staff reviews the languages granted to them (``gateway translations grant``, or an administrator on the
review page); administrators may review every language. Approving checks the text (placeholders, plural forms,
and every SMS that uses it against the length budget of ``gateway templates check``), stores it (one row per
plural form) with who and when, writes an audit entry, and makes the renderer use it at once.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.errors import GatewayError
from gateway.models import StaffRole, StaffTranslatorLocale, StaffUser, TranslationApproval
from gateway.rendering.approved_texts import LocaleApprovals, invalidate_approved_texts, read_approvals
from gateway.rendering.locales import RIGHT_TO_LEFT, SOURCE_LOCALE, available_locales, babel_locale
from gateway.rendering.review_status import MessageKey, po_path, read_catalog, template_messages
from gateway.staff import record_audit
from gateway.translation_checks import placeholders, translation_problems
from gateway.translation_sms_length import SmsLengthCheck, sms_length_check

CHANNEL_FILES = {"sms.txt": "SMS", "voice.txt": "voice call", "email_subject.txt": "e-mail subject",
                 "email_body.txt": "e-mail", "email_body.html": "e-mail"}


class TranslationReviewError(GatewayError):
    """A translation could not be approved, or a permission not granted (the message says why)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class MessageState(StrEnum):
    APPROVED = "approved"
    DRAFT = "draft"
    MISSING = "no translation"


@dataclass(frozen=True)
class CatalogMessage:
    """One message to review: its number on the review pages, its key and where the templates use it."""

    number: int
    key: MessageKey
    usages: tuple[str, ...]

    @property
    def msgctxt(self) -> str:
        return self.key.msgctxt

    @property
    def msgid(self) -> str:
        return self.key.msgid

    @property
    def msgid_plural(self) -> str | None:
        return self.key.msgid_plural

    @property
    def placeholders(self) -> list[str]:
        found = placeholders(self.msgid)
        return found + [p for p in placeholders(self.msgid_plural or "") if p not in found]


@dataclass(frozen=True)
class ReviewRow:
    """A message with its draft (the catalog's translation), its approved text if any, and its state."""

    message: CatalogMessage
    draft: tuple[str, ...]
    approved: tuple[str, ...] | None
    approved_by: str | None
    approved_at: str | None

    @property
    def state(self) -> MessageState:
        if self.approved is not None:
            return MessageState.APPROVED
        return MessageState.DRAFT if self.draft and all(self.draft) else MessageState.MISSING

    @property
    def current(self) -> tuple[str, ...]:
        """What the renderer uses now (the approved text, else the draft)."""
        return self.approved if self.approved is not None else self.draft


def _usage(path: str) -> str:
    parts = Path(path).parts
    if parts[:1] == ("gateway",):
        return "dates and half-term names (every message)"
    if parts[:2] == ("templates", "layout"):
        return "voice call keypad question" if parts[-1] == "keypad.txt" else "e-mail layout"
    if parts[:1] == ("templates",) and len(parts) >= 3:
        kind = parts[1].replace("_", " ")
        variant = "plain" if len(parts) > 3 and parts[2] == "plain" else "standard"
        return f"{kind} · {CHANNEL_FILES.get(parts[-1], parts[-1])} · {variant}"
    return path


@cache
def _usages() -> dict[tuple[str, str], tuple[str, ...]]:
    """(msgctxt, msgid) -> where the templates use it, from a fresh extraction (as ``make i18n`` does)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    from gateway.resources import config_dir, templates_dir

    found: dict[tuple[str, str], dict[str, None]] = {}
    try:
        with (config_dir() / "babel.cfg").open() as handle:
            method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
        for filename, _line, message, _comments, context in extract_from_dir(
                str(templates_dir().parent), method_map, options_map):
            msgid = message[0] if isinstance(message, tuple | list) else message
            found.setdefault((context or "", str(msgid)), {})[_usage(filename)] = None
    except OSError:  # an installation without the extraction config: the list still works, without usages
        return {}
    return {key: tuple(sorted(value)) for key, value in found.items()}


def catalog_messages(root: Path | None = None) -> tuple[CatalogMessage, ...]:
    """Every message to review, numbered from 1 in the order of ``messages.pot``."""
    usages = _usages()
    return tuple(CatalogMessage(number, key, usages.get(key.key, ()))
                 for number, key in enumerate(template_messages(root), start=1))


def reviewable_languages() -> tuple[str, ...]:
    """Every language with a catalog (the source language, en-GB, is not reviewed)."""
    return tuple(locale for locale in available_locales() if locale != SOURCE_LOCALE)


def translator_locales(session: Session, staff: StaffUser) -> tuple[str, ...]:
    """The languages ``staff`` may review: every one for an administrator, else those granted to them."""
    if staff.role is StaffRole.ADMIN:
        return reviewable_languages()
    granted = set(session.scalars(select(StaffTranslatorLocale.locale)
                                  .where(StaffTranslatorLocale.staff_id == staff.id)))
    return tuple(locale for locale in reviewable_languages() if locale in granted)


def may_review_any_language(session: Session, staff_id: int, role: StaffRole) -> bool:
    """Whether a member of staff may review at least one language (the Translations link in the navigation)."""
    languages = reviewable_languages()
    if role is StaffRole.ADMIN:
        return bool(languages)
    granted = session.scalars(select(StaffTranslatorLocale.locale).where(StaffTranslatorLocale.staff_id == staff_id))
    return not set(granted).isdisjoint(languages)


def can_review(session: Session, staff: StaffUser, locale: str) -> bool:
    return locale in translator_locales(session, staff)


def translators(session: Session) -> list[tuple[StaffUser, str]]:
    """Every (staff member, language) grant, by username then language."""
    query = (select(StaffUser, StaffTranslatorLocale.locale)
             .join(StaffTranslatorLocale, StaffTranslatorLocale.staff_id == StaffUser.id)
             .order_by(StaffUser.username, StaffTranslatorLocale.locale))
    return [(staff, locale) for staff, locale in session.execute(query).all()]


def _known_language(locale: str) -> None:
    if locale not in reviewable_languages():
        raise TranslationReviewError([f"{locale!r} is not a language with a catalog; one of "
                                      f"{', '.join(reviewable_languages())}"])


def grant_translator(session: Session, staff: StaffUser, locale: str, *, by: StaffUser | None,
                     via: str = "web") -> bool:
    """Let ``staff`` review ``locale`` (audited). False when they already could."""
    _known_language(locale)
    if session.get(StaffTranslatorLocale, (staff.id, locale)) is not None:
        return False
    session.add(StaffTranslatorLocale(staff_id=staff.id, locale=locale, granted_at=clock.now()))
    session.flush()
    record_audit(session, by, "grant_translator", "staff_user", staff.id, {"locale": locale, "via": via})
    return True


def revoke_translator(session: Session, staff: StaffUser, locale: str, *, by: StaffUser | None,
                      via: str = "web") -> bool:
    """Stop ``staff`` reviewing ``locale`` (audited). False when they could not anyway."""
    grant = session.get(StaffTranslatorLocale, (staff.id, locale))
    if grant is None:
        return False
    session.delete(grant)
    session.flush()
    record_audit(session, by, "revoke_translator", "staff_user", staff.id, {"locale": locale, "via": via})
    return True


def num_plurals(locale: str, root: Path | None = None) -> int:
    path = po_path(locale, root)
    return read_catalog(path).num_plurals if path.exists() else 2


def plural_form_labels(locale: str, root: Path | None = None) -> list[str]:
    """One label per plural form, with the numbers that use it: "form 2 (2, 3, 4, 22, …)"."""
    path = po_path(locale, root)
    count = num_plurals(locale, root)
    expression = read_catalog(path).plural_expr if path.exists() else ""
    rule = stdlib_gettext.c2py(expression) if expression else (lambda n: 0 if n == 1 else 1)
    examples: dict[int, list[int]] = {index: [] for index in range(count)}
    for n in range(201):
        index = int(rule(n))
        if index in examples and len(examples[index]) < 5:
            examples[index].append(n)
    labels = []
    cldr = babel_locale(locale).plural_form
    for index in range(count):
        numbers = examples[index]
        category = cldr(numbers[0]) if numbers else ""
        shown = ", ".join(str(n) for n in numbers) + (", …" if len(numbers) == 5 else "")
        labels.append(f"form {index + 1} ({category}: {shown})" if category else f"form {index + 1}")
    return labels


def draft_forms(locale: str, message: CatalogMessage, root: Path | None = None) -> tuple[str, ...]:
    """The catalog's translation of ``message`` (empty strings when it has none; fuzzy counts as none)."""
    path = po_path(locale, root)
    if not path.exists():
        return ()
    found = read_catalog(path).get(message.msgid, context=message.msgctxt or None)
    if found is None or found.fuzzy:
        return ()
    if isinstance(found.string, tuple | list):
        return tuple(str(form) for form in found.string)
    return (str(found.string),) if found.string else ()


def approvals_in(session: Session, locale: str) -> LocaleApprovals:
    """The approved texts of ``locale`` in this session's database."""
    return read_approvals(session, locale).get(locale) or LocaleApprovals(locale)


def review_rows(session: Session, locale: str, root: Path | None = None) -> list[ReviewRow]:
    """Every message of ``locale`` with its draft, approved text and state."""
    approvals = approvals_in(session, locale)
    rows = []
    for message in catalog_messages(root):
        approved = approvals.get(message.msgctxt, message.msgid)
        rows.append(ReviewRow(message, draft_forms(locale, message, root),
                              approved.forms if approved else None,
                              approved.approved_by if approved else None,
                              approved.approved_at.date().isoformat() if approved else None))
    return rows


def find_message(number: int, root: Path | None = None) -> CatalogMessage | None:
    messages = catalog_messages(root)
    return messages[number - 1] if 1 <= number <= len(messages) else None


def check_forms(locale: str, message: CatalogMessage, forms: Sequence[str], root: Path | None = None) -> list[str]:
    """Why ``forms`` cannot be approved for ``message`` in ``locale`` (empty: they can)."""
    return translation_problems(locale, msgctxt=message.msgctxt, msgid=message.msgid,
                                msgid_plural=message.msgid_plural, forms=[form.strip() for form in forms],
                                num_plurals=num_plurals(locale, root), form_labels=plural_form_labels(locale, root))


def check_sms_length(session: Session, locale: str, message: CatalogMessage, forms: Sequence[str]) -> SmsLengthCheck:
    """Every SMS using ``message`` rendered with ``forms`` (and the other approved texts), held to the limits
    of ``gateway templates check``: nothing is stored."""
    return sms_length_check(approvals_in(session, locale), message, [form.strip() for form in forms])


def approval_problems(session: Session, locale: str, message: CatalogMessage, forms: Sequence[str],
                      root: Path | None = None) -> list[str]:
    """Why ``forms`` cannot be approved: placeholders and plural forms first, then the SMS length budget."""
    forms = [form.strip() for form in forms]
    return check_forms(locale, message, forms, root) or list(check_sms_length(session, locale, message,
                                                                              forms).problems)


def approve_translation(session: Session, staff: StaffUser, locale: str, message: CatalogMessage,
                        forms: Sequence[str], root: Path | None = None) -> list[TranslationApproval]:
    """Store ``forms`` as the approved translation of ``message`` (flushes; the caller commits).

    Raises :class:`TranslationReviewError` when ``staff`` may not review ``locale``, or the text fails the
    placeholder and plural checks or would make an SMS that uses it too long. The audit entry names the
    message, never the text.
    """
    if not can_review(session, staff, locale):
        raise TranslationReviewError([f"{staff.username} may not review {locale}"])
    forms = [form.strip() for form in forms]
    problems = approval_problems(session, locale, message, forms, root)
    if problems:
        raise TranslationReviewError(problems)
    session.execute(delete(TranslationApproval).where(
        TranslationApproval.locale == locale, TranslationApproval.msgctxt == message.msgctxt,
        TranslationApproval.msgid == message.msgid))
    now = clock.now()
    rows = [TranslationApproval(locale=locale, msgctxt=message.msgctxt, msgid=message.msgid, plural_index=index,
                                text=form, approved_by=staff.id, approved_at=now)
            for index, form in enumerate(forms)]
    session.add_all(rows)
    session.flush()
    edited = tuple(forms) != draft_forms(locale, message, root)
    record_audit(session, staff, "approve_translation", "translation_approval", rows[0].id,
                 {"locale": locale, "message": message.number, "msgid": message.msgid[:120], "edited": edited})
    # The renderer reads approvals again once this is committed (not before: it would cache the old text).
    event.listen(session, "after_commit", lambda _session: invalidate_approved_texts(), once=True)
    return rows


def text_direction_of(locale: str) -> str:
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"
