"""The first-day response ladder: each step of an open case plans through routing and fills the outbox.

``start_followup`` (``gateway absences start``, the Start button on Today; the scheduler at the ladder's
``auto_start`` when nobody has pressed it, see ``followup_start``) opens the day's cases and runs their first
step; the scheduler runs later steps when ``next_step_at`` comes.
A step is claimed with a compare-and-set on ``current_step``, so two schedulers never run it twice; its
outbox rows carry the key ``{case}:{step}:{adult}:{channel}`` as a second guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    AbsenceCase,
    Adult,
    CaseState,
    OutboxMessage,
    OutboxState,
)
from gateway.models.messaging import ACTIVE_CASE_STATES
from gateway.pipeline import ports, reachability
from gateway.pipeline.cases import open_cases
from gateway.pipeline.context import message_context, pupils_by_id
from gateway.pipeline.dsl_mail import alert_dsl
from gateway.pipeline.outbox import NewMessage, add_message, send_after_commit
from gateway.pipeline.reachability import failed_channels_today
from gateway.routing.facts import AdultFacts
from gateway.routing.ladder import EscalationLadder
from gateway.routing.reach import ChannelChoice

log = logging.getLogger(__name__)
PARENT_KINDS = ("absence_first_day", "absence_followup")
STEP_RETRY_MINUTES = 5
CONTACTED_STATES = (OutboxState.SENDING, OutboxState.ACCEPTED, OutboxState.DELIVERED)


@dataclass
class StartSummary:
    """What ``start_followup`` did: cases opened and messages queued."""

    date: date
    cases_opened: int = 0
    messages_queued: int = 0
    case_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"date": self.date.isoformat(), "cases_opened": self.cases_opened,
                "messages_queued": self.messages_queued, "case_ids": self.case_ids}


def start_followup(session: Session, on: date, staff_id: int | None = None) -> StartSummary:
    """Open ``on``'s cases and run every step now due. Commits ``session`` (the messages go to the workers then)."""
    from gateway.pipeline.followup_start import mark_started

    summary = StartSummary(on)
    mark_started(session, on, staff_id=staff_id)  # from now on the scheduler also opens later N marks' cases
    cases = open_cases(session, on, staff_id=staff_id)
    summary.cases_opened = len(cases)
    summary.case_ids = [c.id for c in cases]
    ids = run_due_steps(session, clock.now(), case_ids=summary.case_ids)
    session.commit()
    summary.messages_queued = len(ids)
    return summary


def run_due_steps(session: Session, now: datetime, *, case_ids: list[int] | None = None,
                  on: date | None = None) -> list[int]:
    """Run the next step of every active case (of ``case_ids``, or of day ``on``) whose ``next_step_at`` has
    come; return the outbox ids handed to the workers when the caller commits."""
    query = select(AbsenceCase.id).where(AbsenceCase.state.in_(ACTIVE_CASE_STATES),
                                         AbsenceCase.next_step_at <= now)
    if case_ids is not None:
        query = query.where(AbsenceCase.id.in_(case_ids))
    if on is not None:  # a ladder is a same-day thing: yesterday's unfinished steps are not sent today
        query = query.where(AbsenceCase.date == on)
    ladder = ports.current().ladder()
    ids: list[int] = []
    for case_id in session.scalars(query.order_by(AbsenceCase.id)).all():
        try:
            with session.begin_nested():  # one family's problem (a template error) never blocks the others
                ids.extend(advance_case(session, case_id, ladder, now))
        except Exception:
            log.exception("ladder step failed; retrying in a few minutes", extra={"case_id": case_id})
            session.execute(update(AbsenceCase).where(AbsenceCase.id == case_id)
                            .values(next_step_at=now + timedelta(minutes=STEP_RETRY_MINUTES))
                            .execution_options(synchronize_session=False))
    return send_after_commit(session, ids)


