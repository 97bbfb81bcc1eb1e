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
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    AbsenceCase,
    Adult,
    CaseState,
    ContactPoint,
    DslAlert,
    OutboxMessage,
    OutboxState,
)
from gateway.models.messaging import ACTIVE_CASE_STATES
from gateway.pipeline import collaborators, reachability
from gateway.pipeline.cases import open_cases
from gateway.pipeline.context import message_context, pupils_by_id
from gateway.pipeline.dsl_mail import email_dsls
from gateway.pipeline.outbox import NewMessage, add_message, enqueue_sends, mark_enqueued
from gateway.routing.facts import AdultFacts
from gateway.routing.reach import ChannelChoice

log = logging.getLogger(__name__)
PARENT_KINDS = ("absence_first_day", "absence_followup")
STEP_RETRY_MINUTES = 5


@dataclass
class StartSummary:
    """What ``start_followup`` did: cases opened and messages queued."""

    date: date
    cases_opened: int = 0
    messages_queued: int = 0
    case_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "cases_opened": self.cases_opened,
                "messages_queued": self.messages_queued, "case_ids": self.case_ids}


def start_followup(session: Session, on: date, staff_id: int | None = None) -> StartSummary:
    """Open ``on``'s cases and run every step now due. Commits ``session``, then hands the messages to workers."""
    from gateway.pipeline.followup_start import mark_started

    summary = StartSummary(on)
    mark_started(session, on, staff_id=staff_id)  # from now on the scheduler also opens later N marks' cases
    cases = open_cases(session, on, staff_id=staff_id)
    summary.cases_opened = len(cases)
    summary.case_ids = [c.id for c in cases]
    ids = run_due_steps(session, clock.now(), case_ids=summary.case_ids)
    session.commit()
    summary.messages_queued = enqueue_sends(ids)
    return summary


def run_due_steps(session: Session, now: datetime, *, case_ids: list[int] | None = None,
                  on: date | None = None) -> list[int]:
    """Run the next step of every active case (of ``case_ids``, or of day ``on``) whose ``next_step_at`` has
    come; return outbox ids to enqueue once the caller has committed."""
    query = select(AbsenceCase.id).where(AbsenceCase.state.in_(ACTIVE_CASE_STATES),
                                         AbsenceCase.next_step_at <= now)
    if case_ids is not None:
        query = query.where(AbsenceCase.id.in_(case_ids))
    if on is not None:  # a ladder is a same-day thing: yesterday's unfinished steps are not sent today
        query = query.where(AbsenceCase.date == on)
    ladder = collaborators.load_ladder()
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
    return mark_enqueued(session, ids)


