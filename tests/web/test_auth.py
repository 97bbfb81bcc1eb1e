"""Signing in: every staff page needs it, passwords are checked, repeated failures lock, cookies are safe."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AuditEntry, StaffRole, StaffUser
from gateway.staff import MAX_FAILED_LOGINS
from tests.web.conftest import PASSWORD, TestClient, csrf_from, sign_in


def staff_routes(app: FastAPI, method: str) -> list[str]:
    """Every staff page route for ``method`` (all of gateway.web.pages), with path parameters filled in."""
    from gateway.web.pages import ROUTERS

    paths = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and method in route.methods:
                paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    return paths


def test_every_staff_page_redirects_to_login_when_signed_out(client: TestClient, web_app: FastAPI) -> None:
    pages = staff_routes(web_app, "GET")
    assert {"/", "/inbox", "/families", "/milestones", "/templates", "/settings", "/sandbox/phones"} <= set(pages)
    for path in pages:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path


def test_every_staff_form_redirects_to_login_when_signed_out(client: TestClient, web_app: FastAPI) -> None:
    for path in staff_routes(web_app, "POST"):
        response = client.post(path, data={"csrf_token": "x"}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path


def test_login_then_the_page_asked_for(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    first = client.get("/inbox", follow_redirects=False)
    assert first.headers["location"] == "/login?next=/inbox"
    form = client.get(first.headers["location"])
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": PASSWORD,
                                           "csrf_token": csrf_from(form.text), "next": "/inbox"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    assert client.get("/inbox").status_code == 200


def test_login_never_redirects_off_site(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    form = client.get("/login")
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": PASSWORD,
                                           "csrf_token": csrf_from(form.text), "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"


def test_wrong_password_fails(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    form = client.get("/login")
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": "wrong-pass",
                                           "csrf_token": csrf_from(form.text)}, follow_redirects=False)
    assert response.status_code == 401
    assert "did not match" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_unknown_user_gets_the_same_answer(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    form = client.get("/login")
    response = client.post("/login", data={"username": "nobody", "password": "wrong-pass",
                                           "csrf_token": csrf_from(form.text)})
    assert response.status_code == 401
    assert "did not match" in response.text


def test_repeated_failures_lock_the_account(client: TestClient, staff_accounts: dict[StaffRole, str],
                                            session: Session) -> None:
    username = staff_accounts[StaffRole.OFFICE]
    token = csrf_from(client.get("/login").text)
    for _ in range(MAX_FAILED_LOGINS):
        client.post("/login", data={"username": username, "password": "wrong-pass", "csrf_token": token})
    locked = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert locked.status_code == 401  # the right password does not open a locked account
    staff = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
    session.refresh(staff)
    assert staff.locked_until is not None
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.staff_id == staff.id)).all()
    assert "account_locked" in actions


def test_one_address_is_throttled_across_usernames(client: TestClient, web_app: FastAPI,
                                                   staff_accounts: dict[StaffRole, str]) -> None:
    limiter = web_app.state.login_limiter
    token = csrf_from(client.get("/login").text)
    for attempt in range(limiter.max_failures):
        client.post("/login", data={"username": f"guess-{attempt}", "password": "wrong-pass", "csrf_token": token})
    response = client.post("/login", data={"username": staff_accounts[StaffRole.ADMIN], "password": PASSWORD,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 429


def test_session_cookie_is_http_only_and_same_site(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    form = client.get("/login")
    response = client.post("/login", data={"username": staff_accounts[StaffRole.OFFICE], "password": PASSWORD,
                                           "csrf_token": csrf_from(form.text)}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here; see the https test


def test_session_cookie_is_secure_behind_https(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://school.example")
    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")  # chosen on purpose: the sandbox on a public URL
    from gateway.config import get_settings
    from gateway.web.app import create_app

    get_settings.cache_clear()
    with TestClient(create_app(), base_url="https://school.example") as https_client:
        response = https_client.get("/login")
    assert "secure" in response.headers["set-cookie"].lower()


def test_sign_out_ends_the_session(client: TestClient, staff_accounts: dict[StaffRole, str]) -> None:
    token = sign_in(client, staff_accounts[StaffRole.OFFICE])
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
