"""Staff sessions live in the database: signing out ends them for good, signing in starts a new one, they
expire after 30 idle minutes and 12 hours at most, and the cookie carries nothing but a random token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.models import StaffRole, StaffSession
from gateway.web.sessions import SESSION_COOKIE
from tests.web.conftest import PASSWORD, TestClient, csrf_from, sign_in

BASE_URL = "http://127.0.0.1:8000"


@dataclass
class WallClock:
    """Stands in for ``gateway.web.sessions.wall_clock``: real time only moves when a test says so."""

    current: datetime

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    clock = WallClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    monkeypatch.setattr("gateway.web.sessions.wall_clock", clock)
    return clock


def browser(app: FastAPI, token: str | None = None) -> TestClient:
    """Another browser (say, an attacker's) presenting ``token`` as its session cookie."""
    other = TestClient(app, base_url=BASE_URL)
    if token is not None:
        other.cookies.set(SESSION_COOKIE, token)
    return other


def signed_in(test_client: TestClient) -> bool:
    return bool(test_client.get("/", follow_redirects=False).status_code == 200)


def test_cookie_captured_before_logout_is_rejected(client: TestClient, web_app: FastAPI,
                                                   staff_accounts: dict[StaffRole, str], wall: WallClock) -> None:
    csrf = sign_in(client, staff_accounts[StaffRole.OFFICE])
    captured = client.cookies[SESSION_COOKIE]
    with browser(web_app, captured) as attacker:
        assert signed_in(attacker)  # the copy works while the session lasts...
        response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert response.status_code == 303
        assert not signed_in(attacker)  # ...and not a moment after sign-out
        wall.advance(minutes=1)
        assert not signed_in(attacker)
    assert not signed_in(client)


def test_cookie_is_not_reissued_on_every_response(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                  wall: WallClock) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    wall.advance(minutes=5)
    response = client.get("/")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # no sliding cookie that never expires


def test_session_idle_timeout_30_minutes(client: TestClient, staff_accounts: dict[StaffRole, str],
                                         wall: WallClock) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    wall.advance(minutes=29)
    assert signed_in(client)  # activity keeps an idle session going...
    wall.advance(minutes=29)
    assert signed_in(client)
    wall.advance(minutes=30)
    assert not signed_in(client)  # ...but 30 minutes without a request end it


def test_session_absolute_limit_12_hours_not_extended(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                      wall: WallClock) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    for _ in range(35):  # a request every 20 minutes: never idle, up to 11 h 40
        wall.advance(minutes=20)
        assert signed_in(client)
    wall.advance(minutes=20)  # 12 hours after sign-in, 20 minutes after the last request
    assert not signed_in(client)


def test_session_expiry_uses_wall_clock_not_demo_clock(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                       wall: WallClock) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 24, 23, 0, tzinfo=UTC)))  # a demo clock a day ahead
    try:
        assert signed_in(client)
    finally:
        clock.set_clock(None)


def test_session_rotated_on_sign_in(client: TestClient, web_app: FastAPI, staff_accounts: dict[StaffRole, str],
                                    session: Session) -> None:
    form = client.get("/login")
    before = client.cookies[SESSION_COOKIE]  # the pre-sign-in session (it holds the form's CSRF token)
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": PASSWORD,
                                           "csrf_token": csrf_from(form.text)}, follow_redirects=False)
    assert response.status_code == 303
    after = client.cookies[SESSION_COOKIE]
    assert after != before
    assert signed_in(client)
    with browser(web_app, before) as planted:  # a cookie planted before sign-in never becomes a signed-in one
        assert not signed_in(planted)
    old_row = session.scalar(select(StaffSession).where(
        StaffSession.token_hash == hashlib.sha256(before.encode()).hexdigest()))
    assert old_row is None or old_row.revoked_at is not None

    csrf = sign_in(client, staff_accounts[StaffRole.ADMIN])  # signing in again rotates again
    assert csrf
    with browser(web_app, after) as earlier:
        assert not signed_in(earlier)


def test_session_token_stored_only_as_hash(client: TestClient, staff_accounts: dict[StaffRole, str],
                                           session: Session) -> None:
    sign_in(client, staff_accounts[StaffRole.OFFICE])
    token = client.cookies[SESSION_COOKIE]
    rows = session.scalars(select(StaffSession).where(StaffSession.revoked_at.is_(None),
                                                      StaffSession.staff_id.is_not(None))).all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in repr(rows[0].data)


def test_flash_cookie_carries_no_names(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    form = client.get("/login")
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": PASSWORD,
                                           "csrf_token": csrf_from(form.text)}, follow_redirects=False)
    name = "office person"  # the display name the sign-in notice shows
    cookies = response.headers.get_list("set-cookie")
    assert cookies, "sign-in must issue a new session cookie"
    for header in cookies:
        assert name not in header.lower()
        assert "signed in" not in header.lower()
    token = client.cookies[SESSION_COOKIE]
    assert "." not in token and len(token) < 64  # a bare random token, not a signed payload
    page = client.get("/")
    assert f"Signed in as {name}." in page.text  # the notice itself still reaches the page, from the server
    assert f"Signed in as {name}." not in client.get("/").text  # once
