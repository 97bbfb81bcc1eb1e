"""DSL messages: texts and keypad answers from restricted contacts, for the DSL's eyes only.

A message from a number held by an adult who may not be contacted never closes, pauses or answers a case and
is never in the office Inbox (see ``gateway.pipeline.replies.flag_for_dsl``); it waits here until the DSL
has read it and marks it as dealt with. Every other role gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway.models import Adult, InboundMessage, Pupil, PupilContact, StaffRole, StaffUser
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
DslOnly = Annotated[StaffUser, Depends(require_role(StaffRole.DSL))]
REASONS = {"restricted": "no contact", "awaiting_dsl_approval": "awaiting your approval"}


@dataclass
class DslMessage:
    """One flagged message, with who holds the number and the children they are linked to."""

    message: InboundMessage
    sender: str
    pupils: list[Pupil]
    reason: str


def dsl_messages(session: Session, *, handled: bool, limit: int = 200) -> list[DslMessage]:
    """Messages from restricted contacts, newest first."""
    rows = list(session.scalars(select(InboundMessage).where(InboundMessage.dsl_only.is_(True),
                                                             InboundMessage.handled.is_(handled))
                                .order_by(InboundMessage.received_at.desc()).limit(limit)))
    adult_ids = {row.adult_id for row in rows if row.adult_id}
    adults = {a.id: a for a in session.scalars(select(Adult).where(Adult.id.in_(adult_ids)))} if adult_ids else {}
    pupils: dict[int, list[Pupil]] = {}
    if adult_ids:
        for adult_id, pupil in session.execute(select(PupilContact.adult_id, Pupil)
                                               .join(Pupil, Pupil.id == PupilContact.pupil_id)
                                               .where(PupilContact.adult_id.in_(adult_ids))
                                               .order_by(Pupil.forename)):
            pupils.setdefault(adult_id, []).append(pupil)
    items = []
    for row in rows:
        adult = adults.get(row.adult_id or 0)
        items.append(DslMessage(row, adult.full_name if adult else row.from_number, pupils.get(row.adult_id or 0, []),
                                REASONS.get(row.dsl_reason or "", row.dsl_reason or "restricted")))
    return items


@router.get("/dsl/messages")
def dsl_messages_page(request: Request, db: DbSession, staff: DslOnly, show: str = "open") -> Response:
    """What restricted contacts sent (or pressed on a call), waiting for the DSL."""
    return render(request, "dsl_messages.html", {"items": dsl_messages(db, handled=show == "done"), "show": show})


@router.post("/dsl/messages/{inbound_id}/done")
def mark_dealt_with(request: Request, inbound_id: int, db: DbSession, staff: DslOnly) -> Response:
    """The DSL has read the message and acted on it."""
    message = get_or_404(db, InboundMessage, inbound_id, "message")
    if not message.dsl_only:
        raise HTTPException(status_code=404, detail="No such message.")
    message.handled = True
    record_audit(db, staff, "dsl_message_dealt_with", "inbound_message", message.id,
                 {"reason": message.dsl_reason, "adult_id": message.adult_id})
    flash(request, "Marked as dealt with.", "good")
    return RedirectResponse("/dsl/messages", status_code=303)
