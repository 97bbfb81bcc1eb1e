"""The multi-machine topology of docs/OPERATIONS.md and deploy/Procfile, run locally: nothing doubled, nothing lost.

PostgreSQL (a scratch database) + a private Redis broker, sandbox channels, and real ``gateway`` processes:
``gateway serve`` (web app and webhooks, no in-process worker), two ``gateway worker`` and two ``gateway
scheduler``. The Twilio sandbox runs in this process (its attempt counters are read directly and through its
records API); so does the SMTP sandbox, on a free port named by SMTP_HOST/SMTP_PORT (which sandbox mode honours,
so this deployment never mixes with another one on the machine). All processes share an accelerated
clock starting on a Monday at 09:10, so registers close at 09:15 and the absence ladder climbs within a minute.

While it runs: parents reply by text (signed webhooks) after step 1 and after step 2; the scheduler holding the
lease gets SIGTERM between steps 1 and 2 (the other must take over); a worker gets SIGKILL while sends are in
flight at step 2. The sandbox answers each create after a realistic 0.2 s, so the kill usually catches sends
between the claim and the provider's answer (the reconciler's case); the summary printed with ``-s`` says what
it caught.

Then: no row stuck in ``sending``; every idempotency key reached the provider once; what the sandboxes received
is exactly the accepted/delivered rows; one case per family; one delivery per adult per step; replied cases
stopped climbing; /healthz was 200 throughout; the survivors stop with exit code 0 on SIGTERM.
"""

from __future__ import annotations

import contextlib
import csv
import json
import signal
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from channels.sandbox.runner import free_port
from channels.sandbox.smtp_server import SmtpSandbox
from channels.sandbox.twilio_api import start_twilio_sandbox
from gateway.channel_config import SANDBOX_FROM_NUMBER
from gateway.config import load_settings
from gateway.devtools.synthetic_school import SyntheticSchool, generate_school
from gateway.models import AbsenceCase, CaseState, ContactPoint, OutboxMessage, OutboxState
from gateway.models.messaging import FINAL_STATES
from tests.conftest import PG_URL, REDIS_URL
from tests.operations.topology_support import (
    MESSAGE_ID_OUTBOX,
    REPO,
    GatewayProcess,
    HealthWatch,
    base_env,
    gateway_now,
    lease_holder_pid,
    logs,
    post_parent_text,
    run_gateway,
    scratch_postgres,
    wait_for,
    wait_until_healthy,
)
from tests.private_redis import PrivateRedis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (PG_URL and REDIS_URL),
                       reason="needs GATEWAY_TEST_DATABASE_URL and GATEWAY_TEST_REDIS_URL"),
]

DAY = date(2026, 11, 23)  # a Monday
CLOCK_START = "2026-11-23T09:10:00"  # Europe/London; registers close at 09:15
CLOCK_SPEED = 150  # from the clock's anchor: 09:15 after 2 s, step 2 (09:55) after 18 s, step 3 (10:45) after 38 s
PUPILS = 150
SEED = 8
ABSENT_SHARE = 0.15
SENT = (OutboxState.ACCEPTED, OutboxState.DELIVERED)
MAIL_FROM = f"topology-{uuid.uuid4().hex[:12]}@school.invalid"
DELIVERED_OR_ACCEPTED = frozenset(SENT)


def _expected_families(school: SyntheticSchool, absences: Path) -> set[frozenset[str]]:
    """The absent pupils of each family (siblings share their mother, who has parental responsibility)."""
    with absences.open(encoding="utf-8") as handle:
        absent = {row["upn"] for row in csv.DictReader(handle) if row["code"] == "N"}
    families: dict[str, set[str]] = {}
    for pupil in school.pupils:
        if pupil.upn in absent:
            mother = next(link.adult.ref for link in pupil.links if link.relationship == "PAM")
            families.setdefault(mother, set()).add(pupil.upn)
    return {frozenset(upns) for upns in families.values()}


