"""``gateway export reasons --date D``: parents' reasons for D's absences, for the office's MIS register notes.

One CSV row per pupil and session the reply explains: ``upn, date, session, suggested_code, reason_text,
source, confirmed_by`` (+ ``confirmed_code``). The reason text is health data: the export is for the office,
written to the file or stdout the operator chose, never logged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, AttendanceMark, InboundMessage, StaffUser
from gateway.models.attendance import UNEXPLAINED

HEADER = ("upn", "date", "session", "suggested_code", "reason_text", "source", "confirmed_by", "confirmed_code")


def reason_rows(session: Session, on: date) -> Iterator[tuple[str, ...]]:
    """Rows for the replies attached to ``on``'s cases, oldest reply first."""
    replies = session.execute(
        select(InboundMessage, AbsenceCase).join(AbsenceCase, AbsenceCase.id == InboundMessage.case_id)
        .where(AbsenceCase.date == on).order_by(InboundMessage.received_at, InboundMessage.id)).all()
    staff_names = {s.id: s.display_name for s in session.scalars(select(StaffUser))}
    for inbound, case in replies:
        if inbound.keyword:
            continue  # STOP/START/HELP explain nothing
        for pupil in case.pupils:
            sessions = sorted(session.scalars(select(AttendanceMark.session).where(
                AttendanceMark.pupil_id == pupil.id, AttendanceMark.date == on,
                AttendanceMark.code == UNEXPLAINED))) or ["AM"]
            for register_session in sessions:
                yield (pupil.upn, on.isoformat(), register_session, inbound.suggested_code or "",
                       inbound.body if inbound.source == "sms" else f"keypad {inbound.body}", inbound.source,
                       staff_names.get(inbound.confirmed_by or 0, ""), inbound.confirmed_code or "")


def write_reasons(session: Session, on: date, out: TextIO) -> int:
    """Write the CSV for ``on``; returns the number of data rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in reason_rows(session, on):
        writer.writerow(row)
        count += 1
    return count
