"""Nothing lost: a parent's reply whose hand-over to the broker failed is still processed, exactly once.

The webhook commits the reply, then hands its id to the workers. When that hand-over fails (the broker is away,
the process dies in between), Twilio's retry of the same MessageSid hands it over again at once, and the
scheduler's sweep hands over whatever stays unprocessed; processing claims a reply once however often it
arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import session_scope
from gateway.metrics import GatewayMetrics
from gateway.models import AbsenceCase, CaseState, InboundMessage, OutboxMessage
from gateway.pipeline import ports, replies
from gateway.pipeline.absence import start_followup
from gateway.pipeline.ports import WorkQueue
from gateway.pipeline.scheduler import InboundSweep, tick
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family
from tests.pipeline.test_webhooks import WebhookClient, inbound_payload, post, webhook_client

SMS = "/webhooks/twilio/sms"


@dataclass
class RefusingBroker:
    """A queue whose inbound hand-over fails as a broker that is down fails (sends still go through)."""

    inner: WorkQueue
    refused: list[int] = field(default_factory=list)

    def send(self, outbox_ids: Sequence[int]) -> int:
        return self.inner.send(outbox_ids)

    def process_inbound(self, inbound_id: int) -> None:
        self.refused.append(inbound_id)
        raise ConnectionError("the broker is not answering")

    def reconcile(self, outbox_ids: Sequence[int]) -> None:
        self.inner.reconcile(outbox_ids)


@dataclass
class RecordingBroker:
    """The real queue, noting every inbound id handed over."""

    inner: WorkQueue
    handed_over: list[int] = field(default_factory=list)

    def send(self, outbox_ids: Sequence[int]) -> int:
        return self.inner.send(outbox_ids)

    def process_inbound(self, inbound_id: int) -> None:
        self.handed_over.append(inbound_id)
        self.inner.process_inbound(inbound_id)

    def reconcile(self, outbox_ids: Sequence[int]) -> None:
        self.inner.reconcile(outbox_ids)


@pytest.fixture
def client(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> WebhookClient:
    return webhook_client(monkeypatch)


def _thanks(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "reply_thanks")) or 0)


def _reply(session: Session) -> InboundMessage:
    session.expire_all()
    return session.scalars(select(InboundMessage)).one()


def _store_while_the_broker_is_down(client: WebhookClient, pipeline: Pipeline, sid: str) -> RefusingBroker:
    used = ports.current()
    refusing = RefusingBroker(used.queue)
    with ports.using(replace(used, queue=refusing)):
        assert post(client, SMS, inbound_payload(sid, "Ola jest chora")).status_code == 200  # stored: answered
    pipeline.drain()
    return refusing


def test_a_text_whose_hand_over_failed_is_processed_once_by_the_next_sweep(
        session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    refusing = _store_while_the_broker_is_down(client, pipeline, "SM-lost")
    reply = _reply(session)
    assert refusing.refused == [reply.id] and reply.processed_at is None and _thanks(session) == 0

    pipeline.clock.advance(seconds=30)  # within the grace: the workers may yet be on their way to it
    assert pipeline.tick().inbound_redelivered == 0
    pipeline.clock.advance(seconds=31)
    assert pipeline.tick().inbound_redelivered == 1
    reply = _reply(session)
    assert reply.processed_at is not None and reply.suggested_code == "I"
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED
    assert _thanks(session) == 1

    pipeline.clock.advance(minutes=5)
    assert pipeline.tick().inbound_redelivered == 0  # processed: never handed over again
    assert _thanks(session) == 1


def test_the_sweep_runs_once_per_interval_and_waits_while_the_broker_is_down(
        session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    add_family(session)
    _store_while_the_broker_is_down(client, pipeline, "SM-down")
    pipeline.clock.advance(minutes=2)
    used = ports.current()
    refusing = RefusingBroker(used.queue)
    with ports.using(replace(used, queue=refusing)):
        assert tick().inbound_redelivered == 0  # the broker is still away: nothing counted as handed over
    assert len(refusing.refused) == 1
    sweep = InboundSweep()
    assert tick(inbound_sweep=sweep).inbound_redelivered == 1
    assert tick(inbound_sweep=sweep).inbound_redelivered == 0  # not before inbound_redeliver_seconds
    pipeline.drain()
    assert _reply(session).processed_at is not None


def test_a_twilio_retry_of_an_unprocessed_text_hands_it_over_at_once(
        session: Session, client: WebhookClient, pipeline: Pipeline) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    _store_while_the_broker_is_down(client, pipeline, "SM-retried")
    reply_id = _reply(session).id
    used = ports.current()
    recording = RecordingBroker(used.queue)
    with ports.using(replace(used, queue=recording)):
        assert post(client, SMS, inbound_payload("SM-retried", "Ola jest chora")).status_code == 200
        pipeline.drain()
        assert recording.handed_over == [reply_id]
        assert _reply(session).processed_at is not None and _thanks(session) == 1
        # A retry of a text already processed hands nothing over.
        assert post(client, SMS, inbound_payload("SM-retried", "Ola jest chora")).status_code == 200
        pipeline.drain()
    assert recording.handed_over == [reply_id]
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1 and _thanks(session) == 1


def test_two_deliveries_of_one_reply_at_once_act_once(session: Session, pipeline: Pipeline,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    add_family(session)
    start_followup(session, DAY)
    pipeline.drain()
    with session_scope() as db:
        reply_id, _ = replies.record_inbound(db, provider_sid="SM-twice", from_number=MUM_MOBILE,
                                             to_number=None, body="Ola jest chora")
    acting = threading.Event()
    calls: list[int] = []
    real_process = replies._process

    def slow_process(db: Session, inbound: InboundMessage) -> list[int]:
        calls.append(inbound.id)
        acting.set()
        time.sleep(0.5)  # the second delivery arrives while the first is still acting
        return real_process(db, inbound)

    monkeypatch.setattr(replies, "_process", slow_process)
    results: dict[str, list[int]] = {}

    def deliver(name: str) -> None:
        results[name] = replies.process_inbound_message(reply_id)

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert acting.wait(10)
    second = threading.Thread(target=deliver, args=("second",))
    second.start()
    first.join(30)
    second.join(30)
    pipeline.drain()
    assert calls == [reply_id]  # the second delivery found the reply claimed and did nothing
    assert len(results["first"]) == 1 and results["second"] == []
    assert session.scalars(select(AbsenceCase)).one().state is CaseState.REPLIED
    assert _thanks(session) == 1


def test_metrics_show_replies_waiting_to_be_processed(session: Session, client: WebhookClient,
                                                      pipeline: Pipeline) -> None:
    add_family(session)
    _store_while_the_broker_is_down(client, pipeline, "SM-waiting")
    pipeline.clock.advance(seconds=90)
    factory = sessionmaker(bind=session.get_bind())
    metrics = GatewayMetrics(factory, pipeline.clock.now, "Europe/London")
    text = metrics.exposition().decode()
    assert "gateway_inbound_unprocessed 1.0" in text and "gateway_inbound_lag_seconds 90.0" in text
    pipeline.tick()
    text = metrics.exposition().decode()
    assert "gateway_inbound_unprocessed 0.0" in text and "gateway_inbound_lag_seconds 0.0" in text
