"""Planning the "fresh start" nudge sent at the start of a half-term.

Following the trial evidence (DOMAIN.md): one message per adult with parental responsibility, telling them
the number of days each of their children missed last half-term, only where attendance was below 95%, and
never about a long-term ill child nor to a family where a child is bereaved. Routine messages respect the
adult's contact window, school weekdays, INSET days and the weekly cap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.facts import Households, PupilFacts
from gateway.routing.ladder import EscalationLadder
from gateway.routing.plan import ABOVE_THRESHOLD, EXCLUDED, NO_ATTENDANCE_DATA, Plan
from gateway.routing.routine import Selection, plan_routine

THRESHOLD_PERCENT = 95.0


@dataclass(frozen=True, slots=True)
class AttendanceSummary:
    """One pupil's last half-term: possible sessions and sessions missed (a session is half a day)."""

    possible_sessions: int
    missed_sessions: int

    @property
    def percent(self) -> float:
        """Attendance as a percentage of possible sessions (100 when there were none)."""
        if self.possible_sessions <= 0:
            return 100.0
        return 100.0 * (self.possible_sessions - self.missed_sessions) / self.possible_sessions

    @property
    def days_missed(self) -> float:
        return self.missed_sessions / 2


@dataclass(frozen=True, slots=True)
class HalfTermFacts:
    """The half-term a nudge opens (its name and first day go into the message)."""

    name: str
    start: date
    end: date


def plan_fresh_start(
    households: Households,
    *,
    half_term: HalfTermFacts,
    attendance: Mapping[int, AttendanceSummary],
    now: datetime | None,
    tz: ZoneInfo,
    capabilities: LocaleCapabilities,
    recent_counts: Mapping[int, int],
    ladder: EscalationLadder | None = None,
    inset_days: Collection[date] = frozenset(),
    weekly_cap: int = 2,
    threshold_percent: float = THRESHOLD_PERCENT,
) -> Plan:
    """One nudge per adult with parental responsibility listing each concerned child with days missed.

    ``attendance`` summarises the previous half-term per pupil id; ``recent_counts`` is the number of
    routine messages each adult received in the last 7 days (at ``weekly_cap`` or more: frequency_cap).
    Nudges go no earlier than the half-term's first day (or ``now`` if later).
    """
    above = f"attendance {threshold_percent:g}% or better last half-term"

    def below_threshold(pupils: list[PupilFacts]) -> Selection:
        return Selection(*_concerned_pupils(pupils, attendance, threshold_percent, above))

    return plan_routine(households, kind="fresh_start", day=half_term.start, select=below_threshold, now=now,
                        tz=tz, capabilities=capabilities, recent_counts=recent_counts, ladder=ladder,
                        inset_days=inset_days, weekly_cap=weekly_cap,
                        days_missed=lambda pupil_id: attendance[pupil_id].days_missed,
                        why=f"attendance below {threshold_percent:g}% last half-term")


def _concerned_pupils(
    pupils: list[PupilFacts], attendance: Mapping[int, AttendanceSummary], threshold_percent: float, above: str
) -> tuple[list[PupilFacts], str, str]:
    """(pupils to nudge about, else the reason and detail for nudging about none)."""
    if any(p.bereaved for p in pupils):
        # A bereavement touches the whole family: no attendance nudge about any of its children.
        return [], EXCLUDED, "bereavement"
    concerned: list[PupilFacts] = []
    long_term_ill = has_data = False
    for pupil in pupils:
        summary = attendance.get(pupil.id)
        if pupil.long_term_ill:
            long_term_ill = True
            continue
        if summary is None or summary.possible_sessions <= 0:
            continue
        has_data = True
        if summary.percent < threshold_percent:
            concerned.append(pupil)
    if concerned:
        return concerned, "", ""
    if long_term_ill:
        return [], EXCLUDED, "long-term illness"
    if has_data:
        return [], ABOVE_THRESHOLD, above
    return [], NO_ATTENDANCE_DATA, "no possible sessions recorded last half-term"
