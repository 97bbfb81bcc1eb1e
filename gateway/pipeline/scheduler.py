"""``gateway scheduler``: the clock of the pipeline. Finds due work in the database and hands it to workers.

Each tick (every few seconds of *real* time; what is due is judged in gateway time, ``gateway.clock.now()``),
under the ``scheduler`` lease, it:
1. opens the day's absence cases once the office has started the day's follow-up (or, when nobody has by
   the ladder's ``auto_start``, starts it itself and says so; school days only), and closes those whose
   pupils have since been marked present;
2. checks that somebody can still be reached for each of today's active cases (``reachability``): the DSL is
   alerted at once when nobody can (a permanent failure a status callback recorded is noticed here), and a
   case reachable again resumes its ladder; then runs ladder steps whose ``next_step_at`` has come;
3. enqueues queued outbox rows whose ``send_after`` has come and that no worker holds (never enqueued, or
   enqueued so long ago that the broker or a dead worker must have lost them);
4. hands rows stuck in ``sending`` to the reconciler;
5. plans and releases milestone messages;
6. alerts the DSL about call-back requests nobody has dealt with in time (``casework``).

The lease is a row in ``lease`` taken with one atomic ``UPDATE … WHERE expires_at < now OR holder = me``
(or an INSERT when the row is missing), so two schedulers never tick at once; and every step is itself
idempotent, so even a lease lost mid-tick cannot double a message.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.config import get_settings
from gateway.db import session_scope
from gateway.models import InsetDay, Lease
from gateway.pipeline.outbox import due_for_enqueue, enqueue_sends, mark_enqueued, real_now

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 30.0


def make_holder() -> str:
    """A name unique to this process, for the lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(holder: str, *, name: str = LEASE_NAME, seconds: float = LEASE_SECONDS) -> bool:
    """Take or renew the named lease for ``holder``; False while another holder's lease has not expired."""
    now = real_now()
    expires = now + timedelta(seconds=seconds)
    with session_scope() as session:
        result = session.execute(
            update(Lease).where(Lease.name == name, (Lease.expires_at < now) | (Lease.holder == holder))
            .values(holder=holder, expires_at=expires).execution_options(synchronize_session=False))
        if int(getattr(result, "rowcount", 0) or 0) == 1:
            return True
    try:
        with session_scope() as session:
            if session.get(Lease, name) is not None:
                return False
            session.add(Lease(name=name, holder=holder, expires_at=expires))
    except IntegrityError:  # another scheduler created it first
        return False
    return True


def release_lease(holder: str, *, name: str = LEASE_NAME) -> None:
    """Give the lease up at shutdown so another scheduler takes over at once."""
    with session_scope() as session:
        session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                        .values(expires_at=real_now() - timedelta(seconds=1))
                        .execution_options(synchronize_session=False))


@dataclass
class TickReport:
    """What one tick did (for logs and tests)."""

    cases_opened: int = 0
    unreachable_alerts: int = 0  # DSL e-mails about cases nobody can be reached for
    step_messages: int = 0
    enqueued: int = 0
    reconciling: int = 0
    milestone_messages: int = 0
    call_back_alerts: int = 0  # DSL e-mails about call-backs nobody made in time (pipeline.casework)


def _is_school_day(session: Session, now: datetime) -> bool:
    today = now.astimezone(get_settings().tz).date()
    if today.weekday() >= 5:
        return False
    return session.query(InsetDay.id).filter(InsetDay.date == today).first() is None


def tick(now: datetime | None = None) -> TickReport:
    """One pass over the database (call only while holding the lease)."""
    from gateway.pipeline import collaborators
    from gateway.pipeline.absence import run_due_steps
    from gateway.pipeline.cases import open_cases, sweep_present_cases
    from gateway.pipeline.delivery import stuck_messages
    from gateway.pipeline.followup_start import ready_to_open
    from gateway.pipeline.milestones import plan_and_release
    from gateway.pipeline.reachability import check_active_cases

    now = now or clock.now()
    report = TickReport()
    tz = get_settings().tz
    with session_scope() as session:
        ladder = collaborators.load_ladder()
        local = now.astimezone(tz)
        if _is_school_day(session, now) and local.time() >= ladder.registers_close and ready_to_open(
                session, local.date(), local, ladder):
            report.cases_opened = len(open_cases(session, local.date()))
        sweep_present_cases(session, local.date())
        alert_ids = mark_enqueued(session, check_active_cases(session, local.date(), now))
        report.unreachable_alerts = len(alert_ids)
        step_ids = run_due_steps(session, now, on=local.date())
        report.step_messages = len(step_ids)
    enqueue_sends(alert_ids + step_ids)
    try:
        with session_scope() as session:
            milestone_ids = mark_enqueued(session, plan_and_release(session, now))
            report.milestone_messages = len(milestone_ids)
        enqueue_sends(milestone_ids)
    except Exception:  # a milestone problem must never hold up today's absence messages below
        log.exception("milestone pass failed")
    try:
        from gateway.pipeline.casework import alert_overdue_call_backs

        with session_scope() as session:
            call_back_ids = mark_enqueued(session, alert_overdue_call_backs(session, now))
            report.call_back_alerts = len(call_back_ids)
        enqueue_sends(call_back_ids)
    except Exception:  # retried next tick; never holds up the sends below
        log.exception("call-back check failed")
    with session_scope() as session:
        stale = get_settings().reenqueue_seconds
        due = mark_enqueued(session, due_for_enqueue(session, now=now, stale_seconds=stale))
    report.enqueued = enqueue_sends(due)
    with session_scope() as session:
        stuck = stuck_messages(session)
    if stuck:
        from gateway.pipeline.actors import reconcile_message

        for outbox_id in stuck:
            reconcile_message.send(outbox_id)
    report.reconciling = len(stuck)
    from gateway.pipeline.email_replies import poll_if_due

    poll_if_due()  # parents' e-mail replies (IMAP_HOST set, every IMAP_POLL_SECONDS); never raises
    return report


def run_scheduler(stop: threading.Event | None = None, *, tick_seconds: float | None = None,
                  holder: str | None = None) -> None:
    """Tick until ``stop`` is set (or SIGTERM/SIGINT when run as the main thread)."""
    from gateway.pipeline.broker import get_pipeline_broker

    get_pipeline_broker()
    stop = stop or threading.Event()
    holder = holder or make_holder()
    interval = tick_seconds if tick_seconds is not None else get_settings().scheduler_tick
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    log.info("scheduler started", extra={"holder": holder})
    try:
        while not stop.is_set():
            try:
                if acquire_lease(holder):
                    report = tick()
                    if any(vars(report).values()):
                        log.info("scheduler tick", extra=vars(report))
            except OperationalError:  # the database went away for a moment: try again next tick
                log.warning("scheduler tick failed", exc_info=True)
            except Exception:  # keep the clock running; the failing work is retried next tick
                log.exception("scheduler tick failed")
            stop.wait(interval)
    finally:
        release_lease(holder)
        log.info("scheduler stopped", extra={"holder": holder})


def start_in_thread(**options: Any) -> tuple[threading.Thread, threading.Event]:
    """Run the scheduler in a daemon thread (``gateway serve --with-worker``, the demo)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(stop,), kwargs=options, name="gateway-scheduler",
                              daemon=True)
    thread.start()
    return thread, stop
