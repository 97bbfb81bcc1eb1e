"""``GET /healthz`` and ``GET /metrics``: open to the monitoring system, no login, no personal data."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.responses import Response

from gateway.db import get_engine
from gateway.metrics import CONTENT_TYPE, GatewayMetrics

log = logging.getLogger(__name__)
router = APIRouter()


def _check_database(request: Request) -> str | None:
    try:
        with get_engine(request.app.state.settings.database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy"; the type is enough to diagnose
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    try:
        from gateway.pipeline.broker import get_pipeline_broker

        broker = get_pipeline_broker()
        client = getattr(broker, "client", None)  # RedisBroker: ping the server
        if client is not None and hasattr(client, "ping"):
            client.ping()
        connection = getattr(broker, "connection", None)  # RabbitmqBroker: opening the channel proves it
        if connection is not None and hasattr(connection, "is_open") and not connection.is_open:
            return "ConnectionClosed"
    except Exception as exc:  # as above: report the failure, never raise from a health check
        return type(exc).__name__
    return None


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """200 ``{"status": "ok", ...}`` when the database and the broker answer; 503 naming what failed."""
    problems: dict[str, Any] = {}
    database = _check_database(request)
    broker = _check_broker()
    body = {"status": "ok", "database": database or "ok", "broker": broker or "ok"}
    if database or broker:
        body["status"] = "unavailable"
        problems.update(database=database, broker=broker)
        log.warning("health check failed", extra={k: v for k, v in problems.items() if v})
    return JSONResponse(body, status_code=503 if database or broker else 200,
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format, computed now from the outbox."""
    registry: GatewayMetrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
