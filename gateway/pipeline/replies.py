"""Inbound texts and keypad answers: opt-out keywords, matching to the adult and case, the suggested code.

Keywords (STOP, START, HELP) are decided by ``pipeline.keywords`` (Twilio's OptOutType first, else its default
words); HELP is answered with the school's name and number, one text per HELP message, through the outbox.

A reply is matched to the adult by number (ContactPoint value in E.164) and to that adult's most recent
replyable case today. It stops the ladder (case → replied, pending messages cancelled), suggests a code
that staff confirm, and thanks the parent in their language once per case. A call-back request ("call me",
keypad 3, an empty text) stops the ladder but is not an answer, and a welfare concern alerts the DSL at once
(``pipeline.reply_classes`` decides, ``pipeline.casework`` acts). A sender we cannot match is
kept for staff (``adult_id`` NULL, ``handled`` false): never dropped. Bodies are never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway import clock
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import AbsenceCase, Adult, CaseState, ContactKind, ContactPoint, InboundMessage, PupilContact
from gateway.models.messaging import absence_case_pupil
from gateway.pipeline import casework, ports
from gateway.pipeline.cases import REPLYABLE_STATES, close_case
from gateway.pipeline.context import message_context, school_context
from gateway.pipeline.dsl_mail import email_dsls
from gateway.pipeline.keywords import help_text, keyword_for
from gateway.pipeline.lexicon import suggest_code
from gateway.pipeline.outbox import NewMessage, add_message, send_after_commit
from gateway.pipeline.reply_classes import ReplyClass, classify_reply
from gateway.safeguarding import RESTRICTED, blocked_address_reason, blocked_reason, blocked_reasons

log = logging.getLogger(__name__)

PHONE_KINDS = (ContactKind.MOBILE, ContactKind.LANDLINE, ContactKind.WORK)


def _insert_inbound(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (provider_sid) DO NOTHING RETURNING id``, built once per dialect (hot path)."""
    statement = _INSERTS.get(dialect)
    if statement is None:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        table = InboundMessage.__table__
        assert isinstance(table, Table)
        statement = _INSERTS[dialect] = (
            insert(table).on_conflict_do_nothing(index_elements=["provider_sid"]).returning(table.c.id))
    return statement


_INSERTS: dict[str, Any] = {}


def record_inbound(session: Session, *, provider_sid: str, from_number: str, to_number: str | None, body: str,
                   source: str = "sms", outbox_id: int | None = None, num_media: int = 0,
                   opt_out_type: str | None = None) -> tuple[int, bool]:
    """Store an inbound message once per provider sid; (id, created) — a Twilio retry finds the first row.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike): the webhook's hot path,
    and safe when the same retry arrives twice at once."""
    values: dict[str, Any] = {
        "provider_sid": provider_sid, "from_number": from_number, "to_number": to_number, "body": body,
        "source": source, "outbox_id": outbox_id, "received_at": clock.now(), "handled": False,
        "matched_keywords": [], "num_media": max(0, num_media), "opt_out_type": (opt_out_type or None),
    }
    created = session.execute(_insert_inbound(session.get_bind().dialect.name), values).scalar()
    if created is not None:
        return int(created), True
    existing = session.scalar(select(InboundMessage.id).where(InboundMessage.provider_sid == provider_sid))
    assert existing is not None
    return int(existing), False


