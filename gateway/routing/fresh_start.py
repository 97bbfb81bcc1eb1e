"""Planning the "fresh start" nudge sent at the start of a half-term.

Following the trial evidence (DOMAIN.md): one message per adult with parental responsibility, telling them
the number of days each of their children missed last half-term, only where attendance was below 95%, and
never about a long-term ill child nor to a family where a child is bereaved. Routine messages respect the
adult's contact window, school weekdays, INSET days and the weekly cap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.delivery import (
    SharedValues,
    build_delivery,
    ordered_pupils,
    sort_entries,
    suppression,
    wanted_locale,
)
from gateway.routing.facts import Households, LinkFacts, PupilFacts
from gateway.routing.ladder import EscalationLadder, local_instant
from gateway.routing.plan import (
    ABOVE_THRESHOLD,
    EXCLUDED,
    FREQUENCY_CAP,
    NO_ATTENDANCE_DATA,
    NOT_IN_AUDIENCE,
    OUTSIDE_HOURS,
    Delivery,
    Plan,
    Suppression,
)
from gateway.routing.reach import Unreachable, choose_channel
from gateway.routing.timing import routine_send_at, routine_window

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
    ladder: EscalationLadder,
    inset_days: Collection[date] = frozenset(),
    weekly_cap: int = 2,
    threshold_percent: float = THRESHOLD_PERCENT,
) -> Plan:
    """One nudge per adult with parental responsibility listing each concerned child with days missed.

    ``attendance`` summarises the previous half-term per pupil id; ``recent_counts`` is the number of
    routine messages each adult received in the last 7 days (at ``weekly_cap`` or more: frequency_cap).
    Nudges go no earlier than the half-term's first day (or ``now`` if later).
    """
    shared = SharedValues()
    below = f"attendance below {threshold_percent:g}% last half-term"
    above = f"attendance {threshold_percent:g}% or better last half-term"
    opening = local_instant(datetime.combine(half_term.start, time(0, 0)), tz)
    not_before = opening if now is None else max(opening, now)
    deliveries: list[Delivery] = []
    suppressed: list[Suppression] = []
    for adult_id, adult in households.adults.items():
        links = [link for link in households.links_of_adult(adult_id) if link.pupil_id in households.pupils]
        if not links:
            continue
        forbidden = households.standing(adult_id).forbidden_reason
        if forbidden is not None:
            suppressed.append(suppression(adult, _pupils_of(households, links), forbidden))
            continue
        responsible = ordered_pupils(households, (link.pupil_id for link in links if link.parental_responsibility))
        if not responsible:
            suppressed.append(suppression(adult, _pupils_of(households, links), NOT_IN_AUDIENCE,
                                          "no parental responsibility"))
            continue
        concerned, reason, detail = _concerned_pupils(responsible, attendance, threshold_percent, above)
        if not concerned:
            suppressed.append(suppression(adult, responsible, reason, detail))
            continue
        if recent_counts.get(adult_id, 0) >= weekly_cap:
            suppressed.append(suppression(adult, concerned, FREQUENCY_CAP,
                                          f"{recent_counts[adult_id]} routine messages in the last 7 days"))
            continue
        choice = choose_channel(adult, wanted_locale=wanted_locale(adult, concerned), capabilities=capabilities,
                                same_day=False)
        if isinstance(choice, Unreachable):
            suppressed.append(suppression(adult, concerned, choice.reason, choice.detail))
            continue
        window = routine_window(adult, ladder)
        if window is None:
            suppressed.append(suppression(adult, concerned, OUTSIDE_HOURS, "their contact window is at night"))
            continue
        send_at, timing_note = routine_send_at(not_before, window, tz, inset_days)
        missed = tuple(attendance[p.id].days_missed for p in concerned)
        deliveries.append(build_delivery(households, adult, concerned, choice, send_at=send_at,
                                         message_kind="fresh_start", extra_why=[below, timing_note],
                                         days_missed=missed, shared=shared))
    ordered_deliveries, ordered_suppressed = sort_entries(deliveries, suppressed)
    return Plan("fresh_start", half_term.start, None, ordered_deliveries, ordered_suppressed)


def _pupils_of(households: Households, links: list[LinkFacts]) -> list[PupilFacts]:
    return ordered_pupils(households, (link.pupil_id for link in links))


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
