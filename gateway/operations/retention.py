"""Retention purge: delete message history and register copies older than a date.

Schools process this data under "public task"; replies can be health data. The school decides its retention
period (registers themselves are kept 6 years in the MIS; the gateway's copies need not be). One transaction:
either everything before the date goes, or nothing does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Delete, and_, delete, exists, not_, or_, select
from sqlalchemy.orm import Session

from gateway.errors import InputError, Problem
from gateway.models import Adult, AttendanceMark, AuditEntry, PupilContact
from gateway.models.casework import CaseTask, ConfirmedCode
from gateway.models.messaging import AbsenceCase, DslAlert, InboundMessage, OutboxMessage


@dataclass
class PurgeSummary:
    before: date
    outbox_messages: int = 0
    inbound_messages: int = 0
    absence_cases: int = 0
    dsl_alerts: int = 0
    attendance_marks: int = 0
    audit_entries: int = 0
    unlinked_adults: int = 0
    case_tasks: int = 0  # staff tasks (call back, interpreter, welfare): they name the adult
    confirmed_codes: int = 0  # the codes staff confirmed per pupil and session from a reply
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def purge_before(session: Session, before: date, *, today: date, dry_run: bool = False,
                 include_audit: bool = False) -> PurgeSummary:
    """Delete everything dated before ``before``; with ``dry_run`` count only (nothing changes)."""
    if before > today:
        raise InputError([Problem("--before", str(before), None, "is in the future; nothing was purged")])
    cutoff = datetime.combine(before, time.min, tzinfo=UTC)
    summary = PurgeSummary(before=before, dry_run=dry_run)
    old_cases = select(AbsenceCase.id).where(AbsenceCase.date < before)
    old_inbound = select(InboundMessage.id).where(
        or_(InboundMessage.received_at < cutoff, InboundMessage.case_id.in_(old_cases)))
    statements: list[tuple[str, Delete]] = [
        ("case_tasks", delete(CaseTask).where(or_(CaseTask.created_at < cutoff, CaseTask.case_id.in_(old_cases),
                                                  CaseTask.inbound_id.in_(old_inbound)))),
        ("confirmed_codes", delete(ConfirmedCode).where(ConfirmedCode.inbound_id.in_(old_inbound))),
        ("inbound_messages", delete(InboundMessage).where(
            or_(InboundMessage.received_at < cutoff, InboundMessage.case_id.in_(old_cases)))),
        ("outbox_messages", delete(OutboxMessage).where(
            or_(OutboxMessage.created_at < cutoff, OutboxMessage.case_id.in_(old_cases)))),
        ("dsl_alerts", delete(DslAlert).where(DslAlert.case_id.in_(old_cases))),
        ("absence_cases", delete(AbsenceCase).where(AbsenceCase.date < before)),
        ("attendance_marks", delete(AttendanceMark).where(AttendanceMark.date < before)),
    ]
    if include_audit:
        statements.append(("audit_entries", delete(AuditEntry).where(AuditEntry.at < cutoff)))
    # Adults no longer linked to any pupil (leavers' parents) with nothing left that mentions them.
    unlinked = and_(
        not_(exists().where(PupilContact.adult_id == Adult.id)),
        not_(exists().where(and_(OutboxMessage.adult_id == Adult.id, OutboxMessage.created_at >= cutoff))),
        not_(exists().where(and_(InboundMessage.adult_id == Adult.id, InboundMessage.received_at >= cutoff))),
    )
    statements.append(("unlinked_adults", delete(Adult).where(unlinked)))

    for field, statement in statements:
        if dry_run:
            count = _count_matching(session, statement)
        else:
            count = session.execute(statement.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        setattr(summary, field, int(count or 0))
    if dry_run:
        session.rollback()
    return summary


def _count_matching(session: Session, statement: Delete) -> int:
    """Count the rows a DELETE would remove by running it inside a savepoint that is rolled back."""
    nested = session.begin_nested()
    try:
        result = session.execute(statement.execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        nested.rollback()