def _accepted_but_unrecorded_emails(worker_log: str) -> set[int]:
    """Outbox ids of e-mails the relay accepted from this worker (``email accepted``) that it never recorded
    (``message accepted``): the killed worker's SMTP window."""
    accepted: set[int] = set()
    recorded: set[int] = set()
    for line in worker_log.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("msg") == "email accepted":
                accepted.add(int(entry["message_id"]))
            elif entry.get("msg") == "message accepted" and entry.get("channel") == "email":
                recorded.add(int(entry["outbox_id"]))
    return accepted - recorded


def _count(engine: Engine, *conditions: ColumnElement[bool]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions)) or 0)


def _cases(engine: Engine) -> list[AbsenceCase]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(AbsenceCase).where(AbsenceCase.date == DAY).order_by(AbsenceCase.id)))


def _unique_numbers(engine: Engine) -> set[str]:
    """Phone numbers held by exactly one adult (a reply from a shared number is ambiguous by nature)."""
    with Session(engine) as session:
        rows = session.execute(select(ContactPoint.value, func.count(func.distinct(ContactPoint.adult_id)))
                               .group_by(ContactPoint.value)).all()
    return {value for value, adults in rows if adults == 1}


def _reply_targets(engine: Engine, step: int, exclude: set[int], wanted: int) -> list[tuple[int, str]]:
    """(case id, parent's number) for open cases whose step-``step`` text reached a parent."""
    unique = _unique_numbers(engine)
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxMessage.case_id, OutboxMessage.to_address)
            .join(AbsenceCase, AbsenceCase.id == OutboxMessage.case_id)
            .where(OutboxMessage.step == step, OutboxMessage.channel == "sms", OutboxMessage.state.in_(SENT),
                   AbsenceCase.state.in_((CaseState.OPEN, CaseState.ESCALATED)),
                   AbsenceCase.current_step == step)
            .order_by(OutboxMessage.case_id)).all()
    targets: list[tuple[int, str]] = []
    for case_id, number in rows:
        if case_id is not None and case_id not in exclude and number in unique \
                and case_id not in {c for c, _ in targets}:
            targets.append((case_id, number))
    return targets[:wanted]


class Replies:
    """Parents' replies sent through the web app, and each replied case's step when its ladder stopped."""

    def __init__(self, web_url: str, auth_token: str, engine: Engine) -> None:
        self.web_url, self.auth_token, self.engine = web_url, auth_token, engine
        self.stopped_at_step: dict[int, int] = {}

    def send(self, targets: list[tuple[int, str]], body: str, processes: list[GatewayProcess]) -> None:
        for _case, number in targets:
            answer = post_parent_text(self.web_url, self.web_url, self.auth_token, sender=number,
                                      to=SANDBOX_FROM_NUMBER, body=body)
            assert answer.status_code == 200, answer.text
        ids = {case_id for case_id, _ in targets}

        def replied() -> bool:
            states = {c.id: c for c in _cases(self.engine) if c.id in ids}
            return all(c.state is CaseState.REPLIED for c in states.values())

        wait_for(replied, timeout=20, what=f"cases {sorted(ids)} to be marked replied", processes=processes)
        for case in _cases(self.engine):
            if case.id in ids:
                self.stopped_at_step[case.id] = case.current_step


