"""Sign-in throttling keys on the real client address, believing ``X-Forwarded-For`` only from a proxy the
operator named in ``GATEWAY_TRUSTED_PROXIES``; and a locked account cannot be told from a wrong password."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.config import get_settings, load_settings
from gateway.models import StaffRole
from gateway.web.auth import AttemptLimiter, client_address
from tests.web.conftest import PASSWORD, TestClient, csrf_from

PROXY = "10.0.0.5"


def attempt(test_client: TestClient, username: str, forwarded_for: str | None, password: str = "wrong-pass") -> int:
    token = csrf_from(test_client.get("/login").text)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = test_client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                                headers=headers, follow_redirects=False)
    return int(response.status_code)


@pytest.fixture
def proxied_app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", f"{PROXY}, 192.168.10.0/24")
    get_settings.cache_clear()
    from gateway.web.app import create_app

    app = create_app()
    app.state.login_limiter = AttemptLimiter(max_failures=2)
    return app


@pytest.fixture
def via_proxy(proxied_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(proxied_app, base_url="http://127.0.0.1:8000", client=(PROXY, 40000)) as test_client:
        yield test_client


def test_forwarded_for_ignored_without_trusted_proxy(client: TestClient, web_app: FastAPI,
                                                     staff_accounts: dict[StaffRole, str]) -> None:
    web_app.state.login_limiter = AttemptLimiter(max_failures=2)
    # Each guess claims to come from somewhere else; with no trusted proxy that claim is ignored.
    assert attempt(client, "guess-1", "198.51.100.1") == 401
    assert attempt(client, "guess-2", "198.51.100.2") == 401
    assert attempt(client, staff_accounts[StaffRole.OFFICE], "198.51.100.3", PASSWORD) == 429
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"
    # uvicorn is told not to believe the header either (it would trust 127.0.0.1 by default).
    from gateway.web.server import build_server

    server = build_server(web_app, "127.0.0.1", 8000, load_settings(channels="sandbox"))
    assert server.config.proxy_headers is False


def test_forwarded_for_used_from_trusted_proxy(via_proxy: TestClient, proxied_app: FastAPI,
                                               staff_accounts: dict[StaffRole, str]) -> None:
    assert attempt(via_proxy, "guess-1", "198.51.100.1") == 401
    # A client writing its own X-Forwarded-For gains nothing: the proxy appends the real address last.
    assert attempt(via_proxy, "guess-2", "203.0.113.66, 198.51.100.1") == 401
    assert attempt(via_proxy, staff_accounts[StaffRole.OFFICE], "198.51.100.1", PASSWORD) == 429
    # Another school PC behind the same proxy is not blocked by the first one's failures.
    assert attempt(via_proxy, staff_accounts[StaffRole.OFFICE], "198.51.100.2", PASSWORD) == 303
    # A chain of trusted proxies is skipped to the first address none of them is.
    assert client_address(PROXY, "198.51.100.7, 192.168.10.4", proxied_app.state.settings.trusted_proxy_networks) \
        == "198.51.100.7"
    from gateway.web.server import build_server

    server = build_server(proxied_app, "127.0.0.1", 8000, proxied_app.state.settings)
    assert server.config.proxy_headers is True
    assert server.config.forwarded_allow_ips == f"{PROXY},192.168.10.0/24"


def test_trusted_proxies_setting_is_validated() -> None:
    from gateway.config import ConfigError

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings(trusted_proxies="10.0.0.5, not-an-address")


def count_hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each argon2 verification sign-in makes (the slow step whose absence would show in the timing)."""
    import gateway.staff as staff_module

    calls: list[str] = []
    original: Callable[..., bool] = staff_module.password_matches

    def counting(password_hash: str, password: str, *args: Any) -> bool:
        calls.append(password_hash)
        return original(password_hash, password, *args)

    monkeypatch.setattr(staff_module, "password_matches", counting)
    return calls


def test_locked_account_indistinguishable_from_wrong_password(
    client: TestClient, web_app: FastAPI, staff_accounts: dict[StaffRole, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.staff import MAX_FAILED_LOGINS

    username = staff_accounts[StaffRole.OFFICE]
    calls = count_hash_checks(monkeypatch)

    def answer(user: str, password: str) -> tuple[int, int, str]:
        web_app.state.login_limiter.reset("testclient")
        calls.clear()
        token = csrf_from(client.get("/login").text)
        response = client.post("/login", data={"username": user, "password": password, "csrf_token": token},
                               follow_redirects=False)
        return response.status_code, len(calls), response.text.replace(token, "")

    wrong = answer(username, "wrong-pass")
    unknown = answer("nobody-here", "wrong-pass")
    for _ in range(MAX_FAILED_LOGINS - 1):
        answer(username, "wrong-pass")  # now locked
    locked_wrong = answer(username, "wrong-pass")
    locked_right = answer(username, PASSWORD)
    assert wrong[0] == unknown[0] == locked_wrong[0] == locked_right[0] == 401
    # Every path verifies exactly one argon2 hash, so none answers faster than the others.
    assert wrong[1] == unknown[1] == locked_wrong[1] == locked_right[1] == 1
    # And the page says the same thing (the username is echoed back in the form either way).
    assert locked_wrong[2] == locked_right[2] == wrong[2]
