"""Pipeline fixtures: a family in the database, a fixed gateway clock, a stub broker with in-process workers,
and in-memory channels (the end-to-end tests swap in the Twilio and SMTP sandboxes)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
import pytest
from sqlalchemy.orm import Session

from channels.base import OutgoingMessage, Receipt
from channels.memory import MemoryChannel
from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import (
    Adult,
    AttendanceMark,
    ContactKind,
    ContactPoint,
    Literacy,
    Pupil,
    PupilContact,
    School,
    StaffRole,
    StaffUser,
)
from gateway.pipeline import ports
from gateway.pipeline.actors import QUEUES
from gateway.pipeline.broker import reset_broker, setup_broker
from gateway.pipeline.ports import Content
from gateway.pipeline.worker import start_worker, stop_worker

LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 23)  # a Monday
MUM_MOBILE = "+447700900123"
DAD_MOBILE = "+447700900456"
GRAN_PHONE = "+441632960789"


def at(hh: int, mm: int, day: date = DAY) -> datetime:
    """An aware instant at local wall-clock time on ``day``."""
    return datetime.combine(day, time(hh, mm), LONDON)


def fake_render(kind: str, *, locale: str, channel: str, variant: str, context: Mapping[str, Any]) -> Content:
    """A stand-in for gateway.rendering: names the kind, locale and pupils so tests can assert on them."""
    names = "+".join(p["forename"] for p in context["pupils"])
    text = f"{kind}|{locale}|{channel}|{names}"
    if channel == "email":
        return Content(text=text, subject=f"subject {kind}", html=f"<p>{text}</p>")
    if channel == "voice":
        return Content(text=text, voice_language="en-GB", voice_name="Polly.Amy", voice_prompt="Press 1 if ill")
    return Content(text=text)


@dataclass
class Family:
    """The Nowak family: Ola and Kuba, their mother (Polish, SMS), father (non-resident, SMS), grandmother."""

    ola: int
    kuba: int
    mum: int
    dad: int
    gran: int
    dsl: int
    pupils: list[int] = field(default_factory=list)


def add_family(session: Session, *, marks: bool = True, day: date = DAY) -> Family:
    """Insert the family (and their N marks for ``day``) and commit."""
    school = School(name="Oakfield Primary", phone="01632 960000", attendance_officer="Mrs Khan")
    session.add(school)
    mum = Adult(forename="Anna", surname="Nowak", title="Mrs", language="pl", channel_order="sms,email,voice")
    mum.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=MUM_MOBILE, sms_capable=True, position=0))
    mum.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value="anna@example.org", position=1))
    dad = Adult(forename="Piotr", surname="Nowak", title="Mr", language="pl", channel_order="sms,voice")
    dad.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=DAD_MOBILE, sms_capable=True))
    gran = Adult(forename="Maria", surname="Kowalska", language="pl", channel_order="voice",
                 literacy=Literacy.VOICE)
    gran.contact_points.append(ContactPoint(kind=ContactKind.LANDLINE, value=GRAN_PHONE))
    pupils = []
    for upn, name in (("A123456789012", "Ola"), ("B123456789012", "Kuba")):
        pupil = Pupil(upn=upn, forename=name, surname="Nowak", school=school, home_language="pl")
        pupil.links.append(PupilContact(adult=mum, relationship_code="PAM", priority=1, parental_responsibility=True,
                                        lives_with_pupil=True))
        pupil.links.append(PupilContact(adult=dad, relationship_code="PAF", priority=2, parental_responsibility=True,
                                        lives_with_pupil=False))
        pupil.links.append(PupilContact(adult=gran, relationship_code="GRM", priority=3,
                                        parental_responsibility=False))
        session.add(pupil)
        pupils.append(pupil)
    dsl = StaffUser(username="dsl", display_name="Ms Patel", email="dsl@school.invalid", role=StaffRole.DSL,
                    password_hash="x")
    session.add(dsl)
    session.flush()
    if marks:
        for pupil in pupils:
            session.add(AttendanceMark(pupil_id=pupil.id, date=day, session="AM", code="N"))
    session.commit()
    return Family(ola=pupils[0].id, kuba=pupils[1].id, mum=mum.id, dad=dad.id, gran=gran.id, dsl=dsl.id,
                  pupils=[p.id for p in pupils])


@dataclass
class Pipeline:
    """A running in-process pipeline: the clock, the channels, and ``drain()`` to finish queued work."""

    clock: FixedClock
    broker: dramatiq.Broker
    worker: dramatiq.Worker
    sms: Any
    email: Any
    voice: Any

    def drain(self) -> None:
        """Wait until every queue is empty and every worker is idle."""
        for _ in range(3):  # actors enqueue follow-ups (fallbacks, thanks): join until quiet
            for queue in QUEUES:
                self.broker.join(queue, timeout=60_000)
            self.worker.join()

    @contextmanager
    def broker_paused(self) -> Iterator[None]:
        """Workers take nothing while inside (to inspect queued rows)."""
        self.worker.pause()
        try:
            yield
        finally:
            self.worker.resume()

    def tick(self) -> Any:
        """One scheduler pass at the current fixed time, then drain."""
        from gateway.pipeline.scheduler import tick

        report = tick()
        self.drain()
        return report


class NamedMemoryChannel(MemoryChannel):
    """Provider ids are unique across channels in real life (SM…, CA…, Message-ID); make the fakes agree."""

    def send(self, message: OutgoingMessage) -> Receipt:
        receipt = super().send(message)
        return replace(receipt, provider_id=f"{self.name}-{receipt.provider_id}")


class MemoryChannels:
    def __init__(self) -> None:
        self.sms, self.email = NamedMemoryChannel("sms"), NamedMemoryChannel("email")
        self.voice = NamedMemoryChannel("voice")

    def close(self) -> None:
        return None


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    """Stub broker + 2 worker threads + memory channels + a FixedClock at 09:15 on DAY."""
    fixed = FixedClock(at(9, 15))
    gateway_clock.set_clock(fixed)
    reset_broker()
    broker = setup_broker("memory://")
    channels = MemoryChannels()
    with ports.using(replace(ports.current(), render=fake_render, channels=channels)):
        worker = start_worker(threads=2, broker=broker)
        try:
            yield Pipeline(fixed, broker, worker, channels.sms, channels.email, channels.voice)
        finally:
            stop_worker(worker)
            reset_broker()
            gateway_clock.set_clock(None)