def _claim_step(session: Session, case_id: int, step: int, next_at: datetime | None) -> bool:
    result = session.execute(
        update(AbsenceCase)
        .where(AbsenceCase.id == case_id, AbsenceCase.current_step == step - 1,
               AbsenceCase.state.in_(ACTIVE_CASE_STATES))
        .values(current_step=step, next_step_at=next_at).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _next_step_at(ladder: EscalationLadder, case: AbsenceCase, step: int, now: datetime) -> datetime | None:
    """When step ``step + 1`` falls due: its ladder time, but never sooner than its gap after this step."""
    from gateway.config import get_settings

    if step >= len(ladder.steps):
        return None
    this, following = ladder.step(step), ladder.step(step + 1)
    due: datetime = ladder.step_due(case.date, following, get_settings().tz)
    return max(due, now + timedelta(minutes=following.after_minutes - this.after_minutes))


def tried_channels(session: Session, case: AbsenceCase) -> dict[int, set[str]]:
    """Per adult, the channels earlier steps of this case used (a "next" step moves on from them)."""
    rows = session.execute(select(OutboxMessage.adult_id, OutboxMessage.channel).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind != "dsl_alert")).all()
    tried: dict[int, set[str]] = {}
    for adult_id, channel in rows:
        if adult_id is not None:
            tried.setdefault(adult_id, set()).add(channel)
    return tried


def contacted_adults(session: Session, case: AbsenceCase) -> set[int]:
    """The adults this case has already reached today: a message to them was sent, accepted or delivered
    (routing words a later step "we have still not heard" only for them)."""
    return {adult_id for adult_id in session.scalars(select(OutboxMessage.adult_id).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind != "dsl_alert",
        OutboxMessage.state.in_(CONTACTED_STATES))) if adult_id is not None}


def advance_case(session: Session, case_id: int, ladder: EscalationLadder, now: datetime) -> list[int]:
    """Claim and run the case's next step; return the outbox ids it queued (empty when already done)."""
    case = session.get(AbsenceCase, case_id)
    if case is None or case.state not in ACTIVE_CASE_STATES:
        return []
    step = case.current_step + 1
    if step > len(ladder.steps):
        return []
    if not _claim_step(session, case_id, step, _next_step_at(ladder, case, step, now)):
        return []
    session.refresh(case)
    ladder_step = ladder.step(step)
    if ladder_step.audience == "dsl":
        return alert_dsl(session, case)
    pupil_ids = [p.id for p in case.pupils]
    plan = ports.current().routing.plan_absence(
        session, pupil_ids=pupil_ids, on=case.date, step=step, now=now, ladder=ladder,
        exclude_channels=failed_channels_today(session, case), tried_channels=tried_channels(session, case),
        continuing_pupil_ids=set(pupil_ids) if case.days_absent > 1 else set(),
        contacted_adult_ids=contacted_adults(session, case))
    ids: list[int] = []
    again = f":r{case.resumes}" if case.resumes else ""  # a step run again after the case was unreachable
    for delivery in plan.deliveries:
        kind = delivery.message_kind or ladder_step.kind
        extra: dict[str, object] = {}
        if case.days_absent > 1 and kind in PARENT_KINDS:  # every later day of the same absence
            kind = ladder.continuing_kind
        if kind == ladder.continuing_kind:
            extra["days_absent"] = case.days_absent
        adult = session.get(Adult, delivery.adult_id)
        pupils = pupils_by_id(session, list(delivery.pupil_ids))
        row = add_message(session, NewMessage(
            idempotency_key=f"{case.id}:{step}:{delivery.adult_id}:{delivery.channel}{again}", kind=kind,
            channel=delivery.channel, to_address=delivery.to, locale=delivery.locale, variant=delivery.variant,
            context=message_context(session, adult=adult, pupils=pupils, on=case.date, **extra),
            adult_id=delivery.adult_id, contact_point_id=delivery.contact_point_id, case_id=case.id, step=step,
            pupil_ids=list(delivery.pupil_ids), why=delivery.why, fallback_channels=list(delivery.fallback_channels),
            same_day=True, send_after=delivery.send_at))
        if delivery.needs_interpreter and adult is not None:
            from gateway.pipeline.casework import interpreter_task

            interpreter_task(session, case, adult)  # the call speaks English: staff call with an interpreter
        # A row due later (routing's send_at) is left for the scheduler to hand over when its time comes.
        if row.state is OutboxState.QUEUED and row.enqueued_at is None and (
                row.send_after is None or row.send_after <= now):
            ids.append(row.id)
    if ladder_step.audience == "emergency":
        case.state = CaseState.ESCALATED
    if plan.alert_dsl and step == len(ladder.steps):
        ids.extend(alert_dsl(session, case))
    # Nobody left to reach, now or later? Then the DSL hears of it now, not when the ladder runs out.
    ids.extend(reachability.check_case(session, case, ladder, now))
    log.info("ladder step run", extra={"case_id": case.id, "step": step, "messages": len(ids)})
    return ids


