"""Milestones: the next half-term's fresh-start nudges before they go: how many families, in which languages
and on which channels, what the texts will cost, a preview of each language, and approve or hold.

Nothing is sent until someone approves the batch. The price per SMS segment is ``GATEWAY_SMS_SEGMENT_PRICE``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway import clock
from gateway.models import AuditEntry, HalfTerm, MilestoneBatch, OutboxMessage, OutboxState, StaffRole, StaffUser
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, app_settings, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
approvers = require_role(StaffRole.ATTENDANCE_LEAD, StaffRole.DSL, StaffRole.ADMIN)


def segment_price() -> float:
    """Pounds per SMS segment (``GATEWAY_SMS_SEGMENT_PRICE``)."""
    from gateway.config import get_settings

    return get_settings().sms_segment_price


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` costs (the rendering package's GSM-7 / UCS-2 rules)."""
    from gateway.rendering import sms_segments as segment_info

    return int(segment_info(text).segments)


@dataclass
class BatchSummary:
    messages: int
    families: int
    by_language_channel: list[tuple[str, str, int]]
    sms_segments: int
    cost: float
    previews: list[tuple[str, str, str]]  # (locale, channel, text)
    planned: int
    # (language name, channel, messages, SMS segments, cost in pounds) per language and channel
    rows: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=dict)
    queued: int = 0  # approved, not yet sent
    sent: int = 0  # with the phone company or delivered (or failed after sending)
    withdrawn: int = 0


def summarise(rows: list[OutboxMessage]) -> BatchSummary:
    """Counts, segments, cost and one preview per language and channel."""
    from gateway.web.labels import language_name

    live = [r for r in rows if r.state not in (OutboxState.CANCELLED, OutboxState.SUPPRESSED)]
    pairs = Counter((r.locale, r.channel) for r in live)
    pair_segments: Counter[tuple[str, str]] = Counter()
    for r in live:
        if r.channel == "sms":
            pair_segments[(r.locale, r.channel)] += sms_segments(r.text)
    segments = sum(pair_segments.values())
    price = segment_price()
    previews: dict[tuple[str, str], str] = {}
    for row in live:
        previews.setdefault((row.locale, row.channel), row.text)
    families = len({tuple(sorted(r.pupil_ids or [])) for r in live})
    table = sorted(((language_name(loc), ch, n, pair_segments[(loc, ch)], round(pair_segments[(loc, ch)] * price, 2))
                    for (loc, ch), n in pairs.items()), key=lambda t: (-t[2], t[0], t[1]))
    return BatchSummary(messages=len(live), families=families,
                        by_language_channel=[(loc, ch, n) for (loc, ch), n in sorted(pairs.items())],
                        sms_segments=segments, cost=round(segments * price, 2),
                        previews=[(loc, ch, text) for (loc, ch), text in sorted(previews.items())],
                        planned=sum(1 for r in live if r.state is OutboxState.PLANNED), rows=table,
                        by_channel=dict(Counter(r.channel for r in live)),
                        queued=sum(1 for r in live if r.state is OutboxState.QUEUED),
                        sent=sum(1 for r in live if r.state not in (OutboxState.PLANNED, OutboxState.QUEUED)),
                        withdrawn=sum(1 for r in rows if r.error_reason == "batch_withdrawn"))


def next_half_term(session: Session, today: date) -> HalfTerm | None:
    return session.scalars(select(HalfTerm).where(HalfTerm.start >= today).order_by(HalfTerm.start).limit(1)).first()


def _batch_for(session: Session, half_term: HalfTerm) -> MilestoneBatch | None:
    return session.scalar(select(MilestoneBatch).where(MilestoneBatch.kind == "fresh_start",
                                                       MilestoneBatch.half_term_id == half_term.id))


def _held(session: Session, batch: MilestoneBatch) -> AuditEntry | None:
    """The latest hold on this batch when it came after any approval, else None."""
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "milestone_batch",
                                                     AuditEntry.entity_id == batch.id,
                                                     AuditEntry.action.in_(("hold_batch", "approve_batch")))
                            .order_by(AuditEntry.id.desc()).limit(1)).first()
    return entry if entry is not None and entry.action == "hold_batch" else None


