"""The office's start of a day's absence follow-up, and the pupils it took out before starting.

Follow-up never starts by itself at registers close: the office checks the registers and presses "Start
follow-up" (``FollowupDay`` with ``automatic`` false), or the gateway starts it on its own at the ladder's
``auto_start`` time when nobody has (``automatic`` true, shown on Today). A ``FollowupExclusion`` keeps one
pupil out of that day's follow-up (a wrong ``N`` mark), with the reason the member of staff gave.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime


class FollowupDay(Base):
    """The day's follow-up has started: who started it (None: the gateway, at ``auto_start``) and when."""

    __tablename__ = "followup_day"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowupExclusion(Base):
    """One pupil left out of one day's follow-up by a member of staff, with the reason they gave."""

    __tablename__ = "followup_exclusion"
    __table_args__ = (UniqueConstraint("date", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