def send_one_off(session: Session, *, adult_id: int, kind: str, pupil_ids: list[int], on: date,
                 staff_id: int, channel: str | None = None, extra: dict[str, object] | None = None) -> int | None:
    """A staff-initiated message of ``kind`` to one adult, rendered in the adult's language, sent now.

    Uses ``channel`` or the adult's first usable preferred channel. Commits and enqueues; returns the outbox id
    (None when the adult has no usable contact point). Raises ContactRestricted for a restricted adult, and
    (reason ``shared_with_restricted``) when the only fitting address is held by an adult who may not be
    contacted: an address held by a restricted adult is never used, whoever's record it is on."""
    from gateway.routing.reach import SHARED_WITH_RESTRICTED_DETAIL, Unreachable
    from gateway.routing.recipient import one_off_choice
    from gateway.safeguarding import SHARED_WITH_RESTRICTED, ContactRestricted, ensure_contactable

    adult = session.get(Adult, adult_id)
    if adult is None:
        return None
    ensure_contactable(session, adult_id)
    used = ports.current()
    recipient = used.routing.recipient(session, adult_id, pupil_ids)
    if recipient is None or recipient.forbidden is not None:
        return None
    # Routing decides the channel, the address, the locale and the variant (as the ladder would).
    choice = one_off_choice(recipient.adult, recipient.pupils, used.capabilities(), channel)
    if isinstance(choice, Unreachable):
        if SHARED_WITH_RESTRICTED_DETAIL in choice.detail or held_addresses(session, adult_id):
            # The only addresses that would do are also held by an adult who may not be contacted: refused, not
            # merely "no contact" (the office typed the barred father's number onto this record).
            raise ContactRestricted(adult_id, SHARED_WITH_RESTRICTED)
        return None
    pupils = pupils_by_id(session, pupil_ids)
    now = clock.now()
    row = add_message(session, NewMessage(
        idempotency_key=f"oneoff:{staff_id}:{adult_id}:{kind}:{now.isoformat()}", kind=kind,
        channel=choice.channel, to_address=choice.point.value, locale=choice.locale, variant=choice.variant,
        context=message_context(session, adult=adult, pupils=pupils, on=on, **(extra or {})),
        adult_id=adult_id, contact_point_id=choice.point.id, staff_id=staff_id, pupil_ids=pupil_ids,
        why=f"sent by staff; {choice.why}", fallback_channels=_one_off_fallbacks(recipient.adult, choice, channel)))
    send_after_commit(session, [row.id])
    session.commit()
    return row.id


def _one_off_fallbacks(adult: AdultFacts, choice: ChannelChoice, channel: str | None) -> list[str]:
    """Where a one-off goes if its channel fails: routing's fallbacks, or (for a channel staff chose) the
    adult's other channels in their order; ``plan_fallback`` asks routing again which can be used."""
    from gateway.routing.reach import channel_order

    if channel is None:
        return list(choice.fallback_channels)
    return [c for c in channel_order(adult)[0] if c != choice.channel]


def held_addresses(session: Session, adult_id: int) -> dict[str, str]:
    """This adult's addresses that are also held by an adult who may not be contacted (key -> reason)."""
    from gateway.models import ContactPoint
    from gateway.safeguarding import blocked_addresses

    values = session.scalars(select(ContactPoint.value).where(ContactPoint.adult_id == adult_id)).all()
    return blocked_addresses(session, values) if values else {}