def test_the_documented_topology_neither_doubles_nor_loses_anything(tmp_path: Path) -> None:
    assert PG_URL and REDIS_URL
    started = time.monotonic()
    (tmp_path / "var").mkdir()
    school = generate_school(pupils=PUPILS, seed=SEED)
    contacts = school.write_contacts_csv(tmp_path / "contacts.csv")
    absences = school.write_absences_csv(tmp_path / "absences.csv", DAY, absent_share=ABSENT_SHARE)
    families = _expected_families(school, absences)
    assert len(families) >= 10, "the synthetic register should give a fair number of cases"

    # Our SMTP sandbox on a free port, started before `gateway serve` (which, in sandbox mode, starts one at
    # SMTP_HOST:SMTP_PORT unless that port is taken: here it is, by this one, whose mailbox the test reads).
    smtp = SmtpSandbox(host="127.0.0.1").start()
    redis = PrivateRedis(tmp_path)
    twilio = None
    processes: list[GatewayProcess] = []
    watch: HealthWatch | None = None
    engine: Engine | None = None
    exit_codes: dict[str, int | None] = {}
    records: list[dict[str, Any]] = []
    in_flight_at_kill = 0
    timeline: list[str] = []

    def mark(label: str) -> None:
        now = gateway_now(engine) if engine is not None else None
        timeline.append(f"{time.monotonic() - started:.1f}s {label}" + (f" @{now:%H:%M}" if now else ""))

    with scratch_postgres(PG_URL) as database_url:
        try:
            redis.start()
            # The install's sandbox pair (its token generated into the children's var directory), whatever this
            # shell's environment holds (the children get no TWILIO_*).
            auth_sid, auth_token = load_settings(channels="sandbox", var_dir=str(tmp_path / "var"),
                                                 twilio_account_sid=None,
                                                 twilio_auth_token=None).twilio_credentials()
            twilio = start_twilio_sandbox(auth_sid, auth_token)
            twilio.state.set_latency(0.2)  # a realistic provider round trip: a SIGKILL lands mid-send
            web_port = free_port()
            web_url = f"http://127.0.0.1:{web_port}"
            # Nobody presses Start in this drill: the gateway starts follow-up on its own at registers close.
            ladder = tmp_path / "escalation.toml"
            ladder.write_text((REPO / "config" / "escalation.toml").read_text()
                              .replace('auto_start = "09:45"', 'auto_start = "09:15"'))
            env = base_env(
                GATEWAY_ESCALATION_FILE=str(ladder),
                GATEWAY_DATABASE_URL=database_url, GATEWAY_BROKER_URL=redis.url, GATEWAY_CHANNELS="sandbox",
                GATEWAY_PUBLIC_URL=web_url, GATEWAY_CLOCK=CLOCK_START, GATEWAY_CLOCK_SPEED=str(CLOCK_SPEED),
                GATEWAY_TIMEZONE="Europe/London", GATEWAY_VAR_DIR=str(tmp_path / "var"),
                GATEWAY_SECRET_KEY="topology-test-secret-key", TWILIO_API_URL=twilio.url,
                SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port), SMTP_STARTTLS="never",
                # A sender of our own: every e-mail in the mailbox must carry it (sandbox mode honours SMTP_FROM).
                SMTP_FROM=f"Oakfield Attendance <{MAIL_FROM}>",
                # Drill timings (real seconds; production defaults 2, 120 and 300): a scheduler pass twice a
                # second, a claimed row orphaned after 6 s, a queued row the broker lost re-enqueued after 10 s.
                GATEWAY_SCHEDULER_TICK="0.5", GATEWAY_STUCK_SECONDS="6", GATEWAY_REENQUEUE_SECONDS="10",
            )
            # The deployment's one-off steps, as an operator (or ExecStartPre) runs them.
            run_gateway(["db", "upgrade"], env, tmp_path)
            run_gateway(["import", "contacts", str(contacts), "--json"], env, tmp_path)
            run_gateway(["import", "absences", str(absences), "--json"], env, tmp_path)
            engine = create_engine(database_url, pool_pre_ping=True)
            mark("data imported")

            web = GatewayProcess("web", ["serve", "--port", str(web_port)], tmp_path / "web.log")
            workers = [GatewayProcess(f"worker{i}", ["worker"], tmp_path / f"worker{i}.log") for i in (1, 2)]
            schedulers = [GatewayProcess(f"scheduler{i}", ["scheduler"], tmp_path / f"scheduler{i}.log")
                          for i in (1, 2)]
            processes.extend([web, *workers, *schedulers])
            web.start(env, tmp_path)  # first, as in a deployment: Twilio's callbacks need somewhere to go
            wait_until_healthy(web_url, web)
            mark("web healthy")
            watch = HealthWatch(web_url).start()
            for process in (*workers, *schedulers):
                process.start(env, tmp_path)
            replies = Replies(web_url, auth_token, engine)
            db = engine

            # -- 09:15: registers close; every family's case opens and step 1 goes out -----------------------
            wait_for(lambda: len(_cases(db)) == len(families) and all(c.current_step >= 1 for c in _cases(db))
                     and _count(db, OutboxMessage.step == 1, OutboxMessage.state.in_(SENT)) >= len(families) // 2,
                     timeout=30, what="the cases to open and step 1 to be sent", processes=processes)
            mark("step 1 sent")

            # -- the scheduler holding the lease is stopped; the other must take over ------------------------
            holder = lease_holder_pid(db)
            first = next((s for s in schedulers if s.pid == holder), None)
            assert first is not None, f"lease holder pid {holder} is not one of our schedulers"
            second = next(s for s in schedulers if s is not first)
            first.signal(signal.SIGTERM)
            assert first.wait(20) == 0, first.tail()
            wait_for(lambda: lease_holder_pid(db) == second.pid, timeout=10,
                     what="the standby scheduler to take the lease", processes=processes)
            mark(f"{first.name} stopped, lease taken over by {second.name}")

            # -- three parents answer the first text ----------------------------------------------------------
            wait_for(lambda: len(_reply_targets(db, 1, set(), 3)) == 3, timeout=20,
                     what="three step-1 texts to reply to", processes=processes)
            replies.send(_reply_targets(db, 1, set(), 3), "Sorry, she is poorly with a temperature today.",
                         processes)
            mark("step-1 replies")

            # -- 09:55: step 2 bursts out; one worker is killed with sends in flight --------------------------
            def sending() -> int:
                return _count(db, OutboxMessage.state == OutboxState.SENDING)

            wait_for(lambda: _count(db, OutboxMessage.step == 2) > 0 and sending() >= 2, timeout=40, poll=0.02,
                     what="step-2 sends in flight", processes=processes)
            in_flight_at_kill = sending()
            mark("worker SIGKILL")
            workers[0].signal(signal.SIGKILL)
            assert workers[0].wait(10) == -signal.SIGKILL

            # -- one parent answers the second message --------------------------------------------------------
            wait_for(lambda: len(_reply_targets(db, 2, set(replies.stopped_at_step), 1)) == 1, timeout=25,
                     what="a step-2 text to reply to", processes=processes)
            replies.send(_reply_targets(db, 2, set(replies.stopped_at_step), 1), "He has a dentist appointment.",
                         processes)
            mark("step-2 reply")

            # -- the ladder climbs past step 2 for every unanswered case, and the outbox settles --------------
            def climbed() -> bool:
                cases = _cases(db)
                unanswered = [c for c in cases if c.state is not CaseState.REPLIED]
                return bool(unanswered) and all(c.current_step >= 3 for c in unanswered)

            wait_for(climbed, timeout=45, what="every unanswered case to pass step 2", processes=processes)
            mark("step 3 reached")

            def settled() -> bool:
                now = gateway_now(db)
                assert now is not None
                due = _count(db, OutboxMessage.state == OutboxState.QUEUED,
                             (OutboxMessage.send_after.is_(None)) | (OutboxMessage.send_after <= now))
                return sending() == 0 and due == 0

            def called_back() -> bool:
                return _count(db, OutboxMessage.channel.in_(("sms", "voice")),
                              OutboxMessage.state == OutboxState.ACCEPTED) == 0

            # What does not settle is reported row by row below; status callbacks are best effort (Twilio's are).
            with contextlib.suppress(AssertionError):
                wait_for(settled, timeout=20, what="the outbox to settle", processes=processes)
            with contextlib.suppress(AssertionError):
                wait_for(called_back, timeout=3, what="the last status callbacks", processes=processes)
            mark("settled")

            # -- stop the survivors cleanly -------------------------------------------------------------------
            watch.stop()
            survivors = [p for p in processes if p.alive()]
            assert {p.name for p in survivors} == {"web", "worker2", second.name}, logs(processes)
            exit_codes = {p.name: p.stop(timeout=40) for p in survivors}
            mark("stopped")
            records = httpx.get(f"{twilio.url}/_sandbox/records", timeout=10).json()  # what Twilio was asked
        finally:
            if watch is not None:
                watch.stop()
            for process in processes:
                with contextlib.suppress(Exception):  # cleanup must reach every process
                    process.stop(timeout=20)
            if twilio is not None:
                twilio.stop()
            smtp.stop()
            redis.stop()
        assert engine is not None
        try:
            _check(engine, twilio, records, smtp, families, replies, watch, exit_codes, processes,
                   in_flight_at_kill, timeline)
        finally:
            engine.dispose()


