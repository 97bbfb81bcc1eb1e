"""What an import could not use: kept so the office can see it and fix it at the source (the MIS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, utcnow


class DroppedContactPoint(Base):
    """A phone number or e-mail address an import dropped for an adult because it cannot be used (a mobile a
    digit short, a local number without its area code, an unallocated range, a malformed e-mail address).

    Each import of a file replaces the records of the adults it lists, so a number fixed in the MIS and
    imported again disappears from the office's "contacts to fix" list.
    """

    __tablename__ = "dropped_contact_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    adult_id: Mapped[int] = mapped_column(ForeignKey("adult.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(200))  # the file's name
    location: Mapped[str] = mapped_column(String(200))  # element path or spreadsheet row
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(400))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