def set_opt_out(session: Session, number: str, opted_out: bool) -> int:
    """STOP / START from ``number``: applies to every adult's contact point with that number."""
    value = clock.now() if opted_out else None
    result = session.execute(update(ContactPoint).where(ContactPoint.value == number,
                                                        ContactPoint.kind.in_(PHONE_KINDS))
                             .values(opted_out_at=value).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def match_adults(session: Session, number: str) -> list[Adult]:
    """Adults with this phone number on file (or, for an e-mail reply, this e-mail address in any case)."""
    return list(session.scalars(select(Adult).join(ContactPoint, ContactPoint.adult_id == Adult.id)
                                .where(_holds(number)).order_by(Adult.id)).unique())


def _holds(address: str) -> ColumnElement[bool]:
    """Contact points holding ``address``: a phone number as stored (E.164), an e-mail address in any case."""
    if "@" in address:
        return and_(ContactPoint.kind == ContactKind.EMAIL, func.lower(ContactPoint.value) == address.strip().lower())
    return and_(ContactPoint.value == address, ContactPoint.kind.in_(PHONE_KINDS))


def open_case_for(session: Session, adult_id: int, now: datetime) -> AbsenceCase | None:
    """The adult's most recent replyable case today (through any pupil they are linked to)."""
    from gateway.config import get_settings

    today = now.astimezone(get_settings().tz).date()
    return session.scalars(
        select(AbsenceCase)
        .join(absence_case_pupil, AbsenceCase.id == absence_case_pupil.c.case_id)
        .join(PupilContact, PupilContact.pupil_id == absence_case_pupil.c.pupil_id)
        .where(PupilContact.adult_id == adult_id, AbsenceCase.date == today,
               AbsenceCase.state.in_(REPLYABLE_STATES))
        .order_by(AbsenceCase.opened_at.desc(), AbsenceCase.id.desc()).limit(1)).first()


def process_inbound_message(inbound_id: int) -> list[int]:
    """Act on one recorded inbound message, once however often it is handed over (the webhook, a Twilio retry,
    the scheduler's sweep of unprocessed replies). Returns the outbox ids it queued (the thanks, DSL e-mails),
    handed to the workers as it commits."""
    with session_scope() as session:
        if not claim_inbound(session, inbound_id):
            return []
        inbound = session.get(InboundMessage, inbound_id)
        if inbound is None:
            return []
        ids = _process(session, inbound)
        inbound.processed_at = clock.now()
        send_after_commit(session, ids)
    return ids


def claim_inbound(session: Session, inbound_id: int) -> bool:
    """Take an unprocessed message for this transaction: ``UPDATE … SET processed_at WHERE processed_at IS NULL``,
    the transaction's first statement. A concurrent delivery of the same id waits on the row (PostgreSQL) or the
    write lock (SQLite) and then finds it taken; should this transaction roll back, the message is free again."""
    claimed = session.execute(update(InboundMessage)
                              .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None))
                              .values(processed_at=clock.now()).execution_options(synchronize_session=False))
    return int(getattr(claimed, "rowcount", 0) or 0) == 1


def _process(session: Session, inbound: InboundMessage) -> list[int]:
    now = clock.now()
    word = keyword_for(inbound.body, inbound.opt_out_type) if inbound.source == "sms" else None
    if word is not None:
        inbound.keyword = word
        inbound.handled = True  # a keyword needs no staff action; it stays visible in the inbox history
        if word == "STOP":
            set_opt_out(session, inbound.from_number, True)
        elif word == "START":
            set_opt_out(session, inbound.from_number, False)
        _attach_adult(session, inbound, now)
        log.info("keyword received", extra={"keyword": word, "from": redact(inbound.from_number),
                                            "twilio_verdict": bool(inbound.opt_out_type)})
        return _help_reply(session, inbound) if word == "HELP" else []
    barred = restricted_sender(session, inbound)
    if barred is not None:
        return flag_for_dsl(session, inbound, *barred)
    if inbound.source == "voice" and inbound.body.strip() not in ports.current().keypad_codes:
        # Only the digits the call offered count (the webhook replays the prompt for any other): never a reply.
        inbound.handled = True
        log.info("keypad digit the call did not offer ignored", extra={"inbound_id": inbound.id})
        return []
    case = _attach_adult(session, inbound, now)
    adult = session.get(Adult, inbound.adult_id) if inbound.adult_id is not None else None
    kind = classify_reply(inbound.body, adult.language if adult else None, source=inbound.source,
                          num_media=inbound.num_media)
    ids = _act_on_reply(session, inbound, case, adult, kind)
    if kind.welfare:  # the DSL hears of it now, whoever sent it; the reply may still explain the absence
        # After the case was closed or paused (closing cancels the case's queued messages, an alert included).
        flagged = case or (session.get(AbsenceCase, inbound.case_id) if inbound.case_id else None)
        ids = casework.raise_welfare_concern(session, inbound, flagged, adult, kind.welfare_words) + ids
    return ids


