"""Casework after a parent answers, as the practice guidance asks: staff tasks shown on Today.

- A **call-back request** (keypad 3, "call me", "who is this?", an empty text) stops the ladder, since the parent
  has engaged, but is not an answer: the case moves to ``call_back`` and a task "Call Mrs Nowak back — asked at
  09:41" stays open until staff record the reason (Inbox) or mark it done (Today). No thank-you is sent. When
  nobody has done so ``callback_dsl_after_minutes`` (config/escalation.toml) after the request and the absence
  is still unexplained, the DSL is alerted (each scheduler tick checks).
- A **welfare concern** in a reply alerts the DSL at once (the case's alert in the app, and by e-mail) and flags
  the case with a task; the reply may still explain the absence.
- An **interpreter** task when routing could only call an adult in English ("Call Mr Ahmed in Somali — needs an
  interpreter"); language names come from Babel, never codes.

Tasks are keyed (``CaseTask.key``), so a retried message or a step run twice never doubles one.
"""

from __future__ import annotations

import logging
import tomllib
from datetime import date, datetime, timedelta

from babel import Locale, UnknownLocaleError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import (
    AbsenceCase,
    Adult,
    CaseState,
    CaseTask,
    InboundMessage,
    TaskKind,
)
from gateway.pipeline.dsl_mail import DslConcern, alert_dsl, email_dsls
from gateway.pipeline.outbox import cancel_pending

log = logging.getLogger(__name__)

DEFAULT_CALLBACK_DSL_AFTER_MINUTES = 60


def adult_label(adult: Adult | None) -> str:
    """How staff name an adult in a task: "Mrs Nowak", else "Anna Nowak"."""
    if adult is None:
        return "an unknown sender"
    return f"{adult.title} {adult.surname}".strip() if adult.title else adult.full_name


def language_name(tag: str | None) -> str:
    """The language's English name for staff ("so" -> "Somali"), via Babel; the tag itself if Babel has none."""
    if not tag:
        return "English"
    try:
        name = Locale.parse(tag.replace("-", "_")).get_language_name("en")
    except (ValueError, UnknownLocaleError):
        return tag
    return name or tag


def _local_time(at: datetime) -> str:
    from gateway.config import get_settings

    return at.astimezone(get_settings().tz).strftime("%H:%M")


def add_task(session: Session, *, key: str, kind: TaskKind, title: str, case_id: int | None = None,
             adult_id: int | None = None, inbound_id: int | None = None, language: str | None = None,
             detail: str | None = None) -> CaseTask:
    """The task with ``key``, created now unless it exists (flushes, no commit)."""
    existing = session.scalar(select(CaseTask).where(CaseTask.key == key))
    if existing is not None:
        return existing
    task = CaseTask(key=key, kind=kind, title=title[:300], case_id=case_id, adult_id=adult_id,
                    inbound_id=inbound_id, language=language, detail=detail[:300] if detail else None,
                    created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(task)
            session.flush()
    except IntegrityError:  # made a moment ago by another worker
        found = session.scalar(select(CaseTask).where(CaseTask.key == key))
        assert found is not None
        return found
    log.info("staff task created", extra={"task_kind": kind.value, "case_id": case_id})
    return task


def call_back_task(session: Session, inbound: InboundMessage, case: AbsenceCase | None, adult: Adult | None,
                   words: tuple[str, ...]) -> CaseTask:
    """The "call them back" task for this request (one per case; per message when there is no case)."""
    key = f"call_back:{case.id}" if case is not None else f"call_back:inbound:{inbound.id}"
    title = f"Call {adult_label(adult)} back — asked at {_local_time(inbound.received_at)}"
    return add_task(session, key=key, kind=TaskKind.CALL_BACK, title=title, case_id=case.id if case else None,
                    adult_id=adult.id if adult else None, inbound_id=inbound.id, detail=", ".join(words))


def request_call_back(session: Session, case: AbsenceCase, adult: Adult | None, inbound: InboundMessage,
                      words: tuple[str, ...]) -> CaseTask:
    """The parent asked to be called and explained nothing: stop the ladder, keep the case open as a task."""
    case.state = CaseState.CALL_BACK
    case.next_step_at = None
    cancelled = cancel_pending(session, case_id=case.id, reason="case_call_back")
    log.info("call-back requested: ladder stopped, case kept open", extra={"case_id": case.id,
                                                                          "cancelled": cancelled})
    return call_back_task(session, inbound, case, adult, words)


def raise_welfare_concern(session: Session, inbound: InboundMessage, case: AbsenceCase | None,
                          adult: Adult | None, words: tuple[str, ...]) -> list[int]:
    """Alert the DSL now (the case's alert in the app, and by e-mail) and flag the case; returns e-mails to
    enqueue. The e-mail names the words that raised it, never the reply itself."""
    from gateway.config import get_settings

    asked = _local_time(inbound.received_at)
    who = adult_label(adult)
    add_task(session, key=f"welfare:{inbound.id}", kind=TaskKind.WELFARE,
             title=f"Welfare concern in a reply from {who} at {asked} — the DSL has been alerted",
             case_id=case.id if case else None, adult_id=adult.id if adult else None, inbound_id=inbound.id,
             detail=", ".join(words))
    public_url = get_settings().public_url
    listed = ", ".join(f"“{word}”" for word in words[:8])
    log.warning("welfare concern in a reply: DSL alerted", extra={"inbound_id": inbound.id,
                                                                  "case_id": case.id if case else None})
    if case is not None:
        names = ", ".join(f"{p.display_forename} {p.surname}" for p in case.pupils)
        text = (f"A reply from {who} at {asked} about {names} (absent {case.date:%A %d %B %Y}) mentions {listed}: "
                f"this may be a welfare concern. Please read it now: {public_url}/inbox")
        return alert_dsl(session, case, concern=DslConcern(
            key=f"welfare:{inbound.id}", reason=f"Welfare concern in a reply at {asked} ({listed})",
            subject=f"Safeguarding: welfare concern in a reply, case {case.id}", text=text, why="welfare concern"))
    text = (f"A message from {who} at {asked} mentions {listed}: this may be a welfare concern. It matches no "
            f"absence today. Please read it now: {public_url}/inbox")
    return email_dsls(session, key=lambda dsl_id: f"dsl-welfare:{inbound.id}:{dsl_id}",
                      subject="Safeguarding: welfare concern in a message", text=text, why="welfare concern")


def interpreter_task(session: Session, case: AbsenceCase, adult: Adult) -> CaseTask:
    """Routing could only call this adult in English: staff should call them with an interpreter."""
    language = adult.language
    return add_task(session, key=f"interpreter:{case.id}:{adult.id}", kind=TaskKind.INTERPRETER,
                    title=f"Call {adult_label(adult)} in {language_name(language)} — needs an interpreter",
                    case_id=case.id, adult_id=adult.id, language=language)


def finish_task(session: Session, task: CaseTask, staff_id: int | None) -> bool:
    """Mark a task done; a call-back's case (still waiting for the call) is closed too. False if already done."""
    from gateway.pipeline.cases import close_case

    if task.done_at is not None:
        return False
    task.done_at, task.done_by = clock.now(), staff_id
    if task.kind is TaskKind.CALL_BACK and task.case_id is not None:
        case = session.get(AbsenceCase, task.case_id)
        if case is not None and case.state is CaseState.CALL_BACK:
            close_case(session, case.id, "staff", staff_id)
    return True


def reason_recorded(session: Session, case_id: int | None, staff_id: int | None) -> int:
    """Staff recorded the reason for a case's reply: its open call-back tasks are done. Returns how many."""
    if case_id is None:
        return 0
    tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.kind == TaskKind.CALL_BACK,
                                                   CaseTask.done_at.is_(None))).all()
    return sum(finish_task(session, task, staff_id) for task in tasks)


