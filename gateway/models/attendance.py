"""Register marks, half-terms and INSET days."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, utcnow

PRESENT_CODES = frozenset({"/", "\\", "L"})
APPROVED_OFF_SITE = frozenset({"K", "V", "P", "W", "B"})
AUTHORISED_ABSENCE = frozenset({"C", "C1", "C2", "M", "J1", "S", "T", "R", "I", "E"})
UNAUTHORISED_ABSENCE = frozenset({"G", "N", "O", "U"})
NOT_POSSIBLE = frozenset({"X", "Q", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#", "D"})
ALL_CODES = PRESENT_CODES | APPROVED_OFF_SITE | AUTHORISED_ABSENCE | UNAUTHORISED_ABSENCE | NOT_POSSIBLE
UNEXPLAINED = "N"


class AttendanceMark(Base):
    __tablename__ = "attendance_mark"
    __table_args__ = (UniqueConstraint("pupil_id", "date", "session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    session: Mapped[str] = mapped_column(String(2))
    code: Mapped[str] = mapped_column(String(2))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class HalfTerm(Base):
    __tablename__ = "half_term"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    start: Mapped[date] = mapped_column(Date, unique=True)
    end: Mapped[date] = mapped_column(Date)


class InsetDay(Base):
    __tablename__ = "inset_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, unique=True)
