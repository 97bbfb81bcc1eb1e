"""Today: the day's unexplained absences, one row per family, with how far the follow-up has got.

Follow-up starts when the office presses Start (or the gateway at the ladder's ``auto_start``); until then
the page lists who would be contacted, and a pupil can be taken out (with a reason) or marked present.
``/static/today.js`` polls ``/today/progress`` and swaps only the rows whose content changed (each row carries a
digest of itself), so keyboard focus, open forms and the order of rows stay as they are. Filters: needs me,
open, replied, done.
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
from gateway.config import get_settings
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
from gateway.pipeline.casework import open_tasks
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, app_settings, get_or_404, require_role
from gateway.web.pages.today_story import last_action, next_action, planned_contacts, short_name
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
    "unreachable": ("Nobody can be reached", "alert"),
    "dsl": ("Needs the DSL", "alert"),
    "call_back": ("Asked to be called back", "warn"),  # not an answer: a staff task (pipeline.casework)
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
    unreachable: list[str] = field(default_factory=list)  # what is missing, per adult (nobody can be reached)
    last_action: str | None = None  # "Texted Mrs Nowak 09:31"
    next_action: str | None = None  # "next: everyone with parental responsibility at 10:10"
    would_contact: list[str] = field(default_factory=list)  # before the start: who step 1 would contact, how

    @property
    def label(self) -> tuple[str, str]:
        return STATE_LABELS[self.status]

    @property
    def key(self) -> str:
        """A stable id for the row (the refresh script matches rows by it)."""
        if self.case is not None:
            return f"case-{self.case.id}"
        return "pupils-" + "-".join(str(p.id) for p in self.pupils)

    @property
    def groups(self) -> frozenset[str]:
        """The filters this row appears under (besides "all")."""
        found: set[str] = set()
        reply_open = self.reply is not None and self.reply.confirmed_code is None
        alert_open = self.alert is not None and self.alert.acknowledged_at is None
        if self.status in ("not_started", "unreachable", "call_back") or reply_open or alert_open:
            found.add("needs_me")
        if self.reply is not None:
            found.add("replied")
        if self.case is not None and (self.case.state is CaseState.CLOSED or (
                self.reply is not None and self.reply.confirmed_code is not None)):
            found.add("done")
        elif self.status not in ("replied", "closed"):
            found.add("open")
        return frozenset(found)


def school_date(request: Request, requested: str | None = None) -> date:
    """The date asked for, else today in the school's time zone (gateway clock)."""
    if requested:
        try:
            return date.fromisoformat(requested)
        except ValueError as exc:
            raise HTTPException(status_code=404, detail="That is not a date (use YYYY-MM-DD).") from exc
    return clock.now().astimezone(app_settings(request).tz).date()


def _status(case: AbsenceCase, has_reply: bool, has_messages: bool) -> str:
    if case.state is CaseState.CALL_BACK:  # the parent asked to be called: never a green "Replied"
        return "call_back"
    if case.unreachable_at is not None and not has_reply and case.state in (
            CaseState.OPEN, CaseState.ESCALATED, CaseState.DSL_ALERTED):
        return "unreachable"
    if case.state is CaseState.DSL_ALERTED and not has_reply:
        return "dsl"
    if case.state is CaseState.REPLIED or has_reply:
        return "replied"
    if case.state is CaseState.CLOSED:
        return "closed"
    if case.state is CaseState.ESCALATED or case.current_step >= 2:  # past the first message: escalated
        return "escalated"
    return "contacted" if has_messages else "starting"


def family_rows(session: Session, on: date, *, with_plans: bool = True) -> list[FamilyRow]:
    """Every family with an unexplained absence on ``on``: those not yet started (with whom the first step
    would contact, unless ``with_plans`` is false), then the cases; pupils taken out by staff are left out."""
    from gateway.pipeline import ports
    from gateway.pipeline.cases import excluded_pupils, group_families, pupils_in_cases, unexplained_pupils

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
    adults = {a.id: a for a in session.scalars(select(Adult).where(Adult.id.in_(adult_ids)))} if adult_ids else {}
    names = {adult_id: adult.full_name for adult_id, adult in adults.items()}
    short = {adult_id: short_name(adult) for adult_id, adult in adults.items()}
    ladder, tz = ports.current().ladder(), get_settings().tz
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
        status = _status(case, reply is not None, bool(parent_rows))
        rows.append(FamilyRow(pupils=list(case.pupils), status=status,
                              case=case, contacted=contacted, messages=tally, reply=reply,
                              reply_from=names.get(reply.adult_id) if reply and reply.adult_id else None,
                              alert=alerts.get(case.id),
                              unreachable=list(case.unreachable_reasons or []) if status == "unreachable" else [],
                              last_action=last_action(outbox[case.id], short, tz),
                              next_action=next_action(case, ladder, tz)))
    excluded = excluded_pupils(session, on)
    waiting = [p for p in unexplained_pupils(session, on)
               if p not in pupils_in_cases(session, on) and p not in excluded]
    if waiting:
        pupils = {p.id: p for p in session.scalars(select(Pupil).where(Pupil.id.in_(waiting)))}
        families = group_families(session, waiting)
        planned = planned_contacts(session, families, on, clock.now()) if with_plans else {}
        for family in families:
            rows.append(FamilyRow(pupils=[pupils[p] for p in family], status="not_started",
                                  would_contact=planned.get(tuple(sorted(family)), [])))
    # Those needing attention first when the page loads; while it stays open, /static/today.js never reorders.
    order = {"unreachable": -1, "dsl": 0, "call_back": 0, "escalated": 1, "not_started": 2, "starting": 3,
             "contacted": 4, "replied": 5, "closed": 6}
    rows.sort(key=lambda r: (order[r.status], r.pupils[0].surname if r.pupils else "", r.key))
    return rows


