"""E-mailing the Designated Safeguarding Leads: the one place a DSL alert e-mail becomes outbox rows, and
``alert_dsl``: a case's alert (shown in the app) with its e-mail, for the ladder, reachability and casework.

Every active DSL with an address gets one ready-written e-mail per alert; the idempotency key names the alert and
the DSL, so a retried step or a second scheduler never sends it twice. Callers decide what the alert says (never
a parent's message body) and enqueue the returned ids after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import AbsenceCase, CaseState, DslAlert, OutboxState, StaffRole, StaffUser
from gateway.pipeline.outbox import NewMessage, add_message
from gateway.pipeline.ports import Content

log = logging.getLogger(__name__)


def email_dsls(session: Session, *, key: Callable[[int], str], subject: str, text: str, why: str,
               case_id: int | None = None, pupil_ids: Sequence[int] = ()) -> list[int]:
    """Queue the alert for every active DSL with an address; ``key(dsl_id)`` is each row's idempotency key.
    Returns the outbox ids still to hand to a worker."""
    content = Content(text=text, subject=subject)
    ids: list[int] = []
    dsls = session.scalars(select(StaffUser).where(StaffUser.role == StaffRole.DSL, StaffUser.active.is_(True),
                                                   StaffUser.email.is_not(None))).all()
    for dsl in dsls:
        assert dsl.email is not None
        row = add_message(session, NewMessage(
            idempotency_key=key(dsl.id), kind="dsl_alert", channel="email", to_address=dsl.email, locale="en-GB",
            variant="standard", context={}, case_id=case_id, staff_id=dsl.id, pupil_ids=list(pupil_ids), why=why,
            prerendered=content))
        if row.enqueued_at is None and row.state is OutboxState.QUEUED:
            ids.append(row.id)
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