def _check(engine: Engine, twilio: object, records: list[dict[str, Any]], smtp: SmtpSandbox | None,
           families: set[frozenset[str]], replies: Replies, watch: HealthWatch | None,
           exit_codes: dict[str, int | None], processes: list[GatewayProcess], in_flight_at_kill: int,
           timeline: list[str]) -> None:
    from channels.sandbox.twilio_api import TwilioSandbox

    assert isinstance(twilio, TwilioSandbox) and smtp is not None and watch is not None
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        cases = list(session.scalars(select(AbsenceCase).where(AbsenceCase.date == DAY)))
        case_upns = {case.id: frozenset(p.upn for p in case.pupils) for case in cases}
    now = gateway_now(engine)
    assert now is not None
    mail = smtp.mailbox.messages()
    crash_logs = "\n".join(p.tail(200_000) for p in processes if p.name.startswith("worker"))
    summary = {
        "timeline": timeline,
        "cases": len(cases), "replied": len(replies.stopped_at_step),
        "outbox": dict(Counter(f"{r.channel}:{r.state.value}" for r in rows)),
        "sends in flight when the worker was killed": in_flight_at_kill,
        "rows claimed more than once": [(r.id, r.channel, r.state.value, r.attempts) for r in rows if r.attempts > 1],
        "reconciled: found at the provider": crash_logs.count("stuck message was sent before the crash"),
        "reconciled: re-queued": crash_logs.count("stuck message re-queued"),
        "healthz checks": watch.checks,
        "twilio rows without a final status": [(r.id, r.kind, r.channel, r.provider_id) for r in rows
                                               if r.channel != "email" and r.state is OutboxState.ACCEPTED],
    }
    print(f"\ntopology summary: {summary}")
    context = f"{summary}\n{logs(processes)}"

    # Nothing stuck: every row is final, accepted by the provider, or legitimately waiting.
    stuck = [(r.id, r.channel, r.state.value, r.send_after) for r in rows
             if r.state not in FINAL_STATES and r.state not in DELIVERED_OR_ACCEPTED
             and not (r.state is OutboxState.PLANNED
                      or (r.state is OutboxState.QUEUED and r.send_after is not None and r.send_after > now))]
    assert stuck == [], f"rows neither final, accepted nor legitimately pending: {stuck}\n{context}"

    # Nothing doubled at the provider: each idempotency key reached Twilio once, each e-mail arrived once.
    doubled = {key: n for key, n in twilio.state.attempts_per_key.items() if n != 1}
    by_key = {r.idempotency_key: (r.id, r.channel, r.state.value, r.attempts, r.error_reason) for r in rows}
    assert doubled == {}, (f"sent to Twilio more than once: {doubled}; rows: "
                           f"{[by_key.get(k) for k in doubled]}\n{context}")
    assert all(n == 1 for n in twilio.state.attempts_per_body.values()), f"identical request bodies\n{context}"
    record_keys = Counter(r["idempotency_key"] for r in records)
    assert all(n == 1 for n in record_keys.values()), f"records API shows doubles: {record_keys}\n{context}"
    assert {received.mail_from for received in mail} <= {MAIL_FROM}, "e-mail from another sender"
    mail_ids: dict[int, list[str]] = {}
    mail_to: dict[int, list[tuple[str, ...]]] = {}
    for received in mail:
        message_id = str(received.message["Message-ID"])
        found = MESSAGE_ID_OUTBOX.search(message_id)
        assert found is not None, f"an e-mail without the gateway's Message-ID: {message_id}"
        mail_ids.setdefault(int(found.group(1)), []).append(message_id)
        mail_to.setdefault(int(found.group(1)), []).append(received.rcpt_tos)
    doubled_mail = {outbox_id: len(ids) for outbox_id, ids in mail_ids.items() if len(ids) != 1}
    # SMTP's documented residual (docs/OPERATIONS.md): a relay that answered 250 to the killed worker before it
    # could commit is sent the message again. Only that window may explain a second copy, at most one, and the
    # copy carries the same Message-ID (receiving systems that de-duplicate collapse it).
    killed = next(p for p in processes if p.name == "worker1")
    window = _accepted_but_unrecorded_emails(killed.tail(2_000_000))
    unexplained = {outbox_id: n for outbox_id, n in doubled_mail.items() if outbox_id not in window or n > 2}
    assert unexplained == {}, f"e-mails delivered more than once: {unexplained}\n{context}"
    assert all(len(set(mail_ids[outbox_id])) == 1 for outbox_id in doubled_mail), \
        f"a re-sent e-mail changed its Message-ID: {doubled_mail}\n{context}"

    # Nothing lost or extra: what the sandboxes received is exactly the accepted/delivered rows.
    twilio_rows = [r for r in rows if r.channel in ("sms", "voice") and r.state in DELIVERED_OR_ACCEPTED]
    assert len(records) == len(twilio_rows), context
    assert {r["sid"] for r in records} == {r.provider_id for r in twilio_rows}, context
    assert set(record_keys) == {r.idempotency_key for r in twilio_rows}, context
    email_rows = [r for r in rows if r.channel == "email" and r.state in DELIVERED_OR_ACCEPTED]
    assert len(mail_ids) == len(email_rows), context
    assert set(mail_ids) == {r.id for r in email_rows}, context
    assert {outbox_id: to[0] for outbox_id, to in mail_to.items()} == {r.id: (r.to_address,) for r in email_rows}, \
        context
    assert {r.channel for r in rows if r.state in DELIVERED_OR_ACCEPTED} >= {"sms", "email", "voice"}, context

    # One case per family, holding exactly that family's absent pupils.
    assert len(cases) == len(families), context
    assert set(case_upns.values()) == families, context

    # One delivery per adult per step of a case.
    per_step = Counter((r.case_id, r.step, r.adult_id) for r in rows
                       if r.step is not None and r.state in DELIVERED_OR_ACCEPTED)
    assert [key for key, n in per_step.items() if n > 1] == [], context

    # Replied cases stopped climbing; every other case climbed past step 2.
    by_case = {case.id: case for case in cases}
    for case_id, step in replies.stopped_at_step.items():
        case = by_case[case_id]
        assert case.state is CaseState.REPLIED and case.current_step == step, (case_id, case.state, step)
        assert case.closed_at is not None
        later = [(r.id, r.kind, r.step, r.state.value) for r in rows if r.case_id == case_id
                 and r.kind != "reply_thanks" and (r.step or 0) > step]
        assert later == [], f"case {case_id} kept climbing after the reply: {later}\n{context}"
        sent_after_reply = [(r.id, r.kind, r.state.value) for r in rows if r.case_id == case_id
                            and r.kind != "reply_thanks" and r.state in DELIVERED_OR_ACCEPTED
                            and r.created_at > case.closed_at + timedelta(seconds=1)]
        assert sent_after_reply == [], context
        thanks = [r for r in rows if r.case_id == case_id and r.kind == "reply_thanks"]
        assert len(thanks) == 1 and thanks[0].state in DELIVERED_OR_ACCEPTED, context
    assert all(c.current_step >= 3 for c in cases if c.id not in replies.stopped_at_step), context

    # The web app answered /healthz throughout; SIGTERM stopped every survivor cleanly.
    assert watch.checks > 20 and watch.failures == [], f"/healthz not 200: {watch.failures}"
    assert exit_codes and set(exit_codes.values()) == {0}, f"exit codes {exit_codes}\n{context}"