def _claim_step(session: Session, case_id: int, step: int, next_at: datetime | None) -> bool:
    result = session.execute(
        update(AbsenceCase)
        .where(AbsenceCase.id == case_id, AbsenceCase.current_step == step - 1,
               AbsenceCase.state.in_(ACTIVE_CASE_STATES))
        .values(current_step=step, next_step_at=next_at).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _next_step_at(ladder: Any, case: AbsenceCase, step: int, now: datetime) -> datetime | None:
    """When step ``step + 1`` falls due: its ladder time, but never sooner than its gap after this step."""
    from gateway.config import get_settings

    if step >= len(ladder.steps):
        return None
    this, following = ladder.step(step), ladder.step(step + 1)
    due: datetime = ladder.step_due(case.date, following, get_settings().tz)
    return max(due, now + timedelta(minutes=following.after_minutes - this.after_minutes))


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


def tried_channels(session: Session, case: AbsenceCase) -> dict[int, set[str]]:
    """Per adult, the channels earlier steps of this case used (a "next" step moves on from them)."""
    rows = session.execute(select(OutboxMessage.adult_id, OutboxMessage.channel).where(
        OutboxMessage.case_id == case.id, OutboxMessage.kind != "dsl_alert")).all()
    tried: dict[int, set[str]] = {}
    for adult_id, channel in rows:
        if adult_id is not None:
            tried.setdefault(adult_id, set()).add(channel)
    return tried


def advance_case(session: Session, case_id: int, ladder: Any, now: datetime) -> list[int]:
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
    plan = collaborators.plan_absence(
        session, pupil_ids=pupil_ids, on=case.date, step=step, now=now,
        exclude_channels=failed_channels_today(session, case), tried_channels=tried_channels(session, case),
        continuing_pupil_ids=set(pupil_ids) if case.days_absent > 1 else set())
    ids: list[int] = []
    again = f":r{case.resumes}" if case.resumes else ""  # a step run again after the case was unreachable
    for delivery in plan.deliveries:
        kind = delivery.message_kind or ladder_step.kind
        extra: dict[str, Any] = {}
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
        if getattr(delivery, "needs_interpreter", False) and adult is not None:
            from gateway.pipeline.casework import interpreter_task

            interpreter_task(session, case, adult)  # the call speaks English: staff call with an interpreter
        # A row due later (routing's send_at) is left for the scheduler to hand over when its time comes.
        if row.state is OutboxState.QUEUED and row.enqueued_at is None and (
                row.send_after is None or row.send_after <= now):
            ids.append(row.id)
    if ladder_step.audience == "emergency":
        case.state = CaseState.ESCALATED
    if getattr(plan, "alert_dsl", False) and step == len(ladder.steps):
        ids.extend(alert_dsl(session, case))
    # Nobody left to reach, now or later? Then the DSL hears of it now, not when the ladder runs out.
    ids.extend(reachability.check_case(session, case, ladder, now))
    log.info("ladder step run", extra={"case_id": case.id, "step": step, "messages": len(ids)})
    return ids


@dataclass(frozen=True)
class DslConcern:
    """A reason to alert the DSL that is not the ladder's own (``gateway.pipeline.casework``: a welfare concern
    in a reply, a call-back nobody made in time). ``key`` is unique per occurrence ("welfare:12")."""

    key: str
    reason: str  # shown in the app, on the case's alert
    subject: str
    text: str
    why: str


def alert_dsl(session: Session, case: AbsenceCase, reason: str | None = None, *,
              concern: DslConcern | None = None) -> list[int]:
    """Record the DSL alert (shown in the app) and e-mail every DSL with an address. Idempotent per case.

    With ``concern`` the alert carries its reason and text and the case's state and ladder are left alone.

    Without ``reason`` the ladder has run out: the case moves to ``dsl_alerted`` (no e-mail again when the DSL
    was already told that nobody can be reached and nothing has changed since). With ``reason`` (per adult, in
    words that never say more of a restriction than "no contact allowed (safeguarding)"), nobody can be
    reached now (``gateway.pipeline.reachability``): the DSL is told at once and the ladder is left where it
    stands, so it resumes if somebody becomes reachable again."""
    from gateway.config import get_settings

    now = clock.now()
    alert = session.scalar(select(DslAlert).where(DslAlert.case_id == case.id))
    if concern is not None:  # a welfare concern or a call-back not made: it needs the DSL's attention (again)
        if alert is None:
            session.add(DslAlert(case_id=case.id, created_at=now, concern=concern.reason[:300]))
        else:
            alert.concern, alert.created_at = concern.reason[:300], now
            alert.acknowledged_at, alert.acknowledged_by = None, None
    elif alert is None:
        session.add(DslAlert(case_id=case.id, created_at=now, reason=reason))
    elif reason is not None:  # unreachable again after a resume: it needs the DSL's attention again
        alert.reason, alert.created_at, alert.acknowledged_at, alert.acknowledged_by = reason, now, None, None
    names = ", ".join(f"{p.display_forename} {p.surname}" for p in case.pupils)
    public_url = get_settings().public_url
    if concern is not None:
        key, why, text, subject = f":{concern.key}", concern.why, concern.text, concern.subject
    elif reason is None:
        case.state = CaseState.DSL_ALERTED
        case.next_step_at = None
        if case.unreachable_at is not None:
            log.info("DSL alerted (already told nobody can be reached)", extra={"case_id": case.id})
            return []
        key, why = "", "ladder ran out"
        text = (f"Nobody has explained the absence of {names} on {case.date:%A %d %B %Y}, and the follow-up "
                f"ladder has run out. Please consider the case: {public_url}/cases/{case.id}")
        subject = f"Attendance: unexplained absence, case {case.id}"
    else:
        key, why = f":unreachable:{case.resumes}", "nobody can be reached"
        lines = "\n".join(f"- {line}" for line in reason.split("; "))
        family = f"{public_url}/families/{case.pupils[0].id}" if case.pupils else public_url
        text = (f"Nobody can be reached about the unexplained absence of {names} on {case.date:%A %d %B %Y}:\n"
                f"{lines}\n\nThe follow-up cannot contact anyone, so you are told now rather than when it runs "
                f"out. Please consider the case (a home visit when no contact can be made). Contact details can "
                f"be fixed on the family page, and the follow-up resumes by itself: {family}")
        subject = f"Attendance: nobody can be reached, case {case.id}"
    ids = email_dsls(session, key=lambda dsl_id: f"dsl:{case.id}:{dsl_id}{key}", subject=subject, text=text,
                     why=why, case_id=case.id, pupil_ids=[p.id for p in case.pupils])
    log.info("DSL alerted", extra={"case_id": case.id, "emails": len(ids), "why": why})
    return ids


def send_one_off(session: Session, *, adult_id: int, kind: str, pupil_ids: list[int], on: date,
                 staff_id: int, channel: str | None = None, extra: dict[str, Any] | None = None) -> int | None:
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
    recipient = collaborators.load_recipient(session, adult_id, pupil_ids)
    if recipient is None or recipient.forbidden is not None:
        return None
    # Routing decides the channel, the address, the locale and the variant (as the ladder would).
    choice = one_off_choice(recipient.adult, recipient.pupils, collaborators.locale_capabilities(), channel)
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
    mark_enqueued(session, [row.id])
    session.commit()
    enqueue_sends([row.id])
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
