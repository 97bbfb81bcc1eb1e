"""Deployment-wide state: the shared clock anchor and named leases (scheduler locks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime


class ClockAnchor(Base):
    """When a deployment's accelerated clock began: the first process to start records it."""

    __tablename__ = "clock_anchor"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_start: Mapped[datetime] = mapped_column(UTCDateTime())
    real_start: Mapped[datetime] = mapped_column(UTCDateTime())
    speed: Mapped[float] = mapped_column(Float)


class Lease(Base):
    """A named lock with an expiry, held by one process at a time (e.g. the scheduler)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
