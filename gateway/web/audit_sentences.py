"""The audit log as sentences: "Mrs Okafor approved contact with Mr Smith for George and Jack, 09:52".

Each entry's ids are turned into names (staff, pupils, adults) with a handful of queries for the whole page;
an action this module does not know still reads as words, never as JSON or database ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Adult, AuditEntry, HalfTerm, MilestoneBatch, PupilContact, StaffUser
from gateway.models.people import Pupil
from gateway.web.labels import channel_name, register_code

RESTRICTIONS = {"none": "no restriction", "no_contact": "no contact", "dsl_approval": "contact only with DSL approval"}
KIND_WORDS = {"fresh_start": "fresh-start", "positive_attendance": "positive attendance",
              "fortnightly_checkin": "fortnightly check-in", "absence_first_day": "first-day absence",
              "absence_followup": "absence follow-up", "reply_thanks": "thank-you"}


@dataclass(frozen=True)
class AuditLine:
    entry: AuditEntry
    who: str
    sentence: str


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class _Names:
    """Names for the ids a page of entries mentions, loaded in one query per table."""

    def __init__(self, session: Session, entries: Iterable[AuditEntry]) -> None:
        entries = list(entries)
        pupil_ids: set[int] = set()
        adult_ids: set[int] = set()
        link_ids: set[int] = set()
        batch_ids: set[int] = set()
        for e in entries:
            detail = e.detail or {}
            pupil_ids.update(int(p) for p in detail.get("pupil_ids", []) if str(p).isdigit())
            for key in ("pupil_id",):
                if isinstance(detail.get(key), int):
                    pupil_ids.add(detail[key])
            if isinstance(detail.get("adult_id"), int):
                adult_ids.add(detail["adult_id"])
            if e.entity_id is not None:
                {"pupil": pupil_ids, "adult": adult_ids, "pupil_contact": link_ids,
                 "milestone_batch": batch_ids}.get(e.entity, set()).add(e.entity_id)
        self.links = {link.id: link for link in session.scalars(
            select(PupilContact).where(PupilContact.id.in_(link_ids)))} if link_ids else {}
        for link in self.links.values():
            pupil_ids.add(link.pupil_id)
            adult_ids.add(link.adult_id)
        self.staff = {u.id: u.display_name for u in session.scalars(select(StaffUser))}
        self.pupils = {p.id: p.display_forename + " " + p.surname for p in session.scalars(
            select(Pupil).where(Pupil.id.in_(pupil_ids)))} if pupil_ids else {}
        self.forenames = {p.id: p.display_forename for p in session.scalars(
            select(Pupil).where(Pupil.id.in_(pupil_ids)))} if pupil_ids else {}
        self.adults = {a.id: (f"{a.title} {a.surname}" if a.title else a.full_name) for a in session.scalars(
            select(Adult).where(Adult.id.in_(adult_ids)))} if adult_ids else {}
        self.batches: dict[int, str] = {}
        if batch_ids:
            for batch, term in session.execute(select(MilestoneBatch, HalfTerm).join(
                    HalfTerm, HalfTerm.id == MilestoneBatch.half_term_id).where(MilestoneBatch.id.in_(batch_ids))):
                self.batches[batch.id] = f"the {KIND_WORDS.get(batch.kind, batch.kind)} messages for {term.name}"

    def pupil(self, pupil_id: Any) -> str:
        return self.pupils.get(pupil_id, "a pupil no longer on roll") if isinstance(pupil_id, int) else "a pupil"

    def adult(self, adult_id: Any) -> str:
        return self.adults.get(adult_id, "a contact no longer on file") if isinstance(adult_id, int) else "a contact"


def _day(value: Any) -> str:
    """"2026-11-23" -> "Monday 23 November"."""
    try:
        return date.fromisoformat(str(value)).strftime("%A %-d %B")
    except ValueError:
        return "the day"


def _sentence(e: AuditEntry, n: _Names) -> str:
    d: dict[str, Any] = e.detail or {}
    a = e.action
    if a == "approve_contact":
        children = _join([n.forenames.get(p, "a pupil") for p in d.get("pupil_ids", [])])
        return f"approved contact with {n.adult(e.entity_id)} for {children}"
    if a == "change_restriction":
        link = n.links.get(e.entity_id or -1)
        adult = n.adult(d.get("adult_id", link.adult_id if link else None))
        pupil = n.pupil(d.get("pupil_id", link.pupil_id if link else None))
        text = (f"changed contact with {adult} about {pupil} from {RESTRICTIONS.get(d.get('from', ''), 'before')} "
                f"to {RESTRICTIONS.get(d.get('to', ''), d.get('to', 'another setting'))}")
        return text + (" and approved contact" if d.get("approved") and d.get("to") == "dsl_approval" else "")
    if a == "start_followup":
        return (f"started the day’s follow-up for {_day(d.get('date'))}: {d.get('cases_opened', 0)} families, "
                f"{d.get('messages_queued', 0)} messages")
    if a == "auto_start_followup":
        return f"started the day’s follow-up on its own at {d.get('auto_start', 'the set time')}: nobody had"
    if a == "exclude_from_followup":
        day, reason = _day(d.get("date")), d.get("reason", "")
        return f"took {n.pupil(e.entity_id)} out of the follow-up for {day}: “{reason}”"
    if a == "mark_present":
        return f"marked {n.pupil(e.entity_id)} present (late) on {_day(d.get('date'))}"
    if a == "close_case":
        reason = {"phoned_office": "the parent phoned the office", "arrived_late": "the pupil arrived",
                  "present": "the pupil is in school", "staff": "another reason"}.get(d.get("reason", ""), "")
        note = f" (“{d['note']}”)" if d.get("note") else ""
        return f"stopped messages for a family{': ' + reason if reason else ''}{note}"
    if a == "acknowledge_dsl_alert":
        return "took on a family nobody could reach"
    if a == "confirm_reason":
        code = d.get("code")
        return f"confirmed the reason for an absence{f': {register_code(code)}' if isinstance(code, str) else ''}"
    if a == "send_message":
        return (f"sent a {KIND_WORDS.get(d.get('kind', ''), 'staff')} message by "
                f"{channel_name(d.get('channel', ''))} to {n.adult(e.entity_id)}")
    if a == "update_preferences":
        return f"changed the preferences of {n.adult(e.entity_id)}"
    if a in ("add_contact_point", "remove_contact_point", "refuse_contact_point"):
        verb = {"add_contact_point": "added", "remove_contact_point": "removed",
                "refuse_contact_point": "was refused when adding"}[a]
        return f"{verb} a phone number or e-mail address for {n.adult(d.get('adult_id', e.entity_id))}"
    if a in ("prepare_batch", "approve_batch", "hold_batch", "withdraw_batch", "resume_batch"):
        batch = n.batches.get(e.entity_id or -1, "a batch of routine messages")
        verb = {"prepare_batch": "planned", "approve_batch": "approved", "hold_batch": "held",
                "withdraw_batch": "withdrew", "resume_batch": "released again"}[a]
        extra = f" ({d['released']} messages)" if isinstance(d.get("released"), int) else ""
        return f"{verb} {batch}{extra}"
    if a == "sign_in":
        return "signed in"
    if a == "account_locked":
        return "was locked out after too many wrong passwords"
    words = a.replace("_", " ")
    target = {"pupil": n.pupil(e.entity_id), "adult": n.adult(e.entity_id)}.get(e.entity, "")
    return f"{words}{' for ' + target if target else ''}"


def audit_lines(session: Session, entries: list[AuditEntry]) -> list[AuditLine]:
    """One readable line per entry."""
    names = _Names(session, entries)
    lines = []
    for e in entries:
        who = names.staff.get(e.staff_id, "Someone") if e.staff_id is not None else "The gateway"
        lines.append(AuditLine(e, who, _sentence(e, names)))
    return lines
