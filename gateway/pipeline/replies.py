"""Inbound texts and keypad answers: opt-out keywords, matching to the adult and case, the suggested code.

A reply is matched to the adult by number (ContactPoint value in E.164) and to that adult's most recent
replyable case today. It stops the ladder (case → replied, pending messages cancelled), suggests a code
that staff confirm, and thanks the parent in their language once per case. A sender we cannot match is
kept for staff (``adult_id`` NULL, ``handled`` false): never dropped. Bodies are never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway import clock
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import AbsenceCase, Adult, CaseState, ContactKind, ContactPoint, InboundMessage, PupilContact
from gateway.models.messaging import absence_case_pupil
from gateway.pipeline import collaborators
from gateway.pipeline.cases import REPLYABLE_STATES, close_case
from gateway.pipeline.context import message_context
from gateway.pipeline.lexicon import suggest_code
from gateway.pipeline.outbox import NewMessage, add_message, mark_enqueued

log = logging.getLogger(__name__)

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
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
                   source: str = "sms", outbox_id: int | None = None) -> tuple[int, bool]:
    """Store an inbound message once per provider sid; (id, created) — a Twilio retry finds the first row.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike): the webhook's hot path,
    and safe when the same retry arrives twice at once."""
    values: dict[str, Any] = {
        "provider_sid": provider_sid, "from_number": from_number, "to_number": to_number, "body": body,
        "source": source, "outbox_id": outbox_id, "received_at": clock.now(), "handled": False,
        "matched_keywords": [],
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
    """Adults with this phone number on file."""
    return list(session.scalars(select(Adult).join(ContactPoint, ContactPoint.adult_id == Adult.id)
                                .where(ContactPoint.value == number, ContactPoint.kind.in_(PHONE_KINDS))
                                .order_by(Adult.id)).unique())


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
    """Act on one recorded inbound message (idempotent). Returns outbox ids to enqueue (the thanks)."""
    with session_scope() as session:
        inbound = session.get(InboundMessage, inbound_id)
        if inbound is None or inbound.processed_at is not None:
            return []
        ids = _process(session, inbound)
        inbound.processed_at = clock.now()
        mark_enqueued(session, ids)
    return ids


def _process(session: Session, inbound: InboundMessage) -> list[int]:
    now = clock.now()
    word = inbound.body.strip().upper().rstrip(".!")
    if inbound.source == "sms" and word in OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS:
        inbound.keyword = word
        inbound.handled = True  # a keyword needs no staff action; it stays visible in the inbox history
        if word in OPT_OUT_WORDS:
            set_opt_out(session, inbound.from_number, True)
        elif word in OPT_IN_WORDS:
            set_opt_out(session, inbound.from_number, False)
        _attach_adult(session, inbound, now)
        log.info("keyword received", extra={"keyword": word, "from": redact(inbound.from_number)})
        return []
    case = _attach_adult(session, inbound, now)
    if inbound.adult_id is None:
        log.info("reply from an unknown sender kept for staff", extra={"from": redact(inbound.from_number)})
        return []
    adult = session.get(Adult, inbound.adult_id)
    if inbound.source == "sms":
        suggestion = suggest_code(inbound.body, adult.language if adult else None)
        inbound.suggested_code = suggestion.code
        inbound.matched_keywords = list(suggestion.keywords)
    else:  # a keypad answer: 1 ill, 2 appointment, 3 "please call me" (no code: staff call back)
        digit = inbound.body.strip()
        inbound.suggested_code = collaborators.keypad_codes().get(digit)
        inbound.matched_keywords = [f"keypad {digit}"]
    if case is None:
        return []  # a message with no open case today: staff read it in the inbox
    close_case(session, case.id, "keypad" if inbound.source == "voice" else "reply", state=CaseState.REPLIED)
    log.info("reply stopped the ladder", extra={"case_id": case.id, "suggested_code": inbound.suggested_code})
    if inbound.source != "sms" or adult is None:
        return []  # a caller hears the thanks on the call itself
    return _thank(session, case, adult, inbound)


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
    point = session.scalar(select(ContactPoint).where(ContactPoint.adult_id == adult.id,
                                                      ContactPoint.value == inbound.from_number).limit(1))
    if point is not None and point.opted_out_at is not None:
        return []
    row = add_message(session, NewMessage(
        idempotency_key=f"thanks:{case.id}", kind="reply_thanks", channel="sms", to_address=inbound.from_number,
        locale=adult.language or "en-GB",
        variant=adult.literacy.value if adult.literacy.value in ("standard", "plain") else "standard",
        context=message_context(session, adult=adult, pupils=case.pupils, on=case.date), adult_id=adult.id,
        contact_point_id=point.id if point else None, case_id=case.id, pupil_ids=[p.id for p in case.pupils],
        why="reply received", same_day=True))
    return [row.id]
