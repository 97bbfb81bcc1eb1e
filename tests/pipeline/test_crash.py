"""Crash drills: 5,000 texts through `gateway worker` processes on a private Redis and PostgreSQL, while
(a) the worker is killed with SIGKILL mid-batch and restarted, or (b) Redis is restarted mid-batch (losing
every queued broker message: it runs without persistence). The Twilio sandbox counts what it was asked to
send per idempotency key: every message must arrive exactly once and none may be lost.

No stand-ins: a row the killed worker left in ``sending`` is resolved by the product's own provider lookup,
``TwilioSmsChannel.find_sent``, reading the sandbox's Messages.json list over HTTP as it would Twilio's.
The lookups the reconciler made are counted from the sandbox side, so the drill shows that they ran.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from channels.sandbox.twilio_api import TwilioSandbox, start_twilio_sandbox
from gateway import clock
from gateway.models import OutboxMessage, OutboxState
from tests.pipeline.test_scheduler import _logs, child_env, gateway_process
from tests.private_redis import PrivateRedis

BATCH = 5_000
pytestmark = [pytest.mark.slow]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[TwilioSandbox]:
    # The install's sandbox token: the children (GATEWAY_VAR_DIR=tmp_path/var, see child_env) sign in with it.
    from gateway.config import load_settings

    _, token = load_settings(channels="sandbox", var_dir=str(tmp_path / "var"), twilio_account_sid=None,
                             twilio_auth_token=None).twilio_credentials()
    with start_twilio_sandbox(auth_token=token) as running:
        running.state.send_callbacks = False
        yield running


def _fill_outbox(session: Session) -> None:
    now = clock.now()
    session.execute(insert(OutboxMessage), [
        {"idempotency_key": f"crash:{i}", "kind": "absence_first_day", "channel": "sms",
         "to_address": f"+4477009{i:05d}", "text": f"crash drill message {i}", "state": OutboxState.QUEUED,
         "locale": "en-GB", "variant": "standard", "pupil_ids": [], "fallback_channels": [], "context": {},
         "attempts": 0, "same_day": False, "created_at": now, "queued_at": now, "updated_at": now}
        for i in range(BATCH)])
    session.commit()


def _accepted(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.state == OutboxState.ACCEPTED)) or 0)


def _wait_for(session: Session, count: int, deadline: float, tmp_path: Path) -> int:
    while time.monotonic() < deadline:
        done = _accepted(session)
        if done >= count:
            return done
        time.sleep(0.25)
    session.expire_all()
    pending = [(r.id, r.state.value, r.attempts, r.error_code, r.error_reason, r.send_after, r.enqueued_at)
               for r in session.scalars(select(OutboxMessage).where(OutboxMessage.state != OutboxState.ACCEPTED)
                                        .limit(20))]
    raise AssertionError(f"only {_accepted(session)} of {count} accepted in time; not accepted: {pending}\n"
                         f"{_logs(tmp_path)}")


@pytest.mark.parametrize("disaster", ["sigkill_worker", "restart_redis"])
def test_batch_survives_a_crash_exactly_once(disaster: str, session: Session, database_url: str,
                                             private_redis: PrivateRedis, sandbox: TwilioSandbox,
                                             tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the crash drill runs on PostgreSQL (separate worker processes)")
    _fill_outbox(session)
    # Gateway time pinned to a school-day morning (real speed): a send that fails while Redis restarts is a
    # transient failure, retried the same day; after 20:00 real time the product rightly gives it up instead.
    env = child_env(database_url, tmp_path, GATEWAY_BROKER_URL=private_redis.url, TWILIO_API_URL=sandbox.url,
                    GATEWAY_CLOCK="2026-11-23T10:00:00", TWILIO_MPS="100000", GATEWAY_STUCK_SECONDS="3",
                    GATEWAY_REENQUEUE_SECONDS="8", GATEWAY_SCHEDULER_TICK="0.5")
    scheduler = gateway_process(["scheduler"], env, tmp_path / "scheduler.log")
    worker = gateway_process(["worker", "--threads", "8"], env, tmp_path / "worker1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 150
        _wait_for(session, BATCH // 4, deadline, tmp_path)
        if disaster == "sigkill_worker":
            # The first lookups fail: the reconciler must then wait and ask again, never resend blindly.
            sandbox.state.fail_next_lookups(3, 503, 20503)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            second = gateway_process(["worker", "--threads", "8"], env, tmp_path / "worker2.log")
        else:
            private_redis.stop()
            private_redis.start()
        _wait_for(session, BATCH, deadline, tmp_path)
    finally:
        exit_codes = []
        for process in (scheduler, worker, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                exit_codes.append(process.wait(timeout=30))
    assert exit_codes and set(exit_codes) == {0}, _logs(tmp_path)  # SIGTERM stops cleanly
    session.expire_all()
    states = dict(session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    assert states == {OutboxState.ACCEPTED: BATCH}, states
    attempts = sandbox.state.attempts_per_key
    keys = {f"crash:{i}" for i in range(BATCH)}
    assert set(attempts) == keys  # none lost
    duplicates = {key: n for key, n in attempts.items() if n != 1}
    assert duplicates == {}, f"sent more than once: {duplicates}"
    assert len(sandbox.state.messages()) == BATCH
    provider_ids = set(session.scalars(select(OutboxMessage.provider_id)))
    assert provider_ids == {record.sid for record in sandbox.state.messages()}
    if disaster == "sigkill_worker":
        # Eight busy threads always leave claimed rows behind a SIGKILL: the product's lookup resolved them.
        looked_up = Counter(q.to for q in sandbox.state.list_queries if q.kind == "message")
        assert looked_up, "the reconciler never asked the provider"
        assert sandbox.state.lookup_faults_left() == 0  # the failed lookups were asked again, not resent
        print(f"{len(looked_up)} stuck rows looked up in {sum(looked_up.values())} list requests")
