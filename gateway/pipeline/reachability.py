"""When nobody can be reached, the DSL knows at once: a case's reachability, decided by routing's own rules.

A case is *unreachable* the moment no adult in its audience (every parent step of the ladder: the primary
carer, everyone with parental responsibility, the emergency contacts) can be contacted by any channel, now or
at a later step. Hope, in this order:

1. a message of the case still in flight (planned, queued, sending or accepted): it may yet arrive;
2. a message of the case delivered: somebody has been reached, the ladder is only waiting for an answer;
3. a ladder step after the current one whose routing plan has a delivery: somebody will be contacted later.

Whether a step reaches anyone is never judged here: routing plans every parent step for the case's pupils
(``ports.RoutingPort.plan_absence_steps``, the same rules ``advance_case`` plans with: restrictions, STOP,
missing or permanently failed contact points, the channels that failed for this case, sending hours). This
module only counts the plans' deliveries and puts routing's suppressions into words for staff.

When there is no hope the case is marked (``unreachable_at``, ``unreachable_reasons``) and the DSL is alerted
at once (``absence.alert_dsl`` with the reason: a ``DslAlert`` in the app and an e-mail to every DSL), instead
of when the ladder runs out. The words never say more about a restricted adult than "no contact allowed
(safeguarding)", whatever the restriction; the e-mail goes to DSL staff only.

Resuming (staff add a number on the Family page, the DSL approves a contact, a parent texts START): the ladder
is left exactly where it stood while the case is unreachable (never closed, never moved to ``dsl_alerted``;
its empty later steps still run on time and the last one still alerts the DSL as before). Each scheduler tick
looks at today's active cases again. When a step *at or before* the current one now reaches somebody and
nothing else gives hope, the ladder goes back to the latest such step and runs it again at once
(``current_step`` set just before it, ``next_step_at`` now, ``resumes`` + 1 so its outbox keys are new and do
not collide with the failed rows of the first run). The latest such step is the rung where the ladder stood,
or the nearest earlier one whose audience holds the new contact (a parent's new number when the ladder stood
at the emergency contacts). Re-running the step, rather than jumping to the next one, gives the family the
message they missed (a first-day message, not a "we texted you earlier" follow-up), and the later steps follow
at their usual gaps from then. When only a later step reaches somebody, the ladder simply goes on. Either way
``unreachable_at`` is cleared; the DSL's alert stays on record with what was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, ContactPoint, OutboxMessage, OutboxState
from gateway.models.messaging import ACTIVE_CASE_STATES
from gateway.pipeline import ports
from gateway.pipeline.dsl_mail import alert_dsl
from gateway.routing.facts import AdultFacts, Households
from gateway.routing.ladder import EscalationLadder
from gateway.routing.plan import Plan

log = logging.getLogger(__name__)

IN_FLIGHT = frozenset({OutboxState.PLANNED, OutboxState.QUEUED, OutboxState.SENDING, OutboxState.ACCEPTED})
FAILED = frozenset({OutboxState.FAILED, OutboxState.UNDELIVERED})
SAFEGUARDING = "no contact allowed (safeguarding)"
_FORBIDDEN = frozenset({"restricted", "awaiting_dsl_approval"})
# A suppression that says something about the adult (the others only say "not this step").
_TELLING = ("restricted", "awaiting_dsl_approval", "opted_out", "no_usable_contact", "outside_hours")
_FAILURE_WORDS = {
    "not_mobile": "not a mobile", "invalid_number": "not a valid number", "unknown_number": "number not in use",
    "region_not_enabled": "country not enabled", "rejected": "refused by the provider",
    "unreachable": "phone stayed off", "filtered": "blocked by the network", "undeliverable": "not delivered",
    "bounced": "bounced", "recipient_refused": "address refused", "invalid_address": "not a valid address",
    "opted_out": "texted STOP", "gave_up": "kept failing", "no-answer": "not answered", "busy": "line busy",
    "no_answer": "not answered", "canceled": "call cancelled", "not_configured": "channel not set up",
}
_CHANNEL_NOUNS = {"sms": "text", "email": "e-mail", "voice": "call"}


@dataclass(frozen=True)
class Reach:
    """Whether anyone can still be reached, why (``hope``), and the words staff see when nobody can.

    ``hope``: "in_flight", "reached", "later_step", "earlier_step" (only a step at or before the current one
    reaches somebody: the ladder must go back to it) or "none" (unreachable). ``resume_step``: the latest step
    at or before the current one that reaches somebody, where a resumed ladder starts again."""

    hope: str
    resume_step: int | None = None
    reasons: tuple[str, ...] = ()

    @property
    def reachable(self) -> bool:
        return self.hope != "none"


def assess(session: Session, case: AbsenceCase, ladder: EscalationLadder, now: datetime,
           states: Iterable[OutboxState] | None = None) -> Reach:
    """How the case stands (``states``: its parent messages' states, when the caller already has them)."""
    if states is None:
        states = session.scalars(select(OutboxMessage.state).where(
            OutboxMessage.case_id == case.id, OutboxMessage.kind != "dsl_alert",
            OutboxMessage.adult_id.is_not(None))).all()
    seen = set(states)
    if seen & IN_FLIGHT:
        return Reach("in_flight")
    if OutboxState.DELIVERED in seen:
        return Reach("reached")
    steps = [s.number for s in ladder.steps if s.audience != "dsl"]
    pupil_ids = [p.id for p in case.pupils]
    households, plans = ports.current().routing.plan_absence_steps(
        session, pupil_ids=pupil_ids, on=case.date, steps=steps, now=now, ladder=ladder,
        exclude_channels=failed_channels_today(session, case))
    reaching = [plan.step for plan in plans if plan.deliveries and plan.step is not None]
    again = max((step for step in reaching if step <= case.current_step), default=None)
    if any(step > case.current_step for step in reaching):
        return Reach("later_step", resume_step=again)
    if again is not None:
        return Reach("earlier_step", resume_step=again)
    return Reach("none", reasons=tuple(_reasons(session, case, households, plans, pupil_ids)))


def check_case(session: Session, case: AbsenceCase, ladder: EscalationLadder, now: datetime,
               states: Iterable[OutboxState] | None = None) -> list[int]:
    """Assess an active case that has started its ladder and act: alert the DSL the moment it becomes
    unreachable, resume the ladder when it is reachable again. Returns outbox ids to enqueue after commit."""
    if case.state not in ACTIVE_CASE_STATES or case.current_step < 1:
        return []
    reach = assess(session, case, ladder, now, states)
    if not reach.reachable:
        return _mark_unreachable(session, case, reach, now)
    if reach.resume_step is not None and (case.unreachable_at is not None or reach.hope == "earlier_step"):
        _resume(session, case, reach.resume_step, now)
    elif case.unreachable_at is not None:
        case.unreachable_at, case.unreachable_reasons = None, []
        log.info("case reachable again", extra={"case_id": case.id, "hope": reach.hope})
    return []


def check_active_cases(session: Session, on: date, now: datetime) -> list[int]:
    """The scheduler's pass: check every active case of day ``on`` that has started its ladder (a permanent
    failure a status callback recorded is noticed here, within one tick). Returns outbox ids to enqueue."""
    cases = session.scalars(select(AbsenceCase).where(
        AbsenceCase.date == on, AbsenceCase.state.in_(ACTIVE_CASE_STATES), AbsenceCase.current_step >= 1)
        .order_by(AbsenceCase.id)).all()
    if not cases:
        return []
    states: dict[int, list[OutboxState]] = {case.id: [] for case in cases}
    for case_id, state in session.execute(select(OutboxMessage.case_id, OutboxMessage.state).where(
            OutboxMessage.case_id.in_(list(states)), OutboxMessage.kind != "dsl_alert",
            OutboxMessage.adult_id.is_not(None))):
        if case_id is not None:
            states[case_id].append(state)
    ladder = ports.current().ladder()
    ids: list[int] = []
    for case in cases:
        if set(states[case.id]) & IN_FLIGHT and case.unreachable_at is None:
            continue  # the common case, decided without planning
        try:
            with session.begin_nested():  # one family's problem never holds up the others
                ids.extend(check_case(session, case, ladder, now, states[case.id]))
        except Exception:
            log.exception("reachability check failed; retrying next tick", extra={"case_id": case.id})
    return ids


def _mark_unreachable(session: Session, case: AbsenceCase, reach: Reach, now: datetime) -> list[int]:
    reasons = list(reach.reasons)
    if case.unreachable_at is not None:
        if case.unreachable_reasons != reasons:
            case.unreachable_reasons = reasons  # what is missing changed; the DSL already knows nobody answers
        return []
    # Compare-and-set: a tick and a step run by hand never both alert for the same moment.
    result = session.execute(
        update(AbsenceCase).where(AbsenceCase.id == case.id, AbsenceCase.unreachable_at.is_(None),
                                  AbsenceCase.state.in_(ACTIVE_CASE_STATES))
        .values(unreachable_at=now, unreachable_reasons=reasons).execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return []
    session.refresh(case)
    log.warning("nobody can be reached: DSL alerted", extra={"case_id": case.id, "step": case.current_step})
    return alert_dsl(session, case, reason="; ".join(reasons))


def _resume(session: Session, case: AbsenceCase, step: int, now: datetime) -> None:
    """Send the ladder back to just before ``step`` and due now, so the next pass runs that step again."""
    result = session.execute(
        update(AbsenceCase).where(AbsenceCase.id == case.id, AbsenceCase.current_step == case.current_step,
                                  AbsenceCase.state.in_(ACTIVE_CASE_STATES))
        .values(current_step=step - 1, next_step_at=now, unreachable_at=None, unreachable_reasons=[],
                resumes=AbsenceCase.resumes + 1)
        .execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) == 1:
        log.info("ladder resumed: someone can be reached again", extra={"case_id": case.id, "step": step})
    session.refresh(case)


def failed_channels_today(session: Session, case: AbsenceCase) -> dict[int, set[str]]:
    """Per adult, the channels that failed for this case (routing excludes them).

    Only failures routing's own contact-point rules do not already cover: a point marked permanently failed
    (or, for texts, opted out), or since removed, is left out by routing itself, so the channel stays open for
    the adult's other points (a working number the office adds once the first one failed)."""
    rows = session.execute(
        select(OutboxMessage.adult_id, OutboxMessage.channel, ContactPoint.id,
               ContactPoint.last_permanent_failure_at, ContactPoint.opted_out_at)
        .outerjoin(ContactPoint, ContactPoint.id == OutboxMessage.contact_point_id)
        .where(OutboxMessage.case_id == case.id,
               OutboxMessage.state.in_((OutboxState.FAILED, OutboxState.UNDELIVERED)))).all()
    excluded: dict[int, set[str]] = {}
    for adult_id, channel, point_id, failed_at, opted_out_at in rows:
        if point_id is None or failed_at is not None or (channel == "sms" and opted_out_at is not None):
            continue
        if adult_id is not None:
            excluded.setdefault(adult_id, set()).add(channel)
    return excluded


# Words ---------------------------------------------------------------------------------------------------
def _reasons(session: Session, case: AbsenceCase, households: Households, plans: Sequence[Plan],
             pupil_ids: list[int]) -> list[str]:
    """Per adult linked to the case's pupils, why routing will not contact them, in words; then what is missing."""
    adult_ids: list[int] = []
    responsible: set[int] = set()
    for pupil_id in pupil_ids:
        for link in households.links_of_pupil(pupil_id):
            if link.adult_id in households.adults and link.adult_id not in adult_ids:
                adult_ids.append(link.adult_id)
            if link.parental_responsibility or link.carer_at_home:
                responsible.add(link.adult_id)  # parental responsibility, or lives with and cares for the pupil
    responsible &= set(adult_ids)
    adult_ids.sort(key=lambda a: a not in responsible)  # people with parental responsibility first
    why: dict[int, tuple[str, str]] = {}
    for plan in plans:
        for entry in plan.suppressed:
            if entry.reason in _TELLING and (entry.adult_id not in why or
                                             _TELLING.index(entry.reason) < _TELLING.index(why[entry.adult_id][0])):
                why[entry.adult_id] = (entry.reason, entry.detail)
    failure_reasons: dict[int, str | None] = {point_id: reason for point_id, reason in session.execute(
        select(ContactPoint.id, ContactPoint.last_failure_reason).where(ContactPoint.adult_id.in_(adult_ids)))}
    failed_rows: dict[int, list[tuple[str, str | None, int | None]]] = {}
    for adult_id, channel, reason, point_id in session.execute(select(
            OutboxMessage.adult_id, OutboxMessage.channel, OutboxMessage.error_reason, OutboxMessage.contact_point_id)
            .where(OutboxMessage.case_id == case.id, OutboxMessage.state.in_(FAILED))
            .order_by(OutboxMessage.id)):
        if adult_id is not None:
            failed_rows.setdefault(adult_id, []).append((channel, reason, point_id))
    lines: list[str] = []
    for adult_id in adult_ids:
        adult = households.adults[adult_id]
        reason = why.get(adult_id, ("", ""))[0]
        if reason in _FORBIDDEN or households.standing(adult_id).forbidden_reason is not None:
            words = SAFEGUARDING  # never more than this, whatever the restriction is
        elif reason == "outside_hours":
            words = "nothing more may be sent today"
        else:
            words = _contact_words(adult, failure_reasons, failed_rows.get(adult_id, []))
        lines.append(f"{_name(adult)}: {words}")
    if not responsible:
        lines.append("nobody with parental responsibility on file")
    if not set(adult_ids) - responsible:
        lines.append("no emergency contact on file")
    return lines


def _name(adult: AdultFacts) -> str:
    return f"{adult.title} {adult.surname}".strip() if adult.title else adult.full_name or "a contact"


def _failure(reason: str | None) -> str:
    return _FAILURE_WORDS.get(reason or "", (reason or "").replace("_", " "))


def _contact_words(adult: AdultFacts, failure_reasons: dict[int, str | None],
                   failed_rows: list[tuple[str, str | None, int | None]]) -> str:
    """What is wrong with the adult's phone numbers and e-mail addresses (routing found none usable)."""
    if not adult.contact_points:
        return "no phone number or e-mail on file"
    parts: list[str] = []
    failed_points: set[int] = set()
    for point in sorted(adult.contact_points, key=lambda p: (p.position, p.id)):
        noun = "e-mail" if point.kind == "email" else "number"
        if point.blocked_by_restriction is not None:
            parts.append(f"{noun}: {SAFEGUARDING}")  # held by an adult who may not be contacted: no more said
        elif point.permanently_failed:
            failed_points.add(point.id)
            words = _failure(failure_reasons.get(point.id))
            parts.append(f"{noun} failed ({words})" if words else f"{noun} failed")
        elif point.opted_out:
            parts.append("texted STOP")
    for channel, reason, point_id in failed_rows:
        if point_id not in failed_points:
            words = _failure(reason)
            parts.append(f"{_CHANNEL_NOUNS.get(channel, channel)} failed today" + (f" ({words})" if words else ""))
    if not any(p.kind == "email" for p in adult.contact_points) and parts:
        parts.append("no e-mail on file")
    return ", ".join(dict.fromkeys(parts)) or "no usable phone number or e-mail"
