"""The gateway's clock: real time, or a shared accelerated clock for demos, drills and acceptance tests.

With ``GATEWAY_CLOCK`` set, gateway time = GATEWAY_CLOCK + (real now - real start) * GATEWAY_CLOCK_SPEED.
The real start is recorded in the database by the first process of the deployment, so every process
(web, workers, schedulers) given the same settings reads the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ShiftedClock:
    """Gateway time runs from ``gateway_start`` at ``speed`` seconds per real second since ``real_start``."""

    gateway_start: datetime
    real_start: datetime
    speed: float = 1.0

    def now(self) -> datetime:
        elapsed = datetime.now(UTC) - self.real_start
        return self.gateway_start + elapsed * self.speed


@dataclass
class FixedClock:
    """A clock that only moves when told (tests)."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.current += timedelta(**kwargs)


def parse_instant(text: str, tz_name: str = "Europe/London") -> datetime:
    """Parse an ISO 8601 instant; a naive one is read in the school's time zone."""
    from zoneinfo import ZoneInfo

    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value.astimezone(UTC)


def shared_clock(engine: Engine, start: datetime, speed: float) -> ShiftedClock:
    """The deployment's clock anchor for ``start``: recorded by the first process, read by the others."""
    from gateway.models.system import ClockAnchor

    with Session(engine) as session:
        anchor = session.scalar(select(ClockAnchor).where(ClockAnchor.id == 1))
        if anchor is not None and anchor.gateway_start == start and anchor.speed == speed:
            return ShiftedClock(anchor.gateway_start, anchor.real_start, anchor.speed)
        real_start = datetime.now(UTC)
        if anchor is None:
            session.add(ClockAnchor(id=1, gateway_start=start, real_start=real_start, speed=speed))
        else:  # a new drill with another start: re-anchor
            anchor.gateway_start, anchor.real_start, anchor.speed = start, real_start, speed
        try:
            session.commit()
        except IntegrityError:  # another process anchored first: use theirs
            session.rollback()
            anchor = session.scalars(select(ClockAnchor).where(ClockAnchor.id == 1)).one()
            return ShiftedClock(anchor.gateway_start, anchor.real_start, anchor.speed)
        return ShiftedClock(start, real_start, speed)


_clock: Clock | None = None


def get_clock() -> Clock:
    """The process clock from settings (real time unless GATEWAY_CLOCK is set)."""
    global _clock
    if _clock is None:
        from gateway.config import get_settings
        from gateway.db import get_engine

        settings = get_settings()
        if settings.clock:
            from sqlalchemy.exc import OperationalError, ProgrammingError

            from gateway.config import ConfigError

            try:
                start = parse_instant(settings.clock, settings.timezone)
            except ValueError:
                raise ConfigError(f"GATEWAY_CLOCK {settings.clock!r} is not a date and time "
                                  f"(e.g. 2026-11-23T09:30:00)") from None
            try:
                _clock = shared_clock(get_engine(), start, settings.clock_speed)
            except (OperationalError, ProgrammingError) as exc:
                if "clock_anchor" in str(exc):
                    raise ConfigError("The database has no tables yet: run `gateway db upgrade` first") from None
                raise
        else:
            _clock = RealClock()
    return _clock


def set_clock(clock: Clock | None) -> None:
    """Replace the process clock (tests, the demo)."""
    global _clock
    _clock = clock


def now() -> datetime:
    return get_clock().now()