def _act_on_reply(session: Session, inbound: InboundMessage, case: AbsenceCase | None, adult: Adult | None,
                  kind: ReplyClass) -> list[int]:
    """Suggest the code; then stop the ladder and thank the parent, or keep a call-back request open."""
    if inbound.adult_id is None:
        log.info("reply from an unknown sender kept for staff", extra={"from": redact(inbound.from_number)})
        return []
    if inbound.source in ("sms", "email"):
        suggestion = suggest_code(inbound.body, adult.language if adult else None)
        inbound.suggested_code = suggestion.code
        inbound.matched_keywords = list(suggestion.keywords)
    else:  # a keypad answer: 1 ill, 2 appointment, 3 "please call me" (no code: staff call back)
        digit = inbound.body.strip()
        inbound.suggested_code = ports.current().keypad_codes.get(digit)
        inbound.matched_keywords = [f"keypad {digit}"]
    if case is None:
        if kind.call_back:
            casework.call_back_task(session, inbound, None, adult, kind.call_back_words)
        return []  # a message with no open case today: staff read it in the inbox
    if kind.call_back and inbound.suggested_code is None:
        # Not an answer: the parent has engaged (the ladder stops) but the case stays open until staff call.
        casework.request_call_back(session, case, adult, inbound, kind.call_back_words)
        return []  # no thanks: nothing was explained
    close_case(session, case.id, "keypad" if inbound.source == "voice" else "reply", state=CaseState.REPLIED)
    log.info("reply stopped the ladder", extra={"case_id": case.id, "suggested_code": inbound.suggested_code})
    if kind.call_back:  # a reason and a request to be called: answered, and staff call them too
        casework.call_back_task(session, inbound, case, adult, kind.call_back_words)
    if inbound.source not in ("sms", "email") or adult is None:
        return []  # a caller hears the thanks on the call itself
    return _thank(session, case, adult, inbound)


def _help_reply(session: Session, inbound: InboundMessage) -> list[int]:
    """Answer HELP with the school's name and number: one text per inbound message, through the outbox."""
    points = list(session.scalars(select(ContactPoint).where(ContactPoint.value == inbound.from_number,
                                                             ContactPoint.kind.in_(PHONE_KINDS))))
    if any(point.opted_out_at is not None for point in points):
        return []  # Twilio refuses texts to an opted-out number (21610)
    adult = session.get(Adult, inbound.adult_id) if inbound.adult_id else None
    if blocked_address_reason(session, inbound.from_number) or (adult and blocked_reason(session, adult.id)):
        log.info("HELP from a restricted contact not answered", extra={"inbound_id": inbound.id})
        return []  # nothing is ever sent to a number a restricted adult holds
    from gateway.config import get_settings
    from gateway.routing.recipient import reply_point, reply_send_at

    school = school_context(session, [link.pupil for link in adult.links] if adult else [])
    point_id: int | None = None
    used = ports.current()
    if adult is not None:  # routing decides whether the number that asked may be texted (exactly that number)
        recipient = used.routing.recipient(session, adult.id)
        point = reply_point(recipient.adult, inbound.from_number, "sms", exact=True) if recipient else None
        if recipient is not None and point is None:
            return []
        point_id = point.id if point else None
    send_after = reply_send_at(clock.now(), used.ladder(), get_settings().tz)
    row = add_message(session, NewMessage(
        idempotency_key=f"help:{inbound.id}", kind="help_reply", channel="sms", to_address=inbound.from_number,
        locale="en-GB", variant="standard", context={"school": school}, adult_id=adult.id if adult else None,
        contact_point_id=point_id, why="HELP received", send_after=send_after,
        prerendered=ports.Content(text=help_text(school))))  # the HELP text exists in English only
    return [row.id] if send_after <= clock.now() else []


def restricted_sender(session: Session, inbound: InboundMessage) -> tuple[str, int | None] | None:
    """(reason, the restricted adult's id when known) when this message came from, or on a call to, a number
    held by an adult who may not be contacted now; None when it is an ordinary reply.

    A restriction binds the number: a shared family phone held by a barred father and the mother counts as
    his, so nothing sent from it may close, pause or answer a case."""
    reason = blocked_address_reason(session, inbound.from_number)
    holder: int | None = None
    if reason is not None:
        holders = [a.id for a in match_adults(session, inbound.from_number)]
        blocked = blocked_reasons(session, holders)
        holder = min(blocked, default=None)
    if inbound.outbox_id is not None:
        from gateway.models import OutboxMessage

        outbox = session.get(OutboxMessage, inbound.outbox_id)
        if outbox is not None and outbox.adult_id is not None:
            called = blocked_reason(session, outbox.adult_id)
            if called is not None and reason != RESTRICTED:
                reason = called
            if called is not None and holder is None:
                holder = outbox.adult_id
            if reason is None:
                reason = blocked_address_reason(session, outbox.to_address)
    return None if reason is None else (reason, holder)


