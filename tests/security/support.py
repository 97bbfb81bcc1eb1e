"""Shared moves for the security tests: restrict an adult, put an address on someone's record, see what left."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from channels.base import OutgoingMessage
from channels.twilio_signature import compute_signature
from gateway.config import get_settings
from gateway.models import ContactKind, ContactPoint, PupilContact, Restriction
from tests.pipeline.conftest import Pipeline

PUBLIC = "https://gateway.school.example"
DAD_EMAIL = "Piotr.Nowak@Example.org"


def restrict(session: Session, adult_id: int, restriction: Restriction) -> None:
    """Set ``restriction`` on every link of the adult (no approval recorded) and commit."""
    session.execute(update(PupilContact).where(PupilContact.adult_id == adult_id)
                    .values(restriction=restriction, dsl_approved_at=None, dsl_approved_by=None))
    session.commit()


def add_point(session: Session, adult_id: int, value: str, *, position: int = 0) -> int:
    """Put ``value`` (E.164 mobile or e-mail) on the adult's record and commit; returns the point's id."""
    email = "@" in value
    point = ContactPoint(adult_id=adult_id, kind=ContactKind.EMAIL if email else ContactKind.MOBILE, value=value,
                         sms_capable=not email, position=position)
    session.add(point)
    session.commit()
    return point.id


def remove_point(session: Session, adult_id: int, value: str) -> None:
    session.execute(delete(ContactPoint).where(ContactPoint.adult_id == adult_id, ContactPoint.value == value))
    session.commit()


def sent_to(pipeline: Pipeline, address: str) -> list[OutgoingMessage]:
    """Everything any channel handed to the far end for ``address`` (compared case-insensitively)."""
    return [m for channel in (pipeline.sms, pipeline.email, pipeline.voice) for m in channel.outbox
            if m.to.lower() == address.lower()]


class TwilioPoster:
    """Posts to the webhooks the way Twilio does: signed over the public URL."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, path: str, params: dict[str, str]) -> httpx.Response:
        _, token = get_settings().twilio_credentials()
        signature = compute_signature(token, PUBLIC + path, params)

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return await http.post(path, data=params, headers={"X-Twilio-Signature": signature})

        return asyncio.run(call())
