"""Routine messages (fresh start, positive attendance, fortnightly check-in): one per adult with parental
responsibility, about the children it concerns, inside the adult's contact window on a school weekday,
within the weekly cap. Never urgent, so an adult who texted STOP gets none.

Each kind only says which of an adult's children a message concerns (a ``PupilSelector``); everything
else — restrictions, audience, cap, channel, language, timing — is shared here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
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
    FREQUENCY_CAP,
    NO_USABLE_CONTACT,
    NOT_IN_AUDIENCE,
    OUTSIDE_HOURS,
    Delivery,
    Plan,
    Suppression,
)
from gateway.routing.reach import Unreachable, choose_channel
from gateway.routing.timing import routine_send_at, routine_window


@dataclass(frozen=True, slots=True)
class Selection:
    """The children a message concerns; when there are none, the suppression reason and its detail."""

    pupils: list[PupilFacts]
    reason: str = ""
    detail: str = ""


PupilSelector = Callable[[list[PupilFacts]], Selection]


def plan_routine(
    households: Households,
    *,
    kind: str,
    day: date,
    select: PupilSelector,
    now: datetime | None,
    tz: ZoneInfo,
    capabilities: LocaleCapabilities,
    recent_counts: Mapping[int, int],
    ladder: EscalationLadder | None = None,
    inset_days: Collection[date] = frozenset(),
    weekly_cap: int = 2,
    why: str = "",
    days_missed: Callable[[int], float] | None = None,
) -> Plan:
    """Plan ``kind`` for every adult in ``households``: sent no earlier than ``day`` (or ``now`` if later).

    ``select`` gets the adult's children (those they have parental responsibility for) and returns the ones
    the message is about. ``recent_counts``: routine messages each adult had in the last 7 days; at
    ``weekly_cap`` or more the adult is suppressed (frequency_cap). ``ladder`` supplies the school's hours and
    default contact window (the shipped ``config/escalation.toml`` when None).
    """
    ladder = ladder or EscalationLadder.packaged()
    shared = SharedValues()
    opening = local_instant(datetime.combine(day, time(0, 0)), tz)
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
        # Parental responsibility, or living with and caring for the child (unless the DSL said otherwise).
        responsible = ordered_pupils(households, (link.pupil_id for link in links
                                                  if link.parental_responsibility or link.carer_at_home))
        if not responsible:
            suppressed.append(suppression(adult, _pupils_of(households, links), NOT_IN_AUDIENCE,
                                          "no parental responsibility"))
            continue
        selection = select(responsible)
        concerned = selection.pupils
        if not concerned:
            suppressed.append(suppression(adult, responsible, selection.reason, selection.detail))
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
        if choice.needs_interpreter:  # a routine call in a language they may not speak helps nobody
            suppressed.append(suppression(adult, concerned, NO_USABLE_CONTACT,
                                          f"only a call, and no voice speaks their language ({choice.why})"))
            continue
        window = routine_window(adult, ladder)
        if window is None:
            suppressed.append(suppression(adult, concerned, OUTSIDE_HOURS, "their contact window is at night"))
            continue
        send_at, timing_note = routine_send_at(not_before, window, tz, inset_days)
        missed = () if days_missed is None else tuple(days_missed(p.id) for p in concerned)
        deliveries.append(build_delivery(households, adult, concerned, choice, send_at=send_at, message_kind=kind,
                                         extra_why=[why, timing_note], days_missed=missed, shared=shared))
    ordered_deliveries, ordered_suppressed = sort_entries(deliveries, suppressed)
    return Plan(kind, day, None, ordered_deliveries, ordered_suppressed)


@dataclass(frozen=True)
class RoutineSettings:
    """What every routine plan needs besides the households and the day (see ``plan_routine``)."""

    now: datetime | None
    tz: ZoneInfo
    capabilities: LocaleCapabilities
    recent_counts: Mapping[int, int]
    ladder: EscalationLadder | None = None
    inset_days: Collection[date] = frozenset()
    weekly_cap: int = 2


def plan_fortnightly_checkin(households: Households, *, day: date, settings: RoutineSettings) -> Plan:
    """A check-in to each adult with parental responsibility for a child on a support plan."""
    def on_support_plan(pupils: list[PupilFacts]) -> Selection:
        return Selection([p for p in pupils if p.support_plan], NOT_IN_AUDIENCE, "no child on a support plan")

    return plan_routine(households, kind="fortnightly_checkin", day=day, select=on_support_plan,
                        why="child on a support plan", **_keywords(settings))


def plan_positive_attendance(
    households: Households, *, day: date, improved_pupil_ids: Collection[int], settings: RoutineSettings
) -> Plan:
    """A positive message to each adult with parental responsibility for a child whose attendance improved
    (the pipeline decides who improved); never about a bereaved or long-term ill child."""
    improved = set(improved_pupil_ids)

    def improved_children(pupils: list[PupilFacts]) -> Selection:
        chosen = [p for p in pupils if p.id in improved and not p.bereaved and not p.long_term_ill]
        return Selection(chosen, NOT_IN_AUDIENCE, "no child whose attendance improved")

    return plan_routine(households, kind="positive_attendance", day=day, select=improved_children,
                        why="attendance improved", **_keywords(settings))


def _keywords(settings: RoutineSettings) -> dict[str, Any]:
    return {"now": settings.now, "tz": settings.tz, "capabilities": settings.capabilities,
            "recent_counts": settings.recent_counts, "ladder": settings.ladder, "inset_days": settings.inset_days,
            "weekly_cap": settings.weekly_cap}


def _pupils_of(households: Households, links: list[LinkFacts]) -> list[PupilFacts]:
    return ordered_pupils(households, (link.pupil_id for link in links))
