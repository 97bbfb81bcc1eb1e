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
6. alerts the DSL about call-back requests nobody has dealt with in time (``casework``);
7. hands parents' replies stored but still unprocessed after ``inbound_redeliver_seconds`` to the workers again
   (the webhook's hand-over to the broker failed, or its process died between commit and hand-over): at most
   once per that interval, the oldest ``REDELIVER_BATCH`` first; processing claims a reply once.

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
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway import clock
from gateway.config import get_settings
from gateway.db import session_scope
from gateway.models import InboundMessage, InsetDay, Lease
from gateway.pipeline import ports
from gateway.pipeline.outbox import due_for_enqueue, real_now, send_after_commit

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 30.0
REDELIVER_BATCH = 200  # unprocessed replies handed over again by one sweep, the oldest first


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
    inbound_redelivered: int = 0  # stored replies still unprocessed, handed to the workers again


class InboundSweep:
    """When one scheduler next sweeps for unprocessed replies (real time). Sweeping once per interval rather
    than once per tick means a reply the workers are slow to reach, or whose processing keeps failing, is handed
    over again once a minute, not every two seconds."""

    def __init__(self) -> None:
        self._next = float("-inf")

    def due(self, every_seconds: float) -> bool:
        """True at most once per ``every_seconds`` (the first call always)."""
        moment = time.monotonic()
        if moment < self._next:
            return False
        self._next = moment + every_seconds
        return True


def unprocessed_inbound(session: Session, *, stored_before: datetime, limit: int = REDELIVER_BATCH) -> list[int]:
    """Replies stored before ``stored_before`` that no worker has processed, the oldest first."""
    return list(session.scalars(
        select(InboundMessage.id)
        .where(InboundMessage.processed_at.is_(None), InboundMessage.received_at <= stored_before)
        .order_by(InboundMessage.received_at, InboundMessage.id).limit(limit)))


def redeliver_inbound(now: datetime) -> int:
    """Hand replies stored ``inbound_redeliver_seconds`` ago or earlier and still unprocessed to the workers
    again; a reply handed over twice is processed once (``replies.claim_inbound``). Returns how many went."""
    settings = get_settings()
    grace = timedelta(seconds=settings.inbound_redeliver_seconds * settings.clock_speed)  # in gateway time
    with session_scope() as session:
        ids = unprocessed_inbound(session, stored_before=now - grace)
    queue = ports.current().queue
    for count, inbound_id in enumerate(ids):
        try:
            queue.process_inbound(inbound_id)
        except Exception:  # the broker is still away: the next sweep tries again
            log.warning("broker unavailable; unprocessed replies wait for the next sweep",
                        extra={"handed_over": count, "waiting": len(ids) - count}, exc_info=True)
            return count
    return len(ids)


def _is_school_day(session: Session, now: datetime) -> bool:
    today = now.astimezone(get_settings().tz).date()
    if today.weekday() >= 5:
        return False
    return session.query(InsetDay.id).filter(InsetDay.date == today).first() is None


def tick(now: datetime | None = None, *, inbound_sweep: InboundSweep | None = None) -> TickReport:
    """One pass over the database (call only while holding the lease). Whatever a step queues goes to the
    workers as its session commits (``outbox.send_after_commit``). Unprocessed replies are swept when
    ``inbound_sweep`` says it is time (every call when there is none)."""
    from gateway.pipeline.absence import run_due_steps
    from gateway.pipeline.cases import open_cases, sweep_present_cases
    from gateway.pipeline.followup_start import ready_to_open
    from gateway.pipeline.milestones import plan_and_release
    from gateway.pipeline.reachability import check_active_cases
    from gateway.pipeline.reconcile import stuck_messages

    now = now or clock.now()
    report = TickReport()
    tz = get_settings().tz
    used = ports.current()
    with session_scope() as session:
        ladder = used.ladder()
        local = now.astimezone(tz)
        if _is_school_day(session, now) and local.time() >= ladder.registers_close and ready_to_open(
                session, local.date(), local, ladder):
            report.cases_opened = len(open_cases(session, local.date()))
        sweep_present_cases(session, local.date())
        report.unreachable_alerts = len(send_after_commit(session, check_active_cases(session, local.date(), now)))
        report.step_messages = len(run_due_steps(session, now, on=local.date()))
    try:
        with session_scope() as session:
            report.milestone_messages = len(send_after_commit(session, plan_and_release(session, now)))
    except Exception:  # a milestone problem must never hold up today's absence messages below
        log.exception("milestone pass failed")
    try:
        from gateway.pipeline.casework import alert_overdue_call_backs

        with session_scope() as session:
            report.call_back_alerts = len(send_after_commit(session, alert_overdue_call_backs(session, now)))
    except Exception:  # retried next tick; never holds up the sends below
        log.exception("call-back check failed")
    with session_scope() as session:
        stale = get_settings().reenqueue_seconds
        report.enqueued = len(send_after_commit(session, due_for_enqueue(session, now=now, stale_seconds=stale)))
    with session_scope() as session:
        stuck = stuck_messages(session)
    if stuck:
        used.queue.reconcile(stuck)
    report.reconciling = len(stuck)
    if inbound_sweep is None or inbound_sweep.due(get_settings().inbound_redeliver_seconds):
        try:
            report.inbound_redelivered = redeliver_inbound(now)
        except Exception:  # retried at the next sweep; never holds up the e-mail poll below
            log.exception("unprocessed-reply sweep failed")
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
    inbound_sweep = InboundSweep()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    log.info("scheduler started", extra={"holder": holder})
    try:
        while not stop.is_set():
            try:
                if acquire_lease(holder):
                    report = tick(inbound_sweep=inbound_sweep)
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
