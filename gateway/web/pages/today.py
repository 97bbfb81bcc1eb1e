"""Today: the day's unexplained absences, one row per family, with how far the follow-up has got.

The progress block is polled by htmx (``/today/progress``) so replies appear without reloading the page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import Response

from gateway import clock
from gateway.models import (
    AbsenceCase,
    Adult,
    CaseState,
    DslAlert,
    InboundMessage,
    OutboxMessage,
    OutboxState,
    Pupil,
    StaffRole,
    StaffUser,
)
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, app_settings, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)

SENT_STATES = frozenset({OutboxState.ACCEPTED, OutboxState.DELIVERED, OutboxState.SENDING})
FAILED_STATES = frozenset({OutboxState.FAILED, OutboxState.UNDELIVERED})
STATE_LABELS = {
    "not_started": ("Not started", "neutral"),
    "starting": ("Starting", "neutral"),
    "contacted": ("Contacted", "info"),
    "replied": ("Replied", "good"),
    "escalated": ("Escalated", "warn"),
    "dsl": ("Needs the DSL", "alert"),
    "closed": ("Closed", "neutral"),
}


@dataclass
class FamilyRow:
    """One family's line on the Today page."""

    pupils: list[Pupil]
    status: str
    case: AbsenceCase | None = None
    contacted: list[str] = field(default_factory=list)  # adults' names
    messages: Counter[str] = field(default_factory=Counter)  # sent / delivered / failed / waiting
    reply: InboundMessage | None = None
    reply_from: str | None = None
    alert: DslAlert | None = None

    @property
    def label(self) -> tuple[str, str]:
        return STATE_LABELS[self.status]


def school_date(request: Request, requested: str | None = None) -> date:
    """The date asked for, else today in the school's time zone (gateway clock)."""
    if requested:
        try:
            return date.fromisoformat(requested)
        except ValueError as exc:
            raise HTTPException(status_code=404, detail="That is not a date (use YYYY-MM-DD).") from exc
    return clock.now().astimezone(app_settings(request).tz).date()


def _status(case: AbsenceCase, has_reply: bool, has_messages: bool) -> str:
    if case.state is CaseState.DSL_ALERTED and not has_reply:
        return "dsl"
    if case.state is CaseState.REPLIED or has_reply:
        return "replied"
    if case.state is CaseState.ESCALATED:
        return "escalated"
    if case.state is CaseState.CLOSED:
        return "closed"
    return "contacted" if has_messages else "starting"


def family_rows(session: Session, on: date) -> list[FamilyRow]:
    """Every family with an unexplained absence on ``on``: cases first, then those not yet started."""
    from gateway.pipeline.cases import group_families, pupils_in_cases, unexplained_pupils

    cases = list(session.scalars(select(AbsenceCase).where(AbsenceCase.date == on)
                                 .options(selectinload(AbsenceCase.pupils)).order_by(AbsenceCase.id)))
    case_ids = [c.id for c in cases]
    outbox: dict[int, list[OutboxMessage]] = defaultdict(list)
    replies: dict[int, InboundMessage] = {}
    if case_ids:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.case_id.in_(case_ids))):
            if row.case_id is not None:
                outbox[row.case_id].append(row)
        for inbound in session.scalars(select(InboundMessage).where(InboundMessage.case_id.in_(case_ids),
                                                                    InboundMessage.keyword.is_(None))
                                       .order_by(InboundMessage.received_at)):
            if inbound.case_id is not None:
                replies[inbound.case_id] = inbound  # the latest wins
    alerts = {a.case_id: a for a in session.scalars(select(DslAlert).where(DslAlert.case_id.in_(case_ids)))} \
        if case_ids else {}
    adult_ids = {r.adult_id for rows in outbox.values() for r in rows if r.adult_id} | {
        r.adult_id for r in replies.values() if r.adult_id}
    names = {a.id: a.full_name for a in session.scalars(select(Adult).where(Adult.id.in_(adult_ids)))} \
        if adult_ids else {}
    rows: list[FamilyRow] = []
    for case in cases:
        parent_rows = [r for r in outbox[case.id] if r.kind != "reply_thanks"]
        tally: Counter[str] = Counter()
        for message in parent_rows:
            if message.state is OutboxState.DELIVERED:
                tally["delivered"] += 1
            elif message.state in SENT_STATES:
                tally["sent"] += 1
            elif message.state in FAILED_STATES:
                tally["failed"] += 1
            elif message.state in (OutboxState.QUEUED, OutboxState.PLANNED):
                tally["waiting"] += 1
        reply = replies.get(case.id)
        contacted = sorted({names[r.adult_id] for r in parent_rows if r.adult_id in names})
        rows.append(FamilyRow(pupils=list(case.pupils), status=_status(case, reply is not None, bool(parent_rows)),
                              case=case, contacted=contacted, messages=tally, reply=reply,
                              reply_from=names.get(reply.adult_id) if reply and reply.adult_id else None,
                              alert=alerts.get(case.id)))
    waiting = [p for p in unexplained_pupils(session, on) if p not in pupils_in_cases(session, on)]
    if waiting:
        pupils = {p.id: p for p in session.scalars(select(Pupil).where(Pupil.id.in_(waiting)))}
        for family in group_families(session, waiting):
            rows.append(FamilyRow(pupils=[pupils[p] for p in family], status="not_started"))
    order = {"dsl": 0, "escalated": 1, "not_started": 2, "starting": 3, "contacted": 4, "replied": 5, "closed": 6}
    rows.sort(key=lambda r: (order[r.status], r.pupils[0].surname if r.pupils else ""))
    return rows


