"""Sending: claims, fallback on permanent failure, retry with backoff, status callbacks that never go back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from channels.base import Receipt
from channels.errors import NOT_MOBILE, OPTED_OUT, PermanentDeliveryError, TransientDeliveryError
from channels.status import DeliveryStatus, StatusUpdate
from gateway.config import get_settings
from gateway.models import ContactPoint, OutboxMessage, OutboxState
from gateway.pipeline.absence import start_followup
from gateway.pipeline.delivery import backoff_seconds, claim, send_outbox_message
from gateway.pipeline.status import apply_status
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family


def _rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_opted_out_sms_falls_back_to_the_next_channel_at_once(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    pipeline.sms.faults[MUM_MOBILE] = PermanentDeliveryError(OPTED_OUT, "21610")
    start_followup(session, DAY)
    pipeline.drain()
    rows = _rows(session)
    assert [(r.channel, r.state) for r in rows] == [("sms", OutboxState.FAILED), ("email", OutboxState.ACCEPTED)]
    assert rows[0].error_reason == OPTED_OUT and rows[0].error_code == "21610"
    assert rows[1].idempotency_key == f"{rows[0].idempotency_key}|email"
    point = session.scalars(select(ContactPoint).where(ContactPoint.value == MUM_MOBILE)).one()
    assert point.opted_out_at is not None and point.last_permanent_failure_at is None
    assert rows[1].adult_id == family.mum


def test_transient_failure_requeues_with_backoff_and_scheduler_resends(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    calls = {"n": 0}

    def flaky(message: object) -> TransientDeliveryError:
        calls["n"] += 1
        if calls["n"] == 1:
            return TransientDeliveryError(retry_after=5, code="20429")
        raise KeyError  # never reached: the fault is removed below

    pipeline.sms.faults[MUM_MOBILE] = flaky
    start_followup(session, DAY)
    pipeline.drain()
    row = _rows(session)[0]
    assert row.state is OutboxState.QUEUED and row.attempts == 1 and row.error_code == "20429"
    assert row.send_after is not None and row.send_after > pipeline.clock.now()
    del pipeline.sms.faults[MUM_MOBILE]
    pipeline.tick()  # not yet due: nothing happens
    assert _rows(session)[0].state is OutboxState.QUEUED
    pipeline.clock.advance(minutes=2)
    pipeline.tick()
    row = _rows(session)[0]
    assert row.state is OutboxState.ACCEPTED and row.attempts == 2
    assert len(pipeline.sms.outbox) == 1


def test_backoff_grows_and_respects_retry_after() -> None:
    assert 24 <= backoff_seconds(1, None) <= 36
    assert 96 <= backoff_seconds(3, None) <= 144
    assert backoff_seconds(1, 600) == 600
    assert backoff_seconds(30, None) <= 30 * 60 * 1.2


def test_a_claim_is_won_once(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    with pipeline.broker_paused():
        start_followup(session, DAY)
    row = _rows(session)[0]
    assert claim(session, row.id, pipeline.clock.now())
    assert not claim(session, row.id, pipeline.clock.now())
    session.commit()
    assert send_outbox_message(row.id).state == "skipped"


def test_a_row_another_worker_is_claiming_is_skipped_not_waited_for(session: Session, pipeline: Pipeline,
                                                                    engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a second claim waits for the database, not the row")
    add_family(session)
    with pipeline.broker_paused():  # this test plays the workers
        start_followup(session, DAY)
        row_id = _rows(session)[0].id
        session.commit()
        with Session(engine) as other:
            assert claim(other, row_id, pipeline.clock.now())  # uncommitted: the other worker holds the row
            started = time.monotonic()
            assert send_outbox_message(row_id).state == "skipped"  # without SKIP LOCKED: waits for ever
            assert time.monotonic() - started < 10
            other.rollback()  # that worker died before committing: the row is queued again
        assert send_outbox_message(row_id).state == "accepted"


def test_sending_a_message_costs_four_statements_and_two_commits(session: Session, pipeline: Pipeline,
                                                                  engine: Engine) -> None:
    """Claim (one UPDATE … RETURNING), the two safeguarding checks, commit; call the provider; record, commit."""
    add_family(session)
    seen: list[str] = []

    def statement(*args: object) -> None:
        seen.append(str(args[2]).split(None, 1)[0].upper())

    def commit(*_: object) -> None:
        seen.append("COMMIT")

    with pipeline.broker_paused():  # this test plays the worker
        start_followup(session, DAY)
        row_id = _rows(session)[0].id
        session.commit()
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
        try:
            assert send_outbox_message(row_id).state == "accepted"
        finally:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "commit", commit)
    assert seen == ["UPDATE", "SELECT", "SELECT", "COMMIT", "UPDATE", "COMMIT"]


def _status(provider_id: str, status: DeliveryStatus, code: str | None = None,
            reason: str | None = None) -> StatusUpdate:
    return StatusUpdate(provider_id=provider_id, status=status, error_code=code, permanent_reason=reason)


def test_status_callbacks_only_move_forward(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    row = _rows(session)[0]
    assert row.provider_id is not None
    assert apply_status(session, _status(row.provider_id, DeliveryStatus.SENT)).applied is False
    assert apply_status(session, _status(row.provider_id, DeliveryStatus.DELIVERED)).state == "delivered"
    session.commit()
    late = apply_status(session, _status(row.provider_id, DeliveryStatus.UNDELIVERED, "30005", "unknown_number"))
    session.commit()
    assert late.applied is False
    assert _rows(session)[0].state is OutboxState.DELIVERED
    assert apply_status(session, _status("SM-unknown", DeliveryStatus.DELIVERED)).applied is False


def test_undelivered_callback_falls_back_to_the_next_channel(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    row = _rows(session)[0]
    assert row.provider_id is not None
    result = apply_status(session, _status(row.provider_id, DeliveryStatus.UNDELIVERED, "30006", NOT_MOBILE))
    session.commit()
    assert result.state == "undelivered" and len(result.enqueue) == 1  # handed to the workers by the commit
    pipeline.drain()
    rows = _rows(session)
    assert [(r.channel, r.state) for r in rows] == [("sms", OutboxState.UNDELIVERED), ("email", OutboxState.ACCEPTED)]
    point = session.scalars(select(ContactPoint).where(ContactPoint.value == MUM_MOBILE)).one()
    assert point.last_permanent_failure_at is not None


def test_gives_up_at_twenty_hundred(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    pipeline.clock.current = pipeline.clock.current.replace(hour=19, minute=59, second=50)
    pipeline.sms.faults[MUM_MOBILE] = TransientDeliveryError(None, "20503")
    start_followup(session, DAY)
    pipeline.drain()
    rows = _rows(session)
    assert rows[0].state is OutboxState.FAILED and rows[0].error_reason == "gave_up"
    assert rows[0].send_after is None or rows[0].send_after - pipeline.clock.now() < timedelta(hours=1)


def test_a_stuck_message_is_reconciled_not_resent_blindly(session: Session, pipeline: Pipeline,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.pipeline import reconcile
    from gateway.pipeline.outbox import real_now

    add_family(session)
    with pipeline.broker_paused():
        start_followup(session, DAY)
        row = _rows(session)[0]
        assert claim(session, row.id, pipeline.clock.now())  # a worker took it, then died
        session.commit()
    monkeypatch.setenv("GATEWAY_STUCK_SECONDS", "0.001")
    get_settings.cache_clear()
    claimed_at = real_now() - timedelta(seconds=1)
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(claimed_at=claimed_at))
    session.commit()
    # The provider has it (the crash came after it accepted): record it, send nothing.
    sent = Receipt("SM-found", DeliveryStatus.QUEUED, "sms")
    pipeline.sms.find_sent = lambda message: sent if message.idempotency_key == row.idempotency_key else None
    assert reconcile.stuck_messages(session) == [row.id]
    assert reconcile.reconcile_stuck_message(row.id).state == "accepted"
    found = _rows(session)[0]
    assert (found.state, found.provider_id, found.attempts) == (OutboxState.ACCEPTED, "SM-found", 1)
    assert pipeline.sms.outbox == []
    # A second stuck row the provider never saw is queued again, and sent once.
    other = add_message_stuck(session, pipeline)
    pipeline.sms.find_sent = lambda message: None
    outcome = reconcile.reconcile_stuck_message(other)
    assert outcome.state == "requeued" and outcome.enqueue == [other]  # handed to the workers by the commit
    pipeline.drain()
    assert _rows(session)[1].state is OutboxState.ACCEPTED and len(pipeline.sms.outbox) == 1


def add_message_stuck(session: Session, pipeline: Pipeline) -> int:
    from gateway.pipeline.outbox import NewMessage, add_message, real_now
    from gateway.pipeline.ports import Content

    row = add_message(session, NewMessage(
        idempotency_key="stuck:2", kind="absence_first_day", channel="sms", to_address="+447700900777",
        locale="en-GB", variant="standard", context={}, prerendered=Content(text="hello")))
    row.state = OutboxState.SENDING
    row.claimed_at = real_now() - timedelta(seconds=5)
    session.commit()
    return row.id


def test_broker_down_at_enqueue_leaves_rows_for_the_scheduler(session: Session, pipeline: Pipeline,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.pipeline import actors

    add_family(session)

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr(actors.send_message, "send", broker_down)
    summary = start_followup(session, DAY)
    assert summary.messages_queued == len(_rows(session)) >= 1  # queued in the outbox; the broker only delays them
    row = _rows(session)[0]
    assert (row.state, row.enqueued_at) == (OutboxState.QUEUED, None)  # nothing lost: the row waits
    monkeypatch.undo()
    pipeline.tick()
    assert _rows(session)[0].state is OutboxState.ACCEPTED


def test_the_scheduler_closes_a_case_once_everyone_is_present(session: Session, pipeline: Pipeline) -> None:
    from gateway.models import AbsenceCase, AttendanceMark, CaseState

    family = add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    for pupil_id in family.pupils:
        session.add(AttendanceMark(pupil_id=pupil_id, date=DAY, session="PM", code="/"))
    session.commit()
    pipeline.tick()
    session.expire_all()
    case = session.scalars(select(AbsenceCase)).one()
    assert (case.state, case.close_reason) == (CaseState.CLOSED, "present_mark")


def test_the_lookup_window_starts_at_the_first_claim_even_after_a_failed_lookup(
        session: Session, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.pipeline import reconcile
    from gateway.pipeline.outbox import real_now

    add_family(session)
    with pipeline.broker_paused():
        start_followup(session, DAY)
        row = _rows(session)[0]
        assert claim(session, row.id, pipeline.clock.now())  # the worker sent it, then died before recording
        session.commit()
    first_claim = _rows(session)[0].first_claimed_at
    assert first_claim is not None
    monkeypatch.setenv("GATEWAY_STUCK_SECONDS", "0.001")
    get_settings.cache_clear()
    windows: list[object] = []

    def lookup_fails(message: object) -> None:
        windows.append(message.claimed_at)  # type: ignore[attr-defined]
        raise TransientDeliveryError(code="lookup")

    pipeline.sms.find_sent = lookup_fails
    assert reconcile.reconcile_stuck_message(row.id).state == "retry"  # re-claimed: claimed_at moves on
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                    .values(claimed_at=real_now() - timedelta(seconds=1)))
    session.commit()
    pipeline.sms.find_sent = lambda message: windows.append(message.claimed_at) or Receipt(  # type: ignore[func-returns-value]
        "SM-late", DeliveryStatus.QUEUED, "sms")
    assert reconcile.reconcile_stuck_message(row.id).state == "accepted"
    assert windows == [first_claim, first_claim]
    assert pipeline.sms.outbox == []


@pytest.mark.parametrize(("provider_status", "expected"), [
    (DeliveryStatus.DELIVERED, OutboxState.DELIVERED),
    (DeliveryStatus.UNDELIVERED, OutboxState.UNDELIVERED),
    (DeliveryStatus.SENT, OutboxState.ACCEPTED),
])
def test_a_recovered_message_takes_the_status_the_provider_reports(
        session: Session, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch,
        provider_status: DeliveryStatus, expected: OutboxState) -> None:
    from gateway.pipeline import reconcile

    add_family(session)
    with pipeline.broker_paused():
        start_followup(session, DAY)
        row = _rows(session)[0]
        assert claim(session, row.id, pipeline.clock.now())  # sent, then the worker died before recording it
        session.commit()
    monkeypatch.setenv("GATEWAY_STUCK_SECONDS", "0.001")
    get_settings.cache_clear()
    pipeline.sms.find_sent = lambda message: Receipt("SM-recovered", provider_status, "sms")
    outcome = reconcile.reconcile_stuck_message(row.id)
    session.expire_all()
    assert _rows(session)[0].state is expected
    if expected is OutboxState.UNDELIVERED:
        assert outcome.enqueue, "an undelivered text moves the parent to the next channel at once"
    assert pipeline.sms.outbox == []
