"""Staff answer a parent's reply in their own words: a short text (or e-mail, when the reply was an e-mail) to
the adult who wrote, through the outbox like every other message and with the same safeguarding checks.

Refused (``ContactRestricted``) for an adult who may not be contacted and for an address held by one; an
opted-out number is never texted. Routing decides where and when it goes (``routing.recipient.reply_point``
with ``exact``: the address they wrote from, only when routing may use it, as for a HELP answer;
``reply_send_at``: at once within the school's hours, else the next morning), as for every other message.
With a translation provider configured (``gateway.translation``), staff may add a machine translation into the
adult's language, sent after the English.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from gateway import clock
from gateway.config import get_settings
from gateway.errors import GatewayError
from gateway.models import AbsenceCase, Adult, InboundMessage
from gateway.pipeline import ports
from gateway.pipeline.context import school_context
from gateway.pipeline.outbox import NewMessage, add_message, send_after_commit
from gateway.routing.recipient import reply_point, reply_send_at
from gateway.safeguarding import ContactRestricted, blocked_address_reason, ensure_contactable
from gateway.translation import TranslationError, get_translator

log = logging.getLogger(__name__)

MAX_LENGTH = 600  # a short message: at most four GSM-7 segments (fewer in UCS-2); the page counts as staff type


class CannotAnswer(GatewayError):
    """The reply cannot be answered in writing (why, in words for staff)."""


def answer_channel(reply: InboundMessage) -> str | None:
    """How an answer to this reply travels: "email" for an e-mail, "sms" for a text; None for a keypad answer
    (the number may be a landline: call them instead)."""
    return {"sms": "sms", "email": "email"}.get(reply.source)


def translation_offered() -> bool:
    """Whether a translation provider is configured (the page offers a translation only then)."""
    return get_translator() is not None


def translate_for(adult: Adult, text: str) -> str | None:
    """A machine translation of ``text`` into the adult's language, or None (English, no provider, it failed)."""
    language = (adult.language or "en").replace("_", "-").split("-", 1)[0].lower()
    translator = get_translator()
    if translator is None or language == "en" or not text.strip():
        return None
    try:
        return translator.translate(text, source="en", target=language).text
    except TranslationError:
        log.warning("translation of a staff answer failed", extra={"adult_id": adult.id})
        return None


def send_answer(session: Session, reply: InboundMessage, text: str, staff_id: int,
                translation: str | None = None) -> int:
    """Queue the answer and commit; returns the outbox id (handed to the workers as it commits, or by the
    scheduler when routing times it for the next morning)."""
    channel = answer_channel(reply)
    body = text.strip()
    if not body:
        raise CannotAnswer("Write a message first.")
    if len(body) > MAX_LENGTH:
        raise CannotAnswer(f"Keep it short: at most {MAX_LENGTH} characters.")
    adult = session.get(Adult, reply.adult_id) if reply.adult_id else None
    if adult is None or channel is None:
        raise CannotAnswer("This reply cannot be answered in writing: phone them instead.")
    ensure_contactable(session, adult.id)
    barred = blocked_address_reason(session, reply.from_number)
    if barred is not None:
        raise ContactRestricted(adult.id, barred)
    case = session.get(AbsenceCase, reply.case_id) if reply.case_id else None
    pupils = list(case.pupils) if case else [link.pupil for link in adult.links]
    used = ports.current()
    # Routing decides whether the address they wrote from may be used (exactly that one) and when it may go.
    recipient = used.routing.recipient(session, adult.id, [p.id for p in pupils])
    if recipient is None:
        raise CannotAnswer("They are no longer linked to any pupil: phone them instead.")
    if recipient.forbidden is not None:
        raise ContactRestricted(adult.id, recipient.forbidden)
    point = reply_point(recipient.adult, reply.from_number, channel, exact=True)
    if point is None:
        raise CannotAnswer(why_not_answerable(recipient, reply.from_number, channel))
    send_after = reply_send_at(clock.now(), used.ladder(), get_settings().tz)
    if translation and translation.strip():
        body = f"{body}\n\n{translation.strip()}"
    school = school_context(session, pupils)
    subject = f"{school['name']}: a message from the school" if channel == "email" else None
    row = add_message(session, NewMessage(
        idempotency_key=f"staff-answer:{reply.id}:{staff_id}:{clock.now().isoformat()}", kind="staff_answer",
        channel=channel, to_address=point.value, locale="en-GB", variant="standard", context={},
        # Not tied to the case: closing it (or a call-back request) must not cancel what staff wrote.
        adult_id=adult.id, contact_point_id=point.id, staff_id=staff_id,
        pupil_ids=[p.id for p in pupils], why="answer written by staff", send_after=send_after,
        prerendered=ports.Content(text=body, subject=subject)))
    if send_after <= clock.now():
        send_after_commit(session, [row.id])  # later: the scheduler hands it over when its time comes
    session.commit()
    log.info("staff answer queued", extra={"outbox_id": row.id, "channel": channel})
    return row.id


def why_not_answerable(recipient: ports.Recipient, address: str, channel: str) -> str:
    """Why routing will not use the address a reply came from, in words for staff."""
    key = address.strip().lower()
    point = next((p for p in recipient.adult.contact_points if p.value.strip().lower() == key
                  and (p.kind == "email") == (channel == "email")), None)
    if point is None:
        return "That number or address is no longer on file for them."
    if channel == "sms" and point.opted_out:
        return "They replied STOP: texts to this number are not allowed."
    if point.permanently_failed:
        return "Messages to that number or address have failed: check their contact details."
    return "That number cannot receive texts: phone them instead."
