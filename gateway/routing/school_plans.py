"""Planning a whole school (or multi-academy trust) from the database, in batches of adults.

Routine plans are made adult by adult, so the adults can be loaded a batch at a time (each with all their
links and children): memory stays bounded whatever the size of the trust, and every adult is still planned
exactly once. This is what ``gateway plan fresh-start`` and the pipeline's half-term nudges call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.delivery import sort_entries
from gateway.routing.fresh_start import plan_fresh_start
from gateway.routing.ladder import EscalationLadder
from gateway.routing.loader import (
    adult_id_ranges,
    load_attendance_summaries,
    load_half_terms,
    load_households_for_adults,
    load_inset_days,
    paused_gc,
)
from gateway.routing.plan import Delivery, Plan, Suppression

ADULTS_PER_BATCH = 20_000


def merge_plans(plans: Sequence[Plan]) -> Plan:
    """One plan from plans over disjoint sets of adults (same kind, date and step)."""
    if not plans:
        raise ValueError("nothing to merge")
    deliveries: list[Delivery] = []
    suppressed: list[Suppression] = []
    for plan in plans:
        deliveries.extend(plan.deliveries)
        suppressed.extend(plan.suppressed)
    ordered_deliveries, ordered_suppressed = sort_entries(deliveries, suppressed)
    first = plans[0]
    unreached = tuple(sorted({upn for plan in plans for upn in plan.unreached}))
    return Plan(first.kind, first.date, first.step, ordered_deliveries, ordered_suppressed,
                any(plan.alert_dsl for plan in plans), unreached)


def plan_fresh_start_for_school(
    session: Session,
    *,
    on_or_after: date,
    now: datetime | None,
    tz: ZoneInfo,
    ladder: EscalationLadder,
    capabilities: LocaleCapabilities,
    recent_counts: Mapping[int, int],
    weekly_cap: int,
    adults_per_batch: int = ADULTS_PER_BATCH,
) -> Plan:
    """The fresh-start plan for the half-term starting on or after ``on_or_after``, using the previous
    half-term's register marks (summed in SQL) and the INSET days from its start."""
    half_term, previous = load_half_terms(session, on_or_after)
    attendance = {} if previous is None else load_attendance_summaries(session, previous.start, previous.end)
    inset_days = load_inset_days(session, half_term.start)
    plans = []
    with paused_gc():
        for first, last in adult_id_ranges(session, adults_per_batch):
            households = load_households_for_adults(session, first, last)
            plans.append(plan_fresh_start(households, half_term=half_term, attendance=attendance, now=now, tz=tz,
                                          capabilities=capabilities, recent_counts=recent_counts, ladder=ladder,
                                          inset_days=inset_days, weekly_cap=weekly_cap))
            del households  # the next batch reuses this memory
        if not plans:
            return Plan("fresh_start", half_term.start, None, (), ())
        return merge_plans(plans)
