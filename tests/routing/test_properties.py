"""Property tests: random families built to break the rules (restricted priority-1 carers, only adults,
adults linked to many children, STOP on every number, windows at night, INSET weeks, DST weekends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.routing import (
    AdultFacts,
    AttendanceSummary,
    ContactPointFacts,
    HalfTermFacts,
    Households,
    LinkFacts,
    Plan,
    PupilFacts,
    plan_absence,
    plan_fresh_start,
)
from gateway.routing.plan import REASONS
from tests.routing.families import CAPABILITIES, LADDER

ZONES = [ZoneInfo("Europe/London"), ZoneInfo("America/New_York"), ZoneInfo("Australia/Sydney")]
# Days either side of clock changes (London: 29 Mar / 25 Oct 2026; New York: 8 Mar / 1 Nov 2026).
DST_DAYS = [date(2026, 3, 27), date(2026, 3, 30), date(2026, 3, 9), date(2026, 10, 26), date(2026, 11, 2),
            date(2026, 4, 6), date(2026, 11, 23)]
LANGUAGES = [None, "en-GB", "pl", "ur", "so", "lt", "ro", "pl-PL"]
CHANNELS = ["sms", "email", "voice"]


@dataclass
class Family:
    households: Households
    restricted: frozenset[int]  # adults with no_contact on any link, or dsl_approval without approval


@st.composite
def contact_points(draw: Callable[..., Any], start_id: int) -> tuple[ContactPointFacts, ...]:
    points = []
    for offset in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["mobile", "landline", "work", "email"]))
        value = f"p{start_id + offset}@example.org" if kind == "email" else f"+4477009{start_id + offset:05d}"
        points.append(ContactPointFacts(
            start_id + offset, kind, value, sms_capable=kind == "mobile" and draw(st.booleans()),
            position=draw(st.integers(0, 3)), opted_out=draw(st.integers(0, 3)) == 0 and kind == "mobile",
            permanently_failed=draw(st.integers(0, 4)) == 0))
    return tuple(points)


@st.composite
def families(draw: Callable[..., Any]) -> Family:
    n_pupils = draw(st.integers(1, 5))
    n_adults = draw(st.integers(1, 6))
    pupils = [PupilFacts(i, f"U{i:012d}", f"Child{i}", "Family", year_group=str(draw(st.integers(1, 13))),
                         home_language=draw(st.sampled_from(LANGUAGES)), bereaved=draw(st.integers(0, 9)) == 0,
                         long_term_ill=draw(st.integers(0, 7)) == 0) for i in range(1, n_pupils + 1)]
    adults = []
    for i in range(1, n_adults + 1):
        order = draw(st.lists(st.sampled_from(CHANNELS), min_size=0, max_size=3, unique=True))
        window = draw(st.one_of(st.none(), st.none(), st.tuples(st.times(), st.times())))
        adults.append(AdultFacts(
            100 + i, f"Adult{i}", "Family", language=draw(st.sampled_from(LANGUAGES)),
            literacy=draw(st.sampled_from(["standard", "plain", "voice"])), channel_order=tuple(order),
            window_start=window[0] if window else None, window_end=window[1] if window else None,
            contact_points=draw(contact_points(1000 * i))))
    links = []
    for child in pupils:
        linked = draw(st.lists(st.sampled_from(adults), max_size=n_adults, unique_by=lambda a: a.id))
        for grown_up in linked:
            links.append(LinkFacts(
                child.id, grown_up.id, draw(st.sampled_from(["PAM", "PAF", "GRM", "CAR", "OTH"])),
                priority=draw(st.integers(1, 4)), parental_responsibility=draw(st.booleans()),
                restriction=draw(st.sampled_from(["none"] * 4 + ["no_contact", "dsl_approval"])),
                dsl_approved=draw(st.booleans())))
    households = Households.build(pupils, adults, links)
    restricted = frozenset(a.id for a in adults if households.standing(a.id).forbidden_reason is not None)
    return Family(households, restricted)


def _accounted_once(plan: Plan, adults_considered: set[int]) -> None:
    delivered = [d.adult_id for d in plan.deliveries]
    suppressed = [s.adult_id for s in plan.suppressed]
    assert len(delivered) == len(set(delivered)), "two deliveries to one adult in one step"
    assert len(suppressed) == len(set(suppressed))
    assert not set(delivered) & set(suppressed)
    assert set(delivered) | set(suppressed) == adults_considered
    assert {s.reason for s in plan.suppressed} <= REASONS


def _channel_can_work(delivery: Any, adult: AdultFacts, same_day: bool) -> None:
    point = next(p for p in adult.contact_points if p.id == delivery.contact_point_id)
    assert point.value == delivery.to and not point.permanently_failed
    if delivery.channel == "sms":
        assert point.sms_capable and not any(p.opted_out for p in adult.contact_points)
    elif delivery.channel == "email":
        assert point.kind == "email"
    else:
        assert point.kind in {"mobile", "landline", "work"}
    if not same_day:
        assert not any(p.opted_out for p in adult.contact_points)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=families(), step=st.integers(1, 4), day=st.sampled_from(DST_DAYS), tz=st.sampled_from(ZONES),
       minutes_after_midnight=st.one_of(st.none(), st.integers(0, 24 * 60 - 1)),
       exclude=st.dictionaries(st.integers(101, 106), st.sets(st.sampled_from(CHANNELS))))
def test_absence_plans_never_break_the_rules(
    family: Family, step: int, day: date, tz: ZoneInfo, minutes_after_midnight: int | None,
    exclude: dict[int, set[str]],
) -> None:
    now = None
    if minutes_after_midnight is not None:
        now = (datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minutes_after_midnight))
    households = family.households
    plan = plan_absence(households, date=day, step=step, ladder=LADDER, now=now, tz=tz,
                        capabilities=CAPABILITIES, exclude_channels=exclude)
    considered = {link.adult_id for link in households.links if link.pupil_id in households.pupils}
    if plan.alert_dsl:
        assert plan.deliveries == ()
        return
    _accounted_once(plan, considered)
    event(f"absence deliveries: {min(len(plan.deliveries), 3)}")
    event(f"restricted adult linked: {bool(family.restricted & considered)}")
    for delivery in plan.deliveries:
        assert delivery.adult_id not in family.restricted
        assert delivery.channel not in exclude.get(delivery.adult_id, set())
        linked = {link.pupil_id for link in households.links_of_adult(delivery.adult_id)}
        assert set(delivery.pupil_ids) <= linked and len(set(delivery.pupils)) == len(delivery.pupils)
        _channel_can_work(delivery, households.adults[delivery.adult_id], same_day=True)
        local = delivery.send_at.astimezone(tz)
        assert local.date() == day
        assert time(7, 30) <= local.time() <= time(20, 0)
        if now is not None:
            assert delivery.send_at >= now
    for suppression in plan.suppressed:
        if suppression.adult_id in family.restricted:
            assert suppression.reason in {"restricted", "awaiting_dsl_approval"}
    reached = {pid for d in plan.deliveries for pid in d.pupil_ids}
    assert {households.pupils[p].upn for p in households.pupils if p not in reached} == set(plan.unreached)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=families(), tz=st.sampled_from(ZONES), start=st.sampled_from(DST_DAYS),
       missed=st.lists(st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=5, max_size=5),
       inset_offsets=st.sets(st.integers(0, 14), max_size=10),
       recent=st.dictionaries(st.integers(101, 106), st.integers(0, 4)),
       minutes_after_start=st.one_of(st.none(), st.integers(0, 4 * 24 * 60)))
def test_fresh_start_plans_never_break_the_rules(
    family: Family, tz: ZoneInfo, start: date, missed: list[int], inset_offsets: set[int],
    recent: dict[int, int], minutes_after_start: int | None,
) -> None:
    households = family.households
    # Pupil 5, when drawn, has no register marks at all (a new arrival).
    attendance = {pid: AttendanceSummary(60, n) for pid, n in enumerate(missed[:4], start=1)}
    inset = {start + timedelta(days=offset) for offset in inset_offsets}
    now = None
    if minutes_after_start is not None:
        now = datetime.combine(start, time(0), tzinfo=tz) + timedelta(minutes=minutes_after_start)
    plan = plan_fresh_start(households, half_term=HalfTermFacts("Next", start, start + timedelta(days=40)),
                            attendance=attendance, now=now, tz=tz, capabilities=CAPABILITIES,
                            recent_counts=recent, ladder=LADDER, inset_days=inset, weekly_cap=2)
    considered = {link.adult_id for link in households.links if link.pupil_id in households.pupils}
    _accounted_once(plan, considered)
    event(f"fresh-start deliveries: {min(len(plan.deliveries), 3)}")
    for delivery in plan.deliveries:
        adult = households.adults[delivery.adult_id]
        assert delivery.adult_id not in family.restricted
        assert recent.get(delivery.adult_id, 0) < 2
        _channel_can_work(delivery, adult, same_day=False)
        local = delivery.send_at.astimezone(tz)
        assert local.weekday() < 5 and local.date() not in inset and local.date() >= start
        window: tuple[time | None, time | None] = (adult.window_start, adult.window_end)
        if window[0] is None or window[1] is None or not window[0] < window[1]:
            window = LADDER.routine_window
        start_at, end_at = window
        assert start_at is not None and end_at is not None
        assert max(start_at, time(7, 30)) <= local.time() < min(end_at, time(20, 0))
        for pid in delivery.pupil_ids:
            child = households.pupils[pid]
            assert not child.long_term_ill and attendance[pid].percent < 95
        linked = [households.pupils[link.pupil_id] for link in households.links_of_adult(delivery.adult_id)
                  if link.parental_responsibility and link.pupil_id in households.pupils]
        assert not any(child.bereaved for child in linked)
        assert set(delivery.pupil_ids) <= {child.id for child in linked}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=families(), only_adult=st.booleans(), restricted_link=st.integers(0, 4),
       restriction=st.sampled_from(["no_contact", "dsl_approval"]))
def test_a_restricted_priority_one_carer_linked_to_every_child_never_receives_anything(
    family: Family, only_adult: bool, restricted_link: int, restriction: str
) -> None:
    """The hardest case: the restricted adult is the priority-1 carer with parental responsibility for every
    child, with working contact details, possibly the only adult; one of their links carries the restriction."""
    households = family.households
    target = next(iter(households.adults.values()))
    target = AdultFacts(target.id, target.forename, target.surname, channel_order=("sms",),
                        contact_points=(ContactPointFacts(9999, "mobile", "+447700900999", sms_capable=True),))
    pupil_ids = sorted(households.pupils)
    restricted_pupil = pupil_ids[restricted_link % len(pupil_ids)]
    links = [LinkFacts(pid, target.id, "PAM", 1, True,
                       restriction=restriction if pid == restricted_pupil else "none") for pid in pupil_ids]
    if not only_adult:
        links += [link for link in households.links if link.adult_id != target.id]
    adults = [target] if only_adult else [target, *(a for a in households.adults.values() if a.id != target.id)]
    rigged = Households.build(households.pupils.values(), adults, links)
    attendance = {pid: AttendanceSummary(60, 30) for pid in pupil_ids}
    plans = [plan_absence(rigged, date=date(2026, 11, 23), step=step, ladder=LADDER, now=None,
                          tz=ZONES[0], capabilities=CAPABILITIES) for step in (1, 2, 3)]
    plans.append(plan_fresh_start(rigged, half_term=HalfTermFacts("Next", date(2027, 1, 4), date(2027, 2, 12)),
                                  attendance=attendance, now=None, tz=ZONES[0], capabilities=CAPABILITIES,
                                  recent_counts={}, ladder=LADDER))
    for plan in plans:
        assert target.id not in {d.adult_id for d in plan.deliveries}
        reasons = {s.adult_id: s.reason for s in plan.suppressed}
        assert reasons[target.id] == ("restricted" if restriction == "no_contact" else "awaiting_dsl_approval")
