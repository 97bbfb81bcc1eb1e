"""Render contexts for the pipeline's messages, in the shape ARCHITECTURE.md documents for templates.

``school`` {name, phone, staff_name}, ``recipient`` {title, forename, surname}, ``pupils`` [{forename,
surname}] (siblings share one message), ``date``, plus each kind's own values (``days_absent`` ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Adult, Pupil, School


def school_context(session: Session, pupils: Sequence[Pupil]) -> dict[str, str]:
    """The school named in a message: the pupils' school, else the only school on record."""
    school = None
    for pupil in pupils:
        if pupil.school_id is not None:
            school = session.get(School, pupil.school_id)
            break
    if school is None:
        school = session.scalars(select(School).order_by(School.id).limit(1)).first()
    # Templates need every value: say something useful rather than fail to tell a parent at all.
    if school is None:
        return {"name": "the school", "phone": "the school office", "staff_name": "the attendance team"}
    return {"name": school.name, "phone": school.phone or school.email or "the school office",
            "staff_name": school.attendance_officer or "the attendance team"}


def message_context(session: Session, *, adult: Adult | None, pupils: Sequence[Pupil], on: date,
                    **extra: object) -> dict[str, object]:
    """The context for one message to ``adult`` about ``pupils`` on ``on`` (kind-specific values in extra)."""
    context: dict[str, object] = {
        "school": school_context(session, pupils),
        "recipient": {
            "title": (adult.title or "") if adult else "",
            "forename": (adult.forename if adult else "") or "Parent",
            "surname": (adult.surname if adult else "") or "Carer",
        },
        "pupils": [{"forename": p.display_forename, "surname": p.surname} for p in pupils],
        "date": on,
    }
    context.update(extra)
    return context


def pupils_by_id(session: Session, pupil_ids: Sequence[int]) -> list[Pupil]:
    """Pupils in the order of ``pupil_ids``."""
    rows = {p.id: p for p in session.scalars(select(Pupil).where(Pupil.id.in_(list(pupil_ids))))}
    return [rows[i] for i in pupil_ids if i in rows]
