"""Settings (administrators only): term dates and INSET days (editable), the absence ladder and its quiet
hours (shown from the ladder file, which is edited in configuration and read at start), and staff accounts
(unlock after a lock-out). Also the audit log, which the DSL may read too."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from gateway.models import AuditEntry, HalfTerm, InsetDay, StaffRole, StaffUser
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession, app_settings, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
AdminOnly = Annotated[StaffUser, Depends(require_role(StaffRole.ADMIN))]
AuditReader = Annotated[StaffUser, Depends(require_role(StaffRole.ADMIN, StaffRole.DSL))]


def _ladder(request: Request) -> tuple[Any, str | None, str]:
    """(ladder or None, problem or None, file path)."""
    from gateway.routing.ladder import EscalationLadder

    settings = app_settings(request)
    try:
        path = settings.escalation_path()
        return EscalationLadder.load(path), None, str(path)
    except Exception as exc:  # show the problem on the page; the scheduler reports it too
        return None, str(exc), settings.escalation_file


@router.get("/settings")
def settings_page(request: Request, db: DbSession, staff: AdminOnly) -> Response:
    """Term dates, the ladder, quiet hours and staff accounts."""
    ladder, ladder_problem, ladder_path = _ladder(request)
    return render(request, "settings.html", {
        "half_terms": list(db.scalars(select(HalfTerm).order_by(HalfTerm.start))),
        "inset_days": list(db.scalars(select(InsetDay).order_by(InsetDay.date))),
        "ladder": ladder, "ladder_problem": ladder_problem, "ladder_path": ladder_path,
        "staff_users": list(db.scalars(select(StaffUser).order_by(StaffUser.username))),
        "settings": app_settings(request)})


def _parse_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"{field}: {text!r} is not a date (YYYY-MM-DD).") from exc


@router.post("/settings/half-terms")
def add_half_term(request: Request, db: DbSession, staff: AdminOnly, name: Annotated[str, Form(max_length=40)],
                  start: Annotated[str, Form()], end: Annotated[str, Form()]) -> Response:
    """Add a half-term (start and end dates inclusive)."""
    first, last = _parse_day(start, "start"), _parse_day(end, "end")
    if last < first:
        raise HTTPException(status_code=422, detail="The half-term must end on or after its first day.")
    if db.scalar(select(HalfTerm).where(HalfTerm.start == first)) is not None:
        raise HTTPException(status_code=409, detail="A half-term already starts on that day.")
    half_term = HalfTerm(name=name.strip() or "Half-term", start=first, end=last)
    db.add(half_term)
    db.flush()
    record_audit(db, staff, "add_half_term", "half_term", half_term.id,
                 {"name": half_term.name, "start": start, "end": end})
    flash(request, f"Added {half_term.name}.", "good")
    return RedirectResponse("/settings#terms", status_code=303)


@router.post("/settings/half-terms/{half_term_id}/delete")
def delete_half_term(request: Request, half_term_id: int, db: DbSession, staff: AdminOnly) -> Response:
    """Remove a half-term."""
    half_term = get_or_404(db, HalfTerm, half_term_id, "half-term")
    record_audit(db, staff, "delete_half_term", "half_term", half_term.id,
                 {"name": half_term.name, "start": half_term.start.isoformat()})
    db.delete(half_term)
    flash(request, "Half-term removed.", "good")
    return RedirectResponse("/settings#terms", status_code=303)


@router.post("/settings/inset-days")
def add_inset_day(request: Request, db: DbSession, staff: AdminOnly, day: Annotated[str, Form()]) -> Response:
    """Add an INSET day (no routine messages that day)."""
    when = _parse_day(day, "day")
    if db.scalar(select(InsetDay).where(InsetDay.date == when)) is None:
        inset = InsetDay(date=when)
        db.add(inset)
        db.flush()
        record_audit(db, staff, "add_inset_day", "inset_day", inset.id, {"date": day})
    flash(request, "INSET day saved.", "good")
    return RedirectResponse("/settings#terms", status_code=303)


@router.post("/settings/inset-days/{inset_id}/delete")
def delete_inset_day(request: Request, inset_id: int, db: DbSession, staff: AdminOnly) -> Response:
    """Remove an INSET day."""
    inset = get_or_404(db, InsetDay, inset_id, "INSET day")
    record_audit(db, staff, "delete_inset_day", "inset_day", inset.id, {"date": inset.date.isoformat()})
    db.delete(inset)
    flash(request, "INSET day removed.", "good")
    return RedirectResponse("/settings#terms", status_code=303)


@router.post("/settings/staff/{staff_id}/unlock")
def unlock_staff(request: Request, staff_id: int, db: DbSession, staff: AdminOnly) -> Response:
    """Lift a sign-in lock-out."""
    user = get_or_404(db, StaffUser, staff_id, "account")
    user.locked_until, user.failed_logins = None, 0
    record_audit(db, staff, "unlock_account", "staff_user", user.id)
    flash(request, f"{user.display_name} can sign in again.", "good")
    return RedirectResponse("/settings#staff", status_code=303)


@router.get("/audit")
def audit_page(request: Request, db: DbSession, staff: AuditReader) -> Response:
    """The latest staff actions that changed data."""
    from gateway.web.audit_sentences import audit_lines

    entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(300)))
    return render(request, "audit.html", {"lines": audit_lines(db, entries)})
