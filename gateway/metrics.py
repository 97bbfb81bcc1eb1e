"""Prometheus metrics, computed from the database at scrape time.

The outbox is the source of truth, so the gauges are read from it when ``/metrics`` is scraped rather than
counted in one process (which would miss what other workers did). Only counts and codes leave here: no
address, name or message body is ever a label.

- ``gateway_outbox_messages{state,channel,locale}``: messages by state, channel and language.
- ``gateway_provider_errors{channel,code}``: messages that carry a provider error code.
- ``gateway_queue_lag_seconds``: how long the oldest due, queued message has been waiting (gateway time).
- ``gateway_inbound_unhandled``: replies nobody has confirmed yet.
- ``gateway_inbound_unprocessed`` / ``gateway_inbound_lag_seconds``: replies stored that no worker has processed
  yet, and the age of the oldest (the scheduler hands one over again after ``inbound_redeliver_seconds``).
- ``gateway_absence_cases{state}``: today's cases by state.
- ``gateway_webhook_requests_total{route,status}``: a process counter of webhook calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OutboxCollector(Collector):
    """Reads the gauges from the database on every collect (one short session)."""

    def __init__(self, session_maker: Callable[[], Session], now: Callable[[], datetime], tz_name: str) -> None:
        self._session_maker = session_maker
        self._now = now
        self._tz_name = tz_name

    def collect(self) -> Iterator[Metric]:
        from zoneinfo import ZoneInfo

        from gateway.models import AbsenceCase, InboundMessage, OutboxMessage, OutboxState

        messages = GaugeMetricFamily("gateway_outbox_messages", "Outbox messages by state, channel and locale",
                                     labels=["state", "channel", "locale"])
        errors = GaugeMetricFamily("gateway_provider_errors", "Outbox messages carrying a provider error code",
                                   labels=["channel", "code"])
        lag = GaugeMetricFamily("gateway_queue_lag_seconds",
                                "Age of the oldest due message still queued (0 when none)")
        unhandled = GaugeMetricFamily("gateway_inbound_unhandled", "Parents' replies not yet confirmed by staff")
        unprocessed = GaugeMetricFamily("gateway_inbound_unprocessed", "Parents' replies stored but not yet processed")
        inbound_lag = GaugeMetricFamily("gateway_inbound_lag_seconds",
                                        "Age of the oldest reply not yet processed (0 when none)")
        cases = GaugeMetricFamily("gateway_absence_cases", "Today's absence cases by state", labels=["state"])
        now = self._now()
        with self._session_maker() as session:
            for state, channel, locale, count in session.execute(
                select(OutboxMessage.state, OutboxMessage.channel, OutboxMessage.locale, func.count())
                .group_by(OutboxMessage.state, OutboxMessage.channel, OutboxMessage.locale)
            ):
                messages.add_metric([str(state.value), channel, locale], float(count))
            for channel, code, count in session.execute(
                select(OutboxMessage.channel, OutboxMessage.error_code, func.count())
                .where(OutboxMessage.error_code.is_not(None))
                .group_by(OutboxMessage.channel, OutboxMessage.error_code)
            ):
                errors.add_metric([channel, str(code)], float(count))
            due_since = func.coalesce(OutboxMessage.send_after, OutboxMessage.queued_at, OutboxMessage.created_at)
            oldest = session.scalar(
                select(due_since).where(OutboxMessage.state == OutboxState.QUEUED, due_since <= now)
                .order_by(due_since).limit(1))
            lag.add_metric([], _seconds_since(oldest, now))
            unhandled.add_metric([], float(session.scalar(
                select(func.count()).select_from(InboundMessage).where(InboundMessage.handled.is_(False))) or 0))
            waiting, oldest_reply = session.execute(
                select(func.count(), func.min(InboundMessage.received_at))
                .where(InboundMessage.processed_at.is_(None))).one()
            unprocessed.add_metric([], float(waiting or 0))
            inbound_lag.add_metric([], _seconds_since(oldest_reply, now))
            today = now.astimezone(ZoneInfo(self._tz_name)).date()
            for case_state, count in session.execute(
                select(AbsenceCase.state, func.count()).where(AbsenceCase.date == today).group_by(AbsenceCase.state)
            ):
                cases.add_metric([str(case_state.value)], float(count))
        yield from (messages, errors, lag, unhandled, unprocessed, inbound_lag, cases)


def _seconds_since(moment: datetime | str | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if isinstance(moment, str):  # SQLite hands an expression's datetime back as text
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())


class GatewayMetrics:
    """One registry per app (tests create many apps; the global registry would refuse duplicates)."""

    def __init__(self, session_maker: Callable[[], Session], now: Callable[[], datetime], tz_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(OutboxCollector(session_maker, now, tz_name))
        self.webhook_requests = Counter("gateway_webhook_requests", "Twilio webhook requests by route and status",
                                        ["route", "status"], registry=self.registry)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return bytes(generate_latest(self.registry))
