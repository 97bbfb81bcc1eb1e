"""Inbox: parents' replies with the code the gateway suggests; staff confirm or change the reason.

The gateway never records an attendance code on its own: a suggestion stays a suggestion until a member of
staff confirms it here. Replies from numbers not on file are listed apart ("unmatched senders").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway import clock
from gateway.models import AbsenceCase, Adult, AttendanceMark, CaseTask, ConfirmedCode, InboundMessage, Pupil, StaffRole
from gateway.models.attendance import ALL_CODES, UNEXPLAINED
from gateway.operations.reasons import pupil_suggestions
from gateway.pipeline.casework import reason_recorded
from gateway.pipeline.lexicon import GlossWord, gloss
from gateway.pipeline.staff_answer import (
    MAX_LENGTH,
    CannotAnswer,
    answer_channel,
    send_answer,
    translate_for,
    translation_offered,
)
from gateway.safeguarding import ContactRestricted
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, get_or_404
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)

# The reasons offered first (a parent's reply usually means one of these); any national code is accepted.
COMMON_CODES = {
    "I": "I – illness",
    "M": "M – medical or dental appointment",
    "R": "R – religious observance",
    "C": "C – other authorised circumstances",
    "G": "G – holiday not agreed",
    "O": "O – other unauthorised",
    "N": "N – no reason yet",
}
CODE_NAMES = {code: label.split(" – ", 1)[1] for code, label in COMMON_CODES.items()}


SESSIONS = ("AM", "PM")


@dataclass
class PupilCodes:
    """One pupil's line in a reply's form: the code pre-filled per session ("" = nothing to record)."""

    pupil: Pupil
    codes: dict[str, str]  # AM / PM -> code pre-filled (the suggestion, or what staff already confirmed)
    suggested: str | None  # the code the reply suggests for this pupil


@dataclass
class InboxItem:
    reply: InboundMessage
    sender: str
    pupils: list[Pupil]
    # A reply in another language: its lexicon words in English ("chora = ill"); reply.translation, when a
    # translation service is configured and answered, is shown as well.
    gloss: tuple[GlossWord, ...] = ()
    per_pupil: list[PupilCodes] = field(default_factory=list)  # one code per pupil and per session
    tasks: list[CaseTask] = field(default_factory=list)  # call-back / welfare tasks this reply raised
    answer_to: str | None = None  # where a free-text answer would go ("sms" / "email"), None: cannot answer


def pupil_codes(db_session: Session, reply: InboundMessage, pupils: list[Pupil], on: date | None) -> list[PupilCodes]:
    """Per pupil, the code pre-filled for each session: what staff confirmed, else the pupil's suggestion for the
    sessions marked N (both when none is), else nothing."""
    if not pupils:
        return []
    suggested = pupil_suggestions(db_session, reply, pupils)
    confirmed = {(c.pupil_id, c.session): c.code for c in db_session.scalars(
        select(ConfirmedCode).where(ConfirmedCode.inbound_id == reply.id))}
    marks: dict[int, set[str]] = {}
    if on is not None:
        for pupil_id, register_session in db_session.execute(select(AttendanceMark.pupil_id, AttendanceMark.session)
                                                             .where(AttendanceMark.pupil_id.in_([p.id for p in pupils]),
                                                                    AttendanceMark.date == on,
                                                                    AttendanceMark.code == UNEXPLAINED)):
            marks.setdefault(pupil_id, set()).add(register_session)
    lines: list[PupilCodes] = []
    for pupil in pupils:
        absent = marks.get(pupil.id) or set(SESSIONS)
        code = suggested.get(pupil.id) or ""
        lines.append(PupilCodes(pupil, {s: confirmed.get((pupil.id, s), code if s in absent else "")
                                        for s in SESSIONS}, suggested.get(pupil.id)))
    return lines


def inbox_items(db_session: Session, *, handled: bool, limit: int = 200) -> tuple[list[InboxItem], list[InboxItem]]:
    """(replies from known adults, replies from unmatched senders), newest first."""
    replies = list(db_session.scalars(select(InboundMessage).where(InboundMessage.handled.is_(handled),
                                                                   InboundMessage.keyword.is_(None),
                                                                   InboundMessage.dsl_only.is_(False))
                                      .order_by(InboundMessage.received_at.desc()).limit(limit)))
    adult_ids = {r.adult_id for r in replies if r.adult_id}
    adults = {a.id: a for a in db_session.scalars(select(Adult).where(Adult.id.in_(adult_ids)))} if adult_ids else {}
    case_ids = {r.case_id for r in replies if r.case_id}
    cases = {c.id: c for c in db_session.scalars(select(AbsenceCase).where(AbsenceCase.id.in_(case_ids)))} \
        if case_ids else {}
    tasks: dict[int, list[CaseTask]] = {}
    reply_ids = [r.id for r in replies]
    for task in db_session.scalars(select(CaseTask).where(CaseTask.inbound_id.in_(reply_ids))) if reply_ids else ():
        if task.inbound_id is not None:
            tasks.setdefault(task.inbound_id, []).append(task)
    known: list[InboxItem] = []
    unmatched: list[InboxItem] = []
    for reply in replies:
        adult = adults.get(reply.adult_id or 0)
        case = cases.get(reply.case_id or 0)
        pupils = list(case.pupils) if case else []
        item = InboxItem(reply=reply, sender=adult.full_name if adult else reply.from_number, pupils=pupils,
                         gloss=gloss(reply.body, adult.language if adult else None) if reply.source != "voice" else (),
                         per_pupil=pupil_codes(db_session, reply, pupils, case.date if case else None),
                         tasks=tasks.get(reply.id, []), answer_to=answer_channel(reply) if adult else None)
        (known if adult else unmatched).append(item)
    return known, unmatched


@router.get("/inbox")
def inbox_page(request: Request, db: DbSession, staff: CurrentStaff, show: str = "open") -> Response:
    """Replies waiting for a decision (or, with ``show=done``, those already confirmed)."""
    known, unmatched = inbox_items(db, handled=show == "done")
    # Messages from restricted contacts are never listed here; the DSL is told how many wait on their page.
    dsl_waiting = db.scalar(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.dsl_only.is_(True), InboundMessage.handled.is_(False))) if staff.role is StaffRole.DSL else 0
    return render(request, "inbox.html", {"known": known, "unmatched": unmatched, "show": show,
                                          "codes": COMMON_CODES, "code_names": CODE_NAMES,
                                          "dsl_waiting": dsl_waiting or 0, "sessions": SESSIONS,
                                          "answer_max": MAX_LENGTH, "translation_offered": translation_offered()})


def _office_reply(db: Session, inbound_id: int) -> InboundMessage:
    """A reply the office may act on: a restricted contact's message is the DSL's alone (404 here)."""
    reply = get_or_404(db, InboundMessage, inbound_id, "reply")
    if reply.dsl_only:
        raise HTTPException(status_code=404, detail="No such reply.")
    return reply


@router.post("/inbox/{inbound_id}/confirm")
def confirm_reason(request: Request, inbound_id: int, db: DbSession, staff: CurrentStaff,
                   code: Annotated[str, Form(max_length=2)] = "",
                   codes: Annotated[list[str] | None, Form(max_length=40)] = None) -> Response:
    """Record the reason staff agreed for this reply: one code per pupil and per session (``codes``, each
    "pupil_id:AM:I"; an empty code records nothing for that session), or one ``code`` for every pupil's
    absent sessions. A call-back the reply asked for is done once its reason is recorded."""
    reply = _office_reply(db, inbound_id)
    case = db.get(AbsenceCase, reply.case_id) if reply.case_id else None
    pupils = list(case.pupils) if case else []
    chosen = _chosen_codes(codes, pupils) if codes else _one_code(db, code, pupils, case.date if case else None)
    if codes and not chosen:
        raise HTTPException(status_code=422, detail="Choose a code for at least one pupil and session, or mark "
                                                    "the reply dealt with.")
    now = clock.now()
    for row in db.scalars(select(ConfirmedCode).where(ConfirmedCode.inbound_id == reply.id)):
        db.delete(row)
    db.flush()
    for (pupil_id, register_session), value in chosen.items():
        db.add(ConfirmedCode(inbound_id=reply.id, pupil_id=pupil_id, session=register_session, code=value,
                             confirmed_by=staff.id, confirmed_at=now))
    tally = Counter(chosen.values())
    summary = tally.most_common(1)[0][0] if tally else code.strip().upper()
    reply.confirmed_code, reply.confirmed_by, reply.confirmed_at = summary, staff.id, now
    reply.handled = True
    reason_recorded(db, reply.case_id, staff.id)
    record_audit(db, staff, "confirm_reason", "inbound_message", reply.id,
                 {"code": summary, "suggested": reply.suggested_code, "case_id": reply.case_id,
                  "codes": {f"{pupil_id}:{register_session}": value
                            for (pupil_id, register_session), value in chosen.items()}})
    names = ", ".join(sorted({CODE_NAMES.get(value, value) for value in tally})) or CODE_NAMES.get(summary, summary)
    flash(request, f"Reason recorded: {names}. Enter it in the register too.", "good")
    return RedirectResponse("/inbox", status_code=303)


def _valid_code(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ALL_CODES:
        raise HTTPException(status_code=422, detail=f"{value!r} is not a national attendance code.")
    return value


def _chosen_codes(codes: list[str], pupils: list[Pupil]) -> dict[tuple[int, str], str]:
    """The form's "pupil_id:session:code" values, checked against the reply's own pupils."""
    ids = {p.id for p in pupils}
    chosen: dict[tuple[int, str], str] = {}
    for value in codes:
        parts = value.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) not in ids or parts[1] not in SESSIONS:
            raise HTTPException(status_code=422, detail="That code is not for a pupil and session of this reply.")
        if parts[2].strip():
            chosen[(int(parts[0]), parts[1])] = _valid_code(parts[2])
    return chosen


def _one_code(db: Session, code: str, pupils: list[Pupil], on: date | None) -> dict[tuple[int, str], str]:
    """One code for every pupil's unexplained sessions that day (the morning when none is marked)."""
    value = _valid_code(code)
    return {(pupil.id, register_session): value for pupil in pupils
            for register_session in _marked_sessions(db, pupil.id, on) or ["AM"]}