def _summary(rows: list[FamilyRow]) -> dict[str, int]:
    counts = Counter(r.status for r in rows)
    return {"families": len(rows), **{k: counts.get(k, 0) for k in STATE_LABELS}}


def _context(session: Session, on: date, today: date) -> dict[str, object]:
    rows = family_rows(session, on)
    return {"rows": rows, "summary": _summary(rows), "on": on, "is_today": on == today,
            "can_start": any(r.status == "not_started" for r in rows)}


@router.get("/")
def today_page(request: Request, db: DbSession, day: Annotated[str | None, Query(alias="date")] = None) -> Response:
    """The Today page (``?date=YYYY-MM-DD`` for another day)."""
    on = school_date(request, day)
    return render(request, "today.html", _context(db, on, school_date(request)))


@router.get("/today/progress")
def today_progress(request: Request, db: DbSession,
                   day: Annotated[str | None, Query(alias="date")] = None) -> Response:
    """The live part of the Today page (htmx polls it)."""
    on = school_date(request, day)
    return render(request, "_today_progress.html", _context(db, on, school_date(request)))


@router.post("/today/start")
def start_today(request: Request, db: DbSession, staff: CurrentStaff,
                day: Annotated[str | None, Form(alias="date")] = None) -> Response:
    """Start same-day follow-up: one case per family, the first messages queued."""
    from gateway.pipeline.absence import start_followup

    on = school_date(request, day)
    summary = start_followup(db, on, staff.id)
    record_audit(db, staff, "start_followup", "absence_day", None,
                 {"date": on.isoformat(), "cases_opened": summary.cases_opened,
                  "messages_queued": summary.messages_queued})
    flash(request, f"Follow-up started: {summary.cases_opened} families, "
                   f"{summary.messages_queued} messages on their way.", "good")
    return RedirectResponse(f"/?date={on.isoformat()}", status_code=303)


@router.post("/cases/{case_id}/acknowledge")
def acknowledge_dsl_alert(request: Request, case_id: int, db: DbSession,
                          staff: StaffUser = Depends(require_role(StaffRole.DSL))) -> Response:  # noqa: B008
    """The DSL takes the case on (e.g. arranges a home visit); the alert stops asking for attention."""
    alert = db.scalar(select(DslAlert).where(DslAlert.case_id == case_id))
    if alert is None:
        raise HTTPException(status_code=404, detail="No DSL alert for this case.")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = clock.now(), staff.id
        record_audit(db, staff, "acknowledge_dsl_alert", "absence_case", case_id, {})
    flash(request, "Noted: you are dealing with this family.", "good")
    case = db.get(AbsenceCase, case_id)
    return RedirectResponse(f"/?date={case.date.isoformat()}" if case else "/", status_code=303)


@router.post("/cases/{case_id}/close")
def close_case_by_staff(request: Request, case_id: int, db: DbSession, staff: CurrentStaff,
                        reason: Annotated[str, Form(max_length=64)] = "staff") -> Response:
    """Close a case by hand (e.g. the parent phoned the office); stops the ladder."""
    from gateway.pipeline.cases import close_case

    case = get_or_404(db, AbsenceCase, case_id, "case")
    reason_code = reason if reason in ("phoned_office", "present", "staff") else "staff"
    if close_case(db, case_id, reason_code, staff.id):
        record_audit(db, staff, "close_case", "absence_case", case_id, {"reason": reason_code})
        flash(request, "Case closed; no more messages will be sent for it.", "good")
    return RedirectResponse(f"/?date={case.date.isoformat()}", status_code=303)
