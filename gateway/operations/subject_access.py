"""Subject-access export: everything the gateway holds about one adult, as one JSON document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from gateway.errors import InputError, NotFoundError, Problem
from gateway.models import Adult, AuditEntry, CaseTask, ContactPoint, DroppedContactPoint, PupilContact
from gateway.models.messaging import InboundMessage, OutboxMessage
from gateway.phones import normalise_phone


def find_adult(session: Session, *, adult_id: int | None = None, ref: str | None = None,
               phone: str | None = None, email: str | None = None) -> Adult:
    """The one adult named by exactly one of id, contact reference, phone or e-mail."""
    given = [v for v in (adult_id, ref, phone, email) if v is not None]
    if len(given) != 1:
        problem = Problem("export adult", "arguments", None, "give exactly one of --id, --ref, --phone, --email")
        raise InputError([problem])
    query = select(Adult).options(
        selectinload(Adult.contact_points), selectinload(Adult.links).selectinload(PupilContact.pupil)
    )
    if adult_id is not None:
        query = query.where(Adult.id == adult_id)
    elif ref is not None:
        query = query.where(Adult.external_ref == ref)
    else:
        value = email.strip().lower() if email is not None else _e164(phone or "")
        query = query.join(ContactPoint).where(ContactPoint.value == value)
    adults = list(session.scalars(query).unique())
    if not adults:
        raise NotFoundError("no adult matches")
    if len(adults) > 1:
        raise InputError([Problem("export adult", "arguments", None,
                                  f"{len(adults)} adults share that address; use --id (ids {[a.id for a in adults]})")])
    return adults[0]


def _e164(phone: str) -> str:
    try:
        return normalise_phone(phone).e164
    except ValueError as exc:
        raise InputError([Problem("export adult", "--phone", None, str(exc))]) from exc


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_adult(session: Session, adult: Adult) -> dict[str, Any]:
    """Every record about ``adult``: identity, preferences, contact points, children, messages, replies."""
    address_values = [cp.value for cp in adult.contact_points]
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.adult_id == adult.id).order_by(OutboxMessage.created_at)
    )
    replies = session.scalars(
        select(InboundMessage)
        .where(or_(InboundMessage.adult_id == adult.id, InboundMessage.from_number.in_(address_values)))
        .order_by(InboundMessage.received_at)
    )
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "adult", AuditEntry.entity_id == adult.id).order_by(AuditEntry.at)
    )
    return {
        "adult": {
            "id": adult.id, "reference": adult.external_ref, "title": adult.title, "forename": adult.forename,
            "surname": adult.surname, "address": adult.address, "language": adult.language,
            "literacy": str(adult.literacy), "channel_order": adult.channels,
            "contact_window": [_iso(adult.window_start), _iso(adult.window_end)],
        },
        "contact_points": [
            {"kind": str(cp.kind), "value": cp.value, "sms_capable": cp.sms_capable,
             "opted_out_at": _iso(cp.opted_out_at), "last_permanent_failure_at": _iso(cp.last_permanent_failure_at)}
            for cp in adult.contact_points
        ],
        # Numbers and addresses a school's file gave for this adult that the import could not use.
        "dropped_at_import": [
            {"field": d.field, "value": d.value, "reason": d.reason, "file": d.source, "where": d.location,
             "recorded_at": _iso(d.recorded_at)}
            for d in session.scalars(select(DroppedContactPoint).where(DroppedContactPoint.adult_id == adult.id)
                                     .order_by(DroppedContactPoint.id))
        ],
        "children": [
            {"upn": link.pupil.upn, "forename": link.pupil.forename, "surname": link.pupil.surname,
             "relationship": link.relationship_code, "priority": link.priority,
             "parental_responsibility": link.parental_responsibility, "lives_with_pupil": link.lives_with_pupil,
             "restriction": str(link.restriction)}
            for link in adult.links
        ],
        "messages_sent": [
            {"kind": m.kind, "channel": m.channel, "to": m.to_address, "locale": m.locale, "state": str(m.state),
             "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at), "delivered_at": _iso(m.delivered_at),
             "subject": m.subject, "text": m.text}
            for m in messages
        ],
        "replies_received": [
            {"received_at": _iso(r.received_at), "from": r.from_number, "source": r.source, "body": r.body,
             "translation": r.translation, "note": r.note,
             "suggested_code": r.suggested_code, "confirmed_code": r.confirmed_code}
            for r in replies
        ],
        "staff_actions": [
            {"at": _iso(a.at), "action": a.action, "staff_id": a.staff_id, "detail": a.detail} for a in audit
        ],
        "staff_tasks": [  # call-backs, interpreter calls, welfare concerns raised about this adult's replies
            {"created_at": _iso(t.created_at), "kind": t.kind.value, "title": t.title, "done_at": _iso(t.done_at)}
            for t in session.scalars(select(CaseTask).where(CaseTask.adult_id == adult.id).order_by(CaseTask.id))
        ],
    }
