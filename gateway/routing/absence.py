"""Planning one ladder step for the day's unexplained absences: who is contacted, how, in which language,
when — and for everyone else linked to the absent pupils, why not.

Siblings absent together are one case: each adult gets at most one delivery per step, listing all of their
absent children. Restrictions are absolute and are checked before anything else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.delivery import build_delivery, ordered_pupils, sort_entries, suppression, wanted_locale
from gateway.routing.facts import Households
from gateway.routing.ladder import EscalationLadder, LadderStep
from gateway.routing.plan import NOT_IN_AUDIENCE, OUTSIDE_HOURS, Delivery, Plan, Suppression
from gateway.routing.reach import Unreachable, choose_channel
from gateway.routing.timing import absence_send_at

_EMPTY: frozenset[str] = frozenset()
FIRST_DAY_KIND = "absence_first_day"
FOLLOWUP_KIND = "absence_followup"  # "we have still not heard": only to an adult already contacted today


def plan_absence(
    households: Households,
    *,
    date: date,
    step: int,
    ladder: EscalationLadder,
    now: datetime | None,
    tz: ZoneInfo,
    capabilities: LocaleCapabilities,
    exclude_channels: Mapping[int, Collection[str]] | None = None,
    tried_channels: Mapping[int, Collection[str]] | None = None,
    absent_pupil_ids: Collection[int] | None = None,
    continuing_pupil_ids: Collection[int] = (),
    contacted_adult_ids: Collection[int] | None = None,
) -> Plan:
    """The deliveries and suppressions of ladder ``step`` (1-based) for the absences on ``date``.

    ``absent_pupil_ids`` defaults to every pupil in ``households``. ``exclude_channels`` (adult id -> channels
    that failed permanently today) moves an adult to their next usable channel. For a ``next`` step,
    ``tried_channels`` (adult id -> channels earlier steps used) comes from the pipeline; when None the
    earlier steps are planned here to find them. Pupils in ``continuing_pupil_ids`` were already absent the
    previous school day: a first-step message about only such pupils uses the ladder's continuing kind.

    ``contacted_adult_ids``: the adults this case has already reached today (a message sent, accepted or
    delivered; the pipeline knows). "We have still not heard" (``absence_followup``) goes only to them; an
    adult first contacted at a later step gets the first-day wording. When None (a preview), the adults the
    earlier steps would have contacted count as contacted.
    """
    ladder_step = ladder.step(step)
    concerned = sorted(households.pupils if absent_pupil_ids is None else absent_pupil_ids)
    concerned = [pid for pid in concerned if pid in households.pupils]
    if ladder_step.audience == "dsl":
        upns = tuple(sorted(households.pupils[pid].upn for pid in concerned))
        return Plan("absence", date, step, (), (), alert_dsl=True, unreached=upns)
    excluded = exclude_channels or {}
    if ladder_step.channels == "next" and tried_channels is None:
        tried_channels = _channels_of_earlier_steps(
            households, date=date, step=ladder_step, ladder=ladder, tz=tz, capabilities=capabilities,
            exclude_channels=excluded, absent_pupil_ids=concerned)
    tried = tried_channels if ladder_step.channels == "next" and tried_channels else {}
    if contacted_adult_ids is None and ladder_step.kind == FOLLOWUP_KIND:
        earlier = tried_channels if tried_channels is not None else _channels_of_earlier_steps(
            households, date=date, step=ladder_step, ladder=ladder, tz=tz, capabilities=capabilities,
            exclude_channels=excluded, absent_pupil_ids=concerned)
        contacted_adult_ids = set(earlier)
    contacted = frozenset(contacted_adult_ids or ())
    send_at = absence_send_at(date, ladder_step, ladder, tz, now)

    def blocked(adult_id: int) -> tuple[str, str] | None:
        """Why nothing can be sent to this adult at this step, or None."""
        reason = households.standing(adult_id).forbidden_reason
        if reason is not None:
            return reason, ""
        choice = choose_channel(households.adults[adult_id], wanted_locale=None, capabilities=capabilities,
                                same_day=True, exclude=excluded.get(adult_id, _EMPTY))
        return (choice.reason, choice.detail) if isinstance(choice, Unreachable) else None

    audience: dict[int, list[int]] = defaultdict(list)  # adult -> pupils they are contacted about
    passed_over: dict[int, list[int]] = defaultdict(list)  # audience adults skipped (restricted/unreachable)
    linked: dict[int, list[int]] = defaultdict(list)  # every adult linked to a concerned pupil
    stand_ins: set[int] = set()  # adults contacted because a higher-priority carer was passed over
    carers_at_home: set[int] = set()  # in the audience as an adult who lives with and cares for the pupil
    blocked_cache: dict[int, tuple[str, str] | None] = {}
    for pupil_id in concerned:
        links = [link for link in households.links_of_pupil(pupil_id) if link.adult_id in households.adults]
        for link in links:
            linked[link.adult_id].append(pupil_id)
        if ladder_step.audience == "primary":
            # The priority-1 carer with parental responsibility; if they may not or cannot be contacted,
            # the next one, so that step 1 still reaches someone who can act.
            skipped = False
            for link in (link for link in links if link.parental_responsibility):
                if link.adult_id not in blocked_cache:
                    blocked_cache[link.adult_id] = blocked(link.adult_id)
                if blocked_cache[link.adult_id] is None:
                    audience[link.adult_id].append(pupil_id)
                    if skipped:
                        stand_ins.add(link.adult_id)
                    break
                passed_over[link.adult_id].append(pupil_id)
                skipped = True
        else:
            wants_responsibility = ladder_step.audience == "parental_responsibility"
            for link in links:
                # "Any adult who lives with and takes care of the child" joins those with parental
                # responsibility (unless the DSL said otherwise), and so is not an emergency contact too.
                if (link.parental_responsibility or link.carer_at_home) == wants_responsibility:
                    audience[link.adult_id].append(pupil_id)
                    if link.carer_at_home and not link.parental_responsibility:
                        carers_at_home.add(link.adult_id)

    deliveries: list[Delivery] = []
    suppressed: list[Suppression] = []
    for adult_id, pupil_ids in linked.items():
        adult = households.adults[adult_id]
        pupils = ordered_pupils(households, pupil_ids)
        forbidden = households.standing(adult_id).forbidden_reason
        if forbidden is not None:  # restrictions first, whatever the audience: they are absolute
            suppressed.append(suppression(adult, pupils, forbidden))
            continue
        if adult_id not in audience:
            if adult_id in passed_over:
                reason, detail = blocked_cache[adult_id] or (NOT_IN_AUDIENCE, "")
                suppressed.append(suppression(adult, pupils, reason, detail))
            else:
                suppressed.append(suppression(adult, pupils, NOT_IN_AUDIENCE,
                                              f"step {ladder_step.number} is for: {ladder_step.name}"))
            continue
        pupils = ordered_pupils(households, audience[adult_id])
        choice = choose_channel(adult, wanted_locale=wanted_locale(adult, pupils), capabilities=capabilities,
                                same_day=True, exclude=excluded.get(adult_id, _EMPTY),
                                tried=tried.get(adult_id, _EMPTY))
        if isinstance(choice, Unreachable):
            suppressed.append(suppression(adult, pupils, choice.reason, choice.detail))
            continue
        if send_at is None:
            suppressed.append(suppression(adult, pupils, OUTSIDE_HOURS,
                                          f"nothing is sent after {ladder.latest:%H:%M} on the day"))
            continue
        kind = _message_kind(ladder, ladder_step, [p.id for p in pupils], continuing_pupil_ids,
                             already_contacted=adult_id in contacted)
        deliveries.append(build_delivery(households, adult, pupils, choice, send_at=send_at, message_kind=kind,
                                         extra_why=[_audience_note(ladder_step, adult_id in stand_ins,
                                                                   adult_id in carers_at_home)]))
    reached = {pid for delivery in deliveries for pid in delivery.pupil_ids}
    unreached = tuple(sorted(households.pupils[pid].upn for pid in concerned if pid not in reached))
    ordered_deliveries, ordered_suppressed = sort_entries(deliveries, suppressed)
    return Plan("absence", date, step, ordered_deliveries, ordered_suppressed, unreached=unreached)


def _message_kind(
    ladder: EscalationLadder, step: LadderStep, pupil_ids: list[int], continuing: Collection[int], *,
    already_contacted: bool = True,
) -> str:
    """The template kind for one adult at ``step``.

    "We have still not heard" presumes an earlier message: an adult the case has not reached yet today gets
    the first-day wording instead. A first-day message about only pupils absent the day before too uses the
    ladder's continuing kind.
    """
    kind = step.kind
    if kind == FOLLOWUP_KIND and not already_contacted:
        kind = FIRST_DAY_KIND
    if kind == FIRST_DAY_KIND and pupil_ids and all(pid in continuing for pid in pupil_ids):
        return ladder.continuing_kind
    return kind


def _audience_note(step: LadderStep, stand_in: bool, carer_at_home: bool = False) -> str:
    if step.audience == "primary":
        return "first contactable adult with parental responsibility" if stand_in else "primary carer"
    if step.audience == "parental_responsibility":
        return "lives with and cares for the pupil" if carer_at_home else "has parental responsibility"
    return "emergency contact"


def _channels_of_earlier_steps(
    households: Households,
    *,
    date: date,
    step: LadderStep,
    ladder: EscalationLadder,
    tz: ZoneInfo,
    capabilities: LocaleCapabilities,
    exclude_channels: Mapping[int, Collection[str]],
    absent_pupil_ids: Collection[int],
) -> dict[int, set[str]]:
    """The channels each adult would have been contacted on at the steps before ``step``."""
    tried: dict[int, set[str]] = defaultdict(set)
    for earlier in ladder.steps[: step.number - 1]:
        if earlier.audience == "dsl":
            continue
        plan = plan_absence(households, date=date, step=earlier.number, ladder=ladder, now=None, tz=tz,
                            capabilities=capabilities, exclude_channels=exclude_channels,
                            tried_channels={k: set(v) for k, v in tried.items()},
                            absent_pupil_ids=absent_pupil_ids)
        for delivery in plan.deliveries:
            tried[delivery.adult_id].add(delivery.channel)
    return dict(tried)
