"""When a message may go: same-day absence messages within the school's hours, routine ones inside the
adult's contact window on a school weekday. All wall-clock times are local (``GATEWAY_TIMEZONE``), so
daylight-saving changes never move a message into the night.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.routing.facts import AdultFacts
from gateway.routing.ladder import EscalationLadder, LadderStep, local_instant

# Looking further ahead than a year means the calendar is wrong (e.g. every day an INSET day).
_SEARCH_DAYS = 370


def absence_send_at(
    day: date, step: LadderStep, ladder: EscalationLadder, tz: ZoneInfo, now: datetime | None
) -> datetime | None:
    """When a same-day absence message for ``step`` goes: when the step falls due, or ``now`` if later,
    moved to ``earliest`` if before it; None when ``latest`` has passed (nothing more may go that day).

    ``now=None`` plans the day as scheduled (the CLI for a date other than today).
    """
    due = ladder.step_due(day, step, tz)
    if now is not None and now >= due:
        at = now.replace(microsecond=0)  # due already: send now (whole seconds read better in a plan)
    else:
        at = due.replace(microsecond=0) + timedelta(seconds=1) if due.microsecond else due
    earliest = local_instant(datetime.combine(day, ladder.earliest), tz)
    latest = local_instant(datetime.combine(day, ladder.latest), tz)
    at = max(at, earliest)
    if at > latest:
        return None
    return at.astimezone(tz)


@dataclass(frozen=True, slots=True)
class RoutineWindow:
    """The local times routine messages may reach one adult, and why (for the plan's ``why``)."""

    start: time
    end: time
    note: str


def routine_window(adult: AdultFacts, ladder: EscalationLadder) -> RoutineWindow | None:
    """The adult's own window (else the school default), clipped to the school's earliest..latest hours.

    None when the adult's window lies wholly at night: routine messages must honour both, so none go.
    """
    default_start, default_end = ladder.routine_window
    if adult.window_start is not None and adult.window_end is not None:
        if adult.window_start < adult.window_end:
            start, end = adult.window_start, adult.window_end
            note = f"their contact window {_hhmm(start)}-{_hhmm(end)}"
        else:
            start, end = default_start, default_end
            note = (f"their window {_hhmm(adult.window_start)}-{_hhmm(adult.window_end)} is not a daytime range; "
                    f"school window {_hhmm(start)}-{_hhmm(end)}")
    else:
        start, end = default_start, default_end
        note = f"school contact window {_hhmm(start)}-{_hhmm(end)}"
    start, end = max(start, ladder.earliest), min(end, ladder.latest)
    if start >= end:
        return None
    return RoutineWindow(start, end, note)


def routine_send_at(
    not_before: datetime, window: RoutineWindow, tz: ZoneInfo, inset_days: Collection[date]
) -> tuple[datetime, str]:
    """The first instant at or after ``not_before`` inside ``window`` on a weekday that is not an INSET day,
    and a note saying what moved it."""
    local = not_before.astimezone(tz)
    day = local.date()
    moved: list[str] = []
    for _ in range(_SEARCH_DAYS):
        if day.weekday() >= 5:
            _note_once(moved, "not at weekends")
        elif day in inset_days:
            _note_once(moved, f"not on INSET day {day.isoformat()}")
        else:
            opens = local_instant(datetime.combine(day, window.start), tz)
            closes = local_instant(datetime.combine(day, window.end), tz)
            at = max(opens, local)
            if at < closes:
                moved.append(f"waits for {window.note}" if at > local else f"inside {window.note}")
                return at, "; ".join(moved)
            if day == local.date():
                _note_once(moved, "after today's window")
        day += timedelta(days=1)
    raise ValueError(f"no school weekday within {_SEARCH_DAYS} days of {local.date()}")


def _note_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")