def _marked_sessions(db: Session, pupil_id: int, on: date | None) -> list[str]:
    if on is None:
        return []
    return sorted(set(db.scalars(select(AttendanceMark.session).where(
        AttendanceMark.pupil_id == pupil_id, AttendanceMark.date == on, AttendanceMark.code == UNEXPLAINED))))


@router.post("/inbox/{inbound_id}/dismiss")
def dismiss_reply(request: Request, inbound_id: int, db: DbSession, staff: CurrentStaff) -> Response:
    """Mark a reply as dealt with without a code (e.g. an unmatched sender the office has phoned)."""
    reply = _office_reply(db, inbound_id)
    reply.handled = True
    record_audit(db, staff, "dismiss_reply", "inbound_message", reply.id, {"case_id": reply.case_id})
    flash(request, "Marked as dealt with.", "good")
    return RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{inbound_id}/answer")
def answer_reply(request: Request, inbound_id: int, db: DbSession, staff: CurrentStaff,
                 text: Annotated[str, Form(max_length=MAX_LENGTH)],
                 translation: Annotated[str, Form(max_length=2 * MAX_LENGTH)] = "",
                 action: Annotated[str, Form(max_length=16)] = "send") -> Response:
    """Staff answer the adult who wrote, in their own words (SMS, or e-mail for an e-mail), through the outbox
    and the safeguarding checks. ``action=translate`` (only with a translation provider) shows the machine
    translation into the adult's language to check and send alongside the English."""
    reply = _office_reply(db, inbound_id)
    adult = db.get(Adult, reply.adult_id) if reply.adult_id else None
    if action == "translate" and adult is not None and translation_offered():
        from gateway.pipeline.casework import language_name

        return render(request, "inbox_answer.html", {
            "reply": reply, "adult": adult, "text": text, "translation": translate_for(adult, text) or "",
            "language": language_name(adult.language), "answer_max": MAX_LENGTH})
    try:
        outbox_id = send_answer(db, reply, text, staff.id, translation or None)
    except ContactRestricted:
        flash(request, "Not sent: this contact may not be contacted (safeguarding). Speak to the DSL.", "alert")
        return RedirectResponse("/inbox", status_code=303)
    except CannotAnswer as exc:
        flash(request, f"Not sent: {exc}", "alert")
        return RedirectResponse("/inbox", status_code=303)
    record_audit(db, staff, "answer_reply", "inbound_message", reply.id,
                 {"outbox_id": outbox_id, "channel": answer_channel(reply), "translated": bool(translation)})
    flash(request, f"Your message to {adult.full_name if adult else 'them'} is on its way.", "good")
    return RedirectResponse("/inbox", status_code=303)