@router.get("/milestones")
def milestones_page(request: Request, db: DbSession, staff: CurrentStaff) -> Response:
    """The next half-term's nudges."""
    today = clock.now().astimezone(app_settings(request).tz).date()
    half_term = next_half_term(db, today)
    batch = _batch_for(db, half_term) if half_term else None
    summary = None
    held = None
    not_ready = None
    if batch is not None:
        summary = summarise(list(db.scalars(select(OutboxMessage).where(OutboxMessage.batch_id == batch.id))))
        held = _held(db, batch) if batch.approved_at is None else None
    elif half_term is not None:
        from gateway.pipeline.milestones import BatchError, ensure_previous_half_term_finished

        try:
            ensure_previous_half_term_finished(db, half_term, clock.now())
        except BatchError as exc:
            not_ready = str(exc)
    return render(request, "milestones.html", {
        "half_term": half_term, "batch": batch, "summary": summary, "held": held, "price": segment_price(),
        "not_ready": not_ready,
        "can_approve": staff.role in (StaffRole.ATTENDANCE_LEAD, StaffRole.DSL, StaffRole.ADMIN)})


@router.post("/milestones/{half_term_id}/prepare")
def prepare_batch(request: Request, half_term_id: int, db: DbSession,
                  staff: StaffUser = Depends(approvers)) -> Response:  # noqa: B008 - FastAPI's idiom
    """Plan the nudges now (they stay unsent until approved)."""
    from gateway.pipeline.milestones import BatchError, plan_fresh_start_batch

    half_term = get_or_404(db, HalfTerm, half_term_id, "half-term")
    try:
        batch = plan_fresh_start_batch(db, half_term, clock.now())
    except BatchError as exc:
        flash(request, f"Not planned: {exc}", "alert")
        return RedirectResponse("/milestones", status_code=303)
    record_audit(db, staff, "prepare_batch", "milestone_batch", batch.id, {"half_term": half_term.name})
    flash(request, "The nudges are planned. Check them, then approve or hold.", "good")
    return RedirectResponse("/milestones", status_code=303)


@router.post("/milestones/batches/{batch_id}/approve")
def approve(request: Request, batch_id: int, db: DbSession, confirm: Annotated[str, Form(max_length=8)] = "",
            staff: StaffUser = Depends(approvers)) -> Response:  # noqa: B008
    """Approve the batch: each message goes at its planned time inside the family's window."""
    from gateway.pipeline.milestones import approve_batch

    if db.get(MilestoneBatch, batch_id) is None:
        raise HTTPException(status_code=404, detail="No such batch.")
    if confirm != "yes":
        flash(request, "Not approved: tick the box to confirm you have read the previews.", "alert")
        return RedirectResponse("/milestones", status_code=303)
    count = approve_batch(db, batch_id, staff.id)
    record_audit(db, staff, "approve_batch", "milestone_batch", batch_id, {"released": count})
    flash(request, f"Approved: {count} messages will go at their planned times.", "good")
    return RedirectResponse("/milestones", status_code=303)


@router.post("/milestones/batches/{batch_id}/hold")
def hold(request: Request, batch_id: int, db: DbSession,
         staff: StaffUser = Depends(approvers)) -> Response:  # noqa: B008
    """Hold the batch (before or after approval): nothing more is sent until someone approves it again."""
    from gateway.pipeline.milestones import hold_batch

    get_or_404(db, MilestoneBatch, batch_id, "batch")
    taken_back = hold_batch(db, batch_id)
    record_audit(db, staff, "hold_batch", "milestone_batch", batch_id, {"taken_back": taken_back})
    flash(request, "On hold: nothing more will be sent until the batch is approved again.", "good")
    return RedirectResponse("/milestones", status_code=303)


@router.post("/milestones/batches/{batch_id}/withdraw")
def withdraw(request: Request, batch_id: int, db: DbSession,
             confirm: Annotated[str, Form(max_length=8)] = "",
             staff: StaffUser = Depends(approvers)) -> Response:  # noqa: B008
    """Withdraw the batch for good: every message not yet sent is cancelled (asks for confirmation)."""
    from gateway.pipeline.milestones import withdraw_batch

    get_or_404(db, MilestoneBatch, batch_id, "batch")
    if confirm != "yes":
        flash(request, "Not withdrawn: tick the box to confirm.", "alert")
        return RedirectResponse("/milestones", status_code=303)
    cancelled = withdraw_batch(db, batch_id)
    record_audit(db, staff, "withdraw_batch", "milestone_batch", batch_id, {"cancelled": cancelled})
    flash(request, f"Withdrawn: {cancelled} messages will not be sent.", "good")
    return RedirectResponse("/milestones", status_code=303)
