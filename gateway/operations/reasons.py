"""``gateway export reasons --date D``: parents' reasons for D's absences, for the office's MIS register notes.

One CSV row per pupil and session the reply explains: ``upn, date, session, suggested_code, reason_text,
source, confirmed_by`` (+ ``confirmed_code``): the code staff confirmed for that pupil and session in the
Inbox, and the code suggested for that pupil (a reply naming one sibling suggests a code for that one only).
Replies from restricted contacts are never exported (DSL only). The reason text is health data: the export
is for the office, written to the file or stdout the operator chose, never logged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.csv_safety import safe_csv_writer
from gateway.models import AbsenceCase, Adult, AttendanceMark, ConfirmedCode, InboundMessage, Pupil, StaffUser
from gateway.models.attendance import UNEXPLAINED
from gateway.pipeline.lexicon import suggest_per_pupil

HEADER = ("upn", "date", "session", "suggested_code", "reason_text", "source", "confirmed_by", "confirmed_code")


def reason_rows(session: Session, on: date) -> Iterator[tuple[str, ...]]:
    """Rows for the replies attached to ``on``'s cases, oldest reply first."""
    replies = session.execute(
        select(InboundMessage, AbsenceCase).join(AbsenceCase, AbsenceCase.id == InboundMessage.case_id)
        .where(AbsenceCase.date == on, InboundMessage.dsl_only.is_(False))  # a restricted adult's: DSL only
        .order_by(InboundMessage.received_at, InboundMessage.id)).all()
    staff_names = {s.id: s.display_name for s in session.scalars(select(StaffUser))}
    for inbound, case in replies:
        if inbound.keyword:
            continue  # STOP/START/HELP explain nothing
        confirmed = {(c.pupil_id, c.session): c for c in session.scalars(
            select(ConfirmedCode).where(ConfirmedCode.inbound_id == inbound.id))}
        suggested = pupil_suggestions(session, inbound, case.pupils)
        for pupil in case.pupils:
            marked = set(session.scalars(select(AttendanceMark.session).where(
                AttendanceMark.pupil_id == pupil.id, AttendanceMark.date == on,
                AttendanceMark.code == UNEXPLAINED)))
            sessions = sorted(marked | {s for p, s in confirmed if p == pupil.id}) or ["AM"]
            for register_session in sessions:
                # What staff confirmed for this pupil and session; a reply confirmed as a whole (before per-pupil
                # codes) applies to every row. A session staff left empty records nothing.
                staff_code = confirmed.get((pupil.id, register_session))
                whole = not confirmed
                code = staff_code.code if staff_code else (inbound.confirmed_code or "") if whole else ""
                by = staff_code.confirmed_by if staff_code else inbound.confirmed_by if whole else None
                yield (pupil.upn, on.isoformat(), register_session, suggested.get(pupil.id) or "",
                       inbound.body if inbound.source == "sms" else f"keypad {inbound.body}", inbound.source,
                       staff_names.get(by or 0, ""), code)


def pupil_suggestions(session: Session, inbound: InboundMessage, pupils: Sequence[Pupil]) -> dict[int, str | None]:
    """Per pupil, the code the reply suggests for them: a reply naming some of the children suggests a code
    for those only ("Shafiq is sick, the others will come at 11"); a keypad answer applies to all."""
    if inbound.source == "voice" or not pupils:
        return {p.id: inbound.suggested_code for p in pupils}
    adult = session.get(Adult, inbound.adult_id) if inbound.adult_id else None
    per_pupil = suggest_per_pupil(inbound.body, adult.language if adult else None,
                                  [(p.id, p.display_forename) for p in pupils])
    return {pupil_id: suggestion.code for pupil_id, suggestion in per_pupil.items()}


def write_reasons(session: Session, on: date, out: TextIO) -> int:
    """Write the CSV for ``on``; returns the number of data rows."""
    writer = safe_csv_writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in reason_rows(session, on):
        writer.writerow(row)
        count += 1
    return count
