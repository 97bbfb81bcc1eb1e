"""``/healthz`` and ``/metrics``: open without login, JSON / Prometheus text, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, OutboxState
from tests.web.conftest import TestClient


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_503_when_the_database_is_gone(web_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import load_settings

    web_app.state.settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    with TestClient(web_app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_metrics_count_the_outbox_without_addresses(client: TestClient, session: Session) -> None:
    now = datetime.now(UTC)
    session.add_all([
        OutboxMessage(idempotency_key="a", kind="absence_first_day", channel="sms", to_address="+447700900123",
                      locale="pl", state=OutboxState.DELIVERED, text="secret body", created_at=now),
        OutboxMessage(idempotency_key="b", kind="absence_first_day", channel="sms", to_address="+447700900124",
                      locale="pl", state=OutboxState.FAILED, error_code="30006", text="secret body", created_at=now),
        OutboxMessage(idempotency_key="c", kind="absence_first_day", channel="email", to_address="a@example.com",
                      locale="en-GB", state=OutboxState.QUEUED, text="secret body", created_at=now,
                      send_after=now),
    ])
    session.commit()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'gateway_outbox_messages{channel="sms",locale="pl",state="delivered"} 1.0' in text
    assert 'gateway_provider_errors{channel="sms",code="30006"} 1.0' in text
    assert "gateway_queue_lag_seconds" in text
    assert "+447700900" not in text and "example.com" not in text and "secret body" not in text


def test_sandbox_controls_answer_only_on_this_machine(web_app: FastAPI) -> None:
    with TestClient(web_app, client=("203.0.113.5", 4000)) as remote:
        assert remote.get("/sandbox/twilio/_sandbox/records").status_code == 403
    with TestClient(web_app, client=("127.0.0.1", 4000)) as local:
        assert local.get("/sandbox/twilio/_sandbox/records").status_code == 200