def flag_for_dsl(session: Session, inbound: InboundMessage, reason: str, adult_id: int | None) -> list[int]:
    """Keep a message from a restricted adult for the DSL only: it never touches a case (no close, no pause,
    no answer, no suggested code, no thanks, no export) and is not in the office Inbox. The DSL sees it on
    /dsl/messages and is e-mailed that one arrived (without its text). Returns the e-mails to enqueue."""
    inbound.dsl_only, inbound.dsl_reason = True, reason
    inbound.adult_id = adult_id if adult_id is not None else inbound.adult_id
    inbound.case_id, inbound.suggested_code, inbound.matched_keywords = None, None, []
    inbound.handled = False  # the DSL acknowledges it
    log.warning("message from a restricted contact kept for the DSL",
                extra={"inbound_id": inbound.id, "reason": reason, "from": redact(inbound.from_number)})
    return alert_dsl_of_message(session, inbound)


def alert_dsl_of_message(session: Session, inbound: InboundMessage) -> list[int]:
    """E-mail every active DSL that a restricted contact's message is waiting (no body, no names)."""
    from gateway.config import get_settings

    what = {"voice": "keypad answer", "email": "e-mail reply"}.get(inbound.source, "text message")
    text = (f"A {what} arrived from a number or address held by a contact you have restricted. It has not "
            "stopped or answered any absence follow-up, nobody else can see it, and nothing was sent back. "
            f"Please read it: {get_settings().public_url}/dsl/messages")
    return email_dsls(session, key=lambda dsl_id: f"dsl-inbound:{inbound.id}:{dsl_id}",
                      subject="Safeguarding: a message from a restricted contact", text=text,
                      why="message from a restricted contact")


def _attach_adult(session: Session, inbound: InboundMessage, now: datetime) -> AbsenceCase | None:
    if inbound.outbox_id is not None and inbound.adult_id is None:
        from gateway.models import OutboxMessage

        outbox = session.get(OutboxMessage, inbound.outbox_id)
        if outbox is not None:
            inbound.adult_id = outbox.adult_id
            case = session.get(AbsenceCase, outbox.case_id) if outbox.case_id else None
            if case is not None:
                inbound.case_id = case.id
                return case if case.state in REPLYABLE_STATES else None
    adults = match_adults(session, inbound.from_number)
    best: tuple[Adult, AbsenceCase | None] | None = None
    for adult in adults:  # a shared family phone: prefer the adult with a case open today
        case = open_case_for(session, adult.id, now)
        if best is None or (best[1] is None and case is not None):
            best = (adult, case)
    if best is None:
        return None
    inbound.adult_id = best[0].id
    inbound.case_id = best[1].id if best[1] else None
    return best[1]


def _thank(session: Session, case: AbsenceCase, adult: Adult, inbound: InboundMessage) -> list[int]:
    claimed = session.execute(update(AbsenceCase).where(AbsenceCase.id == case.id, AbsenceCase.thanked.is_(False))
                              .values(thanked=True).execution_options(synchronize_session=False))
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return []
    from gateway.config import get_settings
    from gateway.routing.language import language_for
    from gateway.routing.recipient import reply_point, reply_send_at

    channel = "email" if inbound.source == "email" else "sms"  # an e-mail reply is thanked by e-mail
    pupil_ids = [p.id for p in case.pupils]
    used = ports.current()
    recipient = used.routing.recipient(session, adult.id, pupil_ids)
    if recipient is None or recipient.forbidden is not None:
        return []
    # Routing decides the address (the one they wrote from, if it may be used), the language and the time.
    point = reply_point(recipient.adult, inbound.from_number, channel)
    if point is None:
        return []
    language = language_for(recipient.adult, recipient.pupils, used.capabilities(), channel)
    row = add_message(session, NewMessage(
        idempotency_key=f"thanks:{case.id}", kind="reply_thanks", channel=channel, to_address=point.value,
        locale=language.locale, variant=language.variant,
        context=message_context(session, adult=adult, pupils=case.pupils, on=case.date), adult_id=adult.id,
        contact_point_id=point.id, case_id=case.id, pupil_ids=pupil_ids,
        send_after=reply_send_at(clock.now(), used.ladder(), get_settings().tz),
        why="reply received", same_day=True))
    return [row.id] if row.send_after is None or row.send_after <= clock.now() else []  # later: the scheduler
