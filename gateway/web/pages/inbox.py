"""Inbox: parents' replies with the code the gateway suggests; staff confirm or change the reason.

The gateway never records an attendance code on its own: a suggestion stays a suggestion until a member of
staff confirms it here. Replies from numbers not on file are listed apart ("unmatched senders").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway import clock
from gateway.models import AbsenceCase, Adult, InboundMessage, Pupil
from gateway.models.attendance import ALL_CODES
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


@dataclass
class InboxItem:
    reply: InboundMessage
    sender: str
    pupils: list[Pupil]


def inbox_items(db_session: Session, *, handled: bool, limit: int = 200) -> tuple[list[InboxItem], list[InboxItem]]:
    """(replies from known adults, replies from unmatched senders), newest first."""
    replies = list(db_session.scalars(select(InboundMessage).where(InboundMessage.handled.is_(handled),
                                                                   InboundMessage.keyword.is_(None))
                                      .order_by(InboundMessage.received_at.desc()).limit(limit)))
    adult_ids = {r.adult_id for r in replies if r.adult_id}
    adults = {a.id: a for a in db_session.scalars(select(Adult).where(Adult.id.in_(adult_ids)))} if adult_ids else {}
    case_ids = {r.case_id for r in replies if r.case_id}
    cases = {c.id: c for c in db_session.scalars(select(AbsenceCase).where(AbsenceCase.id.in_(case_ids)))} \
        if case_ids else {}
    known: list[InboxItem] = []
    unmatched: list[InboxItem] = []
    for reply in replies:
        adult = adults.get(reply.adult_id or 0)
        case = cases.get(reply.case_id or 0)
        item = InboxItem(reply=reply, sender=adult.full_name if adult else reply.from_number,
                         pupils=list(case.pupils) if case else [])
        (known if adult else unmatched).append(item)
    return known, unmatched


@router.get("/inbox")
def inbox_page(request: Request, db: DbSession, show: str = "open") -> Response:
    """Replies waiting for a decision (or, with ``show=done``, those already confirmed)."""
    known, unmatched = inbox_items(db, handled=show == "done")
    return render(request, "inbox.html", {"known": known, "unmatched": unmatched, "show": show,
                                          "codes": COMMON_CODES, "code_names": CODE_NAMES})


@router.post("/inbox/{inbound_id}/confirm")
def confirm_reason(request: Request, inbound_id: int, db: DbSession, staff: CurrentStaff,
                   code: Annotated[str, Form(max_length=2)]) -> Response:
    """Record the reason staff agreed for this reply (the suggestion or a different code)."""
    reply = get_or_404(db, InboundMessage, inbound_id, "reply")
    code = code.strip().upper()
    if code not in ALL_CODES:
        raise HTTPException(status_code=422, detail=f"{code!r} is not a national attendance code.")
    reply.confirmed_code, reply.confirmed_by, reply.confirmed_at = code, staff.id, clock.now()
    reply.handled = True
    record_audit(db, staff, "confirm_reason", "inbound_message", reply.id,
                 {"code": code, "suggested": reply.suggested_code, "case_id": reply.case_id})
    flash(request, f"Reason recorded: {CODE_NAMES.get(code, code)}. Enter it in the register too.", "good")
    return RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{inbound_id}/dismiss")
def dismiss_reply(request: Request, inbound_id: int, db: DbSession, staff: CurrentStaff) -> Response:
    """Mark a reply as dealt with without a code (e.g. an unmatched sender the office has phoned)."""
    reply = get_or_404(db, InboundMessage, inbound_id, "reply")
    reply.handled = True
    record_audit(db, staff, "dismiss_reply", "inbound_message", reply.id, {"case_id": reply.case_id})
    flash(request, "Marked as dealt with.", "good")
    return RedirectResponse("/inbox", status_code=303)