def callback_dsl_after_minutes() -> int:
    """``callback_dsl_after_minutes`` from the ladder file (config/escalation.toml), else 60."""
    from gateway.config import get_settings

    try:
        with open(get_settings().escalation_path(), "rb") as handle:
            value = tomllib.load(handle).get("callback_dsl_after_minutes", DEFAULT_CALLBACK_DSL_AFTER_MINUTES)
    except (OSError, tomllib.TOMLDecodeError):
        return DEFAULT_CALLBACK_DSL_AFTER_MINUTES
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        log.warning("callback_dsl_after_minutes is not a whole number of minutes >= 1; using the default")
        return DEFAULT_CALLBACK_DSL_AFTER_MINUTES
    return value


def alert_overdue_call_backs(session: Session, now: datetime) -> list[int]:
    """The scheduler's pass: a call-back nobody made in time alerts the DSL (once). Returns e-mails to enqueue."""

    limit = callback_dsl_after_minutes()
    due = session.scalars(select(CaseTask).where(
        CaseTask.kind == TaskKind.CALL_BACK, CaseTask.done_at.is_(None), CaseTask.dsl_alerted_at.is_(None),
        CaseTask.case_id.is_not(None), CaseTask.created_at <= now - timedelta(minutes=limit))).all()
    ids: list[int] = []
    for task in due:
        case = session.get(AbsenceCase, task.case_id)
        if case is None or case.state is not CaseState.CALL_BACK:
            continue  # explained meanwhile (a later reply, a present mark): the call is still on Today's list
        claimed = session.execute(update(CaseTask).where(CaseTask.id == task.id, CaseTask.dsl_alerted_at.is_(None))
                                  .values(dsl_alerted_at=now).execution_options(synchronize_session=False))
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            continue
        from gateway.config import get_settings

        text = (f"{task.title}, and nobody has recorded the call after {limit} minutes. The parent asked to be "
                f"called; the follow-up has stopped for this family. Please make sure somebody calls: "
                f"{get_settings().public_url}/")
        ids.extend(alert_dsl(session, case, concern=DslConcern(
            key=f"callback:{task.id}", reason=f"{task.title}: not called back after {limit} minutes",
            subject=f"Attendance: a parent asked to be called back, case {case.id}", text=text,
            why="call-back not made")))
        log.info("call-back overdue: DSL alerted", extra={"case_id": case.id, "task_id": task.id})
    return ids


def open_tasks(session: Session, day: date) -> list[CaseTask]:
    """Tasks not done yet that were raised on ``day`` (school-local) or earlier, oldest first."""
    from gateway.config import get_settings

    tz = get_settings().tz
    tasks = session.scalars(select(CaseTask).where(CaseTask.done_at.is_(None))
                            .order_by(CaseTask.created_at, CaseTask.id)).all()
    return [t for t in tasks if t.created_at.astimezone(tz).date() <= day]
