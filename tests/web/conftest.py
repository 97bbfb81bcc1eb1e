"""Fixtures for the web app: an app on the test database, staff accounts of each role, a seeded family,
and a helper that signs a client in the way a browser does (reading the CSRF token from the form)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from gateway.models import (
    Adult,
    AttendanceMark,
    ContactKind,
    ContactPoint,
    Pupil,
    PupilContact,
    Restriction,
    School,
    StaffRole,
)
from gateway.staff import create_staff

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 package; httpx (what the project installs) still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
ABSENCE_DAY = date(2026, 11, 23)  # a Monday


@dataclass(frozen=True)
class SeededFamily:
    pupil_id: int
    sibling_id: int
    mother_id: int
    father_id: int
    father_link_id: int
    mother_number: str


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the session's CSRF token for later POSTs."""
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_from(page.text), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters in tests (the hashes still verify the same way; production keeps the defaults)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("gateway.staff._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def web_app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "test-secret-key-for-sessions-only")
    from gateway.config import get_settings
    from gateway.pipeline.broker import reset_broker, setup_broker

    get_settings.cache_clear()
    reset_broker()
    setup_broker("memory://")
    from gateway.web.app import create_app

    return create_app()


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def staff_accounts(session: Session) -> dict[StaffRole, str]:
    """One account per role; returns role -> username."""
    names = {}
    for role in StaffRole:
        username = f"{role.value}-user"
        create_staff(session, username=username, password=PASSWORD, role=role, display_name=f"{role.value} person")
        names[role] = username
    session.commit()
    return names


@pytest.fixture
def family(session: Session) -> SeededFamily:
    """Two siblings, their mother (Polish, SMS) and their father (no contact by DSL order); both absent."""
    school = School(name="Oakfield Primary School", phone="01632 960000", attendance_officer="Mrs Patel")
    session.add(school)
    session.flush()
    amira = Pupil(school_id=school.id, upn="A123456789012", forename="Amira", surname="Nowak", year_group="4",
                  home_language="pl")
    jan = Pupil(school_id=school.id, upn="A123456789013", forename="Jan", surname="Nowak", year_group="2",
                home_language="pl")
    mother = Adult(forename="Anna", surname="Nowak", title="Mrs", language="pl", channel_order="sms,email,voice")
    father = Adult(forename="Piotr", surname="Nowak", title="Mr", language="pl", channel_order="sms")
    session.add_all([amira, jan, mother, father])
    session.flush()
    session.add_all([
        PupilContact(pupil_id=amira.id, adult_id=mother.id, relationship_code="PAM", priority=1,
                     parental_responsibility=True),
        PupilContact(pupil_id=jan.id, adult_id=mother.id, relationship_code="PAM", priority=1,
                     parental_responsibility=True),
        ContactPoint(adult_id=mother.id, kind=ContactKind.MOBILE, value="+447700900123", sms_capable=True),
        ContactPoint(adult_id=father.id, kind=ContactKind.MOBILE, value="+447700900456", sms_capable=True),
        AttendanceMark(pupil_id=amira.id, date=ABSENCE_DAY, session="AM", code="N"),
        AttendanceMark(pupil_id=jan.id, date=ABSENCE_DAY, session="AM", code="N"),
    ])
    father_link = PupilContact(pupil_id=amira.id, adult_id=father.id, relationship_code="PAF", priority=2,
                               parental_responsibility=True, restriction=Restriction.NO_CONTACT)
    session.add(father_link)
    session.commit()
    return SeededFamily(amira.id, jan.id, mother.id, father.id, father_link.id, "+447700900123")