FILTERS = {"all": "All", "needs_me": "Needs me", "open": "Open", "replied": "Replied", "done": "Done"}


def _summary(rows: list[FamilyRow]) -> dict[str, int]:
    counts = Counter(r.status for r in rows)
    return {"families": len(rows), **{k: counts.get(k, 0) for k in STATE_LABELS}}


def _context(session: Session, on: date, today: date, show: str = "all") -> dict[str, object]:
    from gateway.models import FollowupExclusion
    from gateway.pipeline import ports
    from gateway.pipeline.followup_start import started

    show = show if show in FILTERS else "all"
    rows = family_rows(session, on)
    start = started(session, on)
    starter = session.get(StaffUser, start.started_by) if start and start.started_by else None
    removed = list(session.scalars(select(FollowupExclusion).where(FollowupExclusion.date == on)
                                   .order_by(FollowupExclusion.created_at)))
    removed_pupils = {p.id: p for p in session.scalars(select(Pupil).where(
        Pupil.id.in_([r.pupil_id for r in removed])))} if removed else {}
    filter_counts = {name: len(rows) if name == "all" else sum(name in r.groups for r in rows) for name in FILTERS}
    return {"rows": [r for r in rows if show == "all" or show in r.groups], "summary": _summary(rows),
            "on": on, "is_today": on == today, "can_start": any(r.status == "not_started" for r in rows),
            "started": start, "started_by": starter.display_name if starter else None,
            "auto_start": ports.current().ladder().auto_start, "removed": removed,
            "removed_pupils": removed_pupils, "show": show, "filters": FILTERS, "filter_counts": filter_counts,
            "close_reasons": STOP_REASONS, "tasks": open_tasks(session, on)}


@router.get("/")
def today_page(request: Request, db: DbSession, day: Annotated[str | None, Query(alias="date")] = None,
               show: str = "all") -> Response:
    """The Today page (``?date=YYYY-MM-DD`` for another day, ``?show=needs_me|open|replied|done``)."""
    on = school_date(request, day)
    return render(request, "today.html", _context(db, on, school_date(request), show))


@router.get("/today/progress")
def today_progress(request: Request, db: DbSession,
                   day: Annotated[str | None, Query(alias="date")] = None, show: str = "all") -> Response:
    """The live part of the Today page (``/static/today.js`` polls it and swaps only the rows that changed)."""
    on = school_date(request, day)
    return render(request, "_today_progress.html", _context(db, on, school_date(request), show))


@router.post("/today/remove")
def remove_from_followup(request: Request, db: DbSession, staff: CurrentStaff,
                         pupil_id: Annotated[int, Form()], reason: Annotated[str, Form(max_length=200)] = "",
                         day: Annotated[str | None, Form(alias="date")] = None) -> Response:
    """Take a pupil out of the day's follow-up before it starts (audited, with the reason given)."""
    from gateway.pipeline.followup_start import FollowupChangeError, exclude_pupil

    on = school_date(request, day)
    pupil = get_or_404(db, Pupil, pupil_id, "pupil")
    try:
        exclude_pupil(db, on, pupil_id, reason, staff)
    except FollowupChangeError as exc:
        flash(request, str(exc), "alert")
    else:
        flash(request, f"{pupil.display_forename} {pupil.surname} will not be followed up today.", "good")
    return RedirectResponse(f"/?date={on.isoformat()}", status_code=303)


@router.post("/today/present")
def mark_pupil_present(request: Request, db: DbSession, staff: CurrentStaff, pupil_id: Annotated[int, Form()],
                       day: Annotated[str | None, Form(alias="date")] = None) -> Response:
    """The pupil has arrived: record them late (``L``) instead of ``N`` (audited); no message is sent."""
    from gateway.pipeline.followup_start import FollowupChangeError, mark_present

    on = school_date(request, day)
    pupil = get_or_404(db, Pupil, pupil_id, "pupil")
    try:
        mark_present(db, on, pupil_id, staff)
    except FollowupChangeError as exc:
        flash(request, str(exc), "alert")
    else:
        flash(request, f"{pupil.display_forename} {pupil.surname} marked present (late).", "good")
    return RedirectResponse(f"/?date={on.isoformat()}", status_code=303)


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


STOP_REASONS = {"phoned_office": "The parent phoned the office", "arrived_late": "The pupil has arrived",
                "present": "The pupil is in school after all", "staff": "Another reason (say below)"}


@router.post("/cases/{case_id}/close")
def close_case_by_staff(request: Request, case_id: int, db: DbSession, staff: CurrentStaff,
                        reason: Annotated[str, Form(max_length=64)] = "",
                        note: Annotated[str, Form(max_length=200)] = "",
                        confirm: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Stop a case's messages by hand: asks for a reason and an explicit confirmation; audited."""
    from gateway.pipeline.cases import close_case

    case = get_or_404(db, AbsenceCase, case_id, "case")
    note = " ".join(note.split())
    if reason not in STOP_REASONS or confirm != "yes" or (reason == "staff" and not note):
        flash(request, "Messages not stopped: choose a reason (and say what it is for “another reason”), "
                       "then confirm.", "alert")
        return RedirectResponse(f"/?date={case.date.isoformat()}#case-{case_id}", status_code=303)
    if close_case(db, case_id, reason, staff.id):
        record_audit(db, staff, "close_case", "absence_case", case_id,
                     {"reason": reason, **({"note": note} if note else {})})
        flash(request, "Messages stopped for this family: nothing more will be sent today.", "good")
    return RedirectResponse(f"/?date={case.date.isoformat()}", status_code=303)
