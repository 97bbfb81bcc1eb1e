"""Twilio webhooks (placeholder: routes are added by the delivery-pipeline work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/webhooks/twilio")
