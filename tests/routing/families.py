"""Readable builders for the families routing tests describe ("a mother with a mobile and two children")."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from gateway.resources import config_dir
from gateway.routing import (
    AdultFacts,
    AttendanceSummary,
    ContactPointFacts,
    EscalationLadder,
    HalfTermFacts,
    Households,
    LinkFacts,
    LocaleCapabilities,
    Plan,
    PupilFacts,
    plan_absence,
    plan_fresh_start,
)

LONDON = ZoneInfo("Europe/London")
LADDER = EscalationLadder.load(config_dir() / "escalation.toml")
# Templates in English, Polish, Urdu, Somali and Romanian; voices for English, Polish and Romanian only.
CAPABILITIES = LocaleCapabilities.of(catalogs=("en-GB", "pl", "ur", "so", "ro"), voices=("en-GB", "pl-PL", "ro-RO"))
MONDAY = date(2026, 11, 23)
SPRING_1 = HalfTermFacts("Spring 1", date(2027, 1, 4), date(2027, 2, 12))  # Monday 4 January 2027

_ids = itertools.count(1)


def mobile(number: str = "+447700900001", **kwargs: Any) -> ContactPointFacts:
    return ContactPointFacts(next(_ids), "mobile", number, sms_capable=True, **kwargs)


def landline(number: str = "+441632960001", **kwargs: Any) -> ContactPointFacts:
    return ContactPointFacts(next(_ids), "landline", number, **kwargs)


def email(address: str = "parent@example.org", **kwargs: Any) -> ContactPointFacts:
    return ContactPointFacts(next(_ids), "email", address, **kwargs)


def adult(forename: str, surname: str = "Nowak", *points: ContactPointFacts, channels: str = "sms,email,voice",
          **kwargs: Any) -> AdultFacts:
    return AdultFacts(next(_ids), forename, surname, channel_order=tuple(channels.split(",")),
                      contact_points=tuple(points), **kwargs)


def pupil(forename: str, surname: str = "Nowak", **kwargs: Any) -> PupilFacts:
    pid = next(_ids)
    return PupilFacts(pid, kwargs.pop("upn", f"A{pid:012d}"), forename, surname, **kwargs)


def link(child: PupilFacts, grown_up: AdultFacts, relationship: str = "PAM", priority: int = 1,
         responsibility: bool = True, **kwargs: Any) -> LinkFacts:
    return LinkFacts(child.id, grown_up.id, relationship, priority, responsibility, **kwargs)


def family(links: Iterable[LinkFacts], pupils: Iterable[PupilFacts], adults: Iterable[AdultFacts]) -> Households:
    return Households.build(pupils, adults, links)


def absence_plan(households: Households, step: int = 1, *, now: datetime | None = None, day: date = MONDAY,
                 **kwargs: Any) -> Plan:
    """The plan for ``step`` on ``day`` (as scheduled unless ``now`` is given), every pupil absent."""
    return plan_absence(households, date=day, step=step, ladder=kwargs.pop("ladder", LADDER), now=now, tz=LONDON,
                        capabilities=kwargs.pop("capabilities", CAPABILITIES), **kwargs)


def fresh_start_plan(households: Households, attendance: dict[int, AttendanceSummary], **kwargs: Any) -> Plan:
    return plan_fresh_start(households, half_term=kwargs.pop("half_term", SPRING_1), attendance=attendance,
                            now=kwargs.pop("now", None), tz=LONDON,
                            capabilities=kwargs.pop("capabilities", CAPABILITIES),
                            recent_counts=kwargs.pop("recent_counts", {}), ladder=LADDER, **kwargs)


def missed(days: float, possible_days: int = 30) -> AttendanceSummary:
    """Attendance with ``days`` missed out of ``possible_days`` school days."""
    return AttendanceSummary(possible_days * 2, int(days * 2))


def local(moment: datetime) -> time:
    return moment.astimezone(LONDON).time()


def only_delivery(plan: Plan) -> Any:
    assert len(plan.deliveries) == 1, plan.to_json()
    return plan.deliveries[0]


def reasons(plan: Plan) -> dict[str, str]:
    """Contact name -> suppression reason."""
    return {s.contact_name: s.reason for s in plan.suppressed}
