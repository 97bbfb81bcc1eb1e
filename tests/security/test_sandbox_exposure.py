"""Sandbox mode holds every message body and signs webhooks with its own token, so it must stay on this
machine: a token generated per install (never a published one), its REST API and pages answering loopback
clients only, and no silent sandbox on a public address."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from channels.twilio_signature import compute_signature
from gateway.config import SANDBOX_ACCOUNT_SID, SANDBOX_BANNER, ConfigError, get_settings, load_settings
from gateway.models import StaffRole
from tests.web.conftest import TestClient, sign_in

REPO = Path(__file__).resolve().parents[2]
MESSAGES = f"/sandbox/twilio/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json"
OLD_PUBLIC_TOKEN = "sandbox-auth-token"


def auth(token: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(SANDBOX_ACCOUNT_SID, token)


@pytest.fixture
def remote(web_app: FastAPI) -> Iterator[TestClient]:
    """A browser on another machine."""
    with TestClient(web_app, base_url="http://127.0.0.1:8000", client=("203.0.113.7", 5555)) as other:
        yield other


@pytest.fixture
def local(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 5555)) as here:
        yield here


def test_sandbox_token_generated_per_install(tmp_path: Path, client: TestClient, web_app: FastAPI) -> None:
    first = load_settings(channels="sandbox", var_dir=str(tmp_path / "one"), twilio_account_sid=None,
                          twilio_auth_token=None)
    second = load_settings(channels="sandbox", var_dir=str(tmp_path / "two"), twilio_account_sid=None,
                           twilio_auth_token=None)
    sid, token = first.twilio_credentials()
    assert sid == SANDBOX_ACCOUNT_SID
    assert len(token) >= 32 and token != OLD_PUBLIC_TOKEN
    assert second.twilio_credentials()[1] != token  # each install its own
    assert first.twilio_credentials()[1] == token  # and stable for the install (every process reads the file)
    token_file = tmp_path / "one" / "sandbox_twilio_token"
    assert token_file.read_text().strip() == token
    assert token_file.stat().st_mode & 0o777 == 0o600
    # The app's mounted sandbox and its webhooks use the install's token; the old published one opens nothing.
    install_token = get_settings().twilio_credentials()[1]
    assert web_app.state.twilio_sandbox.auth_token == install_token
    assert client.get(MESSAGES, auth=auth(OLD_PUBLIC_TOKEN)).status_code == 401
    assert client.get(MESSAGES, auth=auth(install_token)).status_code == 200
    params = {"MessageSid": "SM" + "1" * 32, "From": "+447700900123", "To": "+447700900000", "Body": "hello"}
    url = "http://127.0.0.1:8000/webhooks/twilio/sms"
    forged = client.post("/webhooks/twilio/sms", data=params,
                         headers={"X-Twilio-Signature": compute_signature(OLD_PUBLIC_TOKEN, url, params)})
    assert forged.status_code == 403


def test_sandbox_api_refuses_non_loopback_client(remote: TestClient, local: TestClient) -> None:
    token = get_settings().twilio_credentials()[1]
    assert local.get(MESSAGES, auth=auth(token)).status_code == 200
    assert local.get("/sandbox/twilio/_sandbox/records").status_code == 200
    # Another machine is refused even with the right token: the records hold every message body.
    assert remote.get(MESSAGES, auth=auth(token)).status_code == 403
    assert remote.post(MESSAGES, auth=auth(token), data={"To": "+447700900123", "Body": "x"}).status_code == 403
    assert remote.get("/sandbox/twilio/_sandbox/records").status_code == 403
    assert remote.post("/sandbox/twilio/_sandbox/reset").status_code == 403
    # A request relayed by a proxy on this machine is someone else's too.
    relayed = local.get(MESSAGES, auth=auth(token), headers={"X-Forwarded-For": "203.0.113.7"})
    assert relayed.status_code == 403


def test_sandbox_pages_refuse_non_loopback_client(remote: TestClient, local: TestClient,
                                                  staff_accounts: dict[StaffRole, str]) -> None:
    sign_in(local, staff_accounts[StaffRole.ADMIN])
    assert local.get("/sandbox/phones").status_code == 200
    sign_in(remote, staff_accounts[StaffRole.ADMIN])
    assert remote.get("/").status_code == 200  # the staff pages themselves may be used from anywhere
    for path in ("/sandbox/phones", "/sandbox/mailbox"):
        assert remote.get(path).status_code == 403, path
    assert remote.post("/sandbox/phones/reply", data={"number": "+447700900123", "body": "hi"}).status_code == 403


def _no_sandbox_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "GATEWAY_CHANNELS"):
        monkeypatch.delenv(name, raising=False)


def test_sandbox_refuses_public_url_unless_explicit(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.web.app import create_app
    from gateway.web.server import serve

    _no_sandbox_credentials(monkeypatch)
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://school.example")
    monkeypatch.setenv("TWILIO_API_URL", "https://api.twilio.com")  # so serve() leaves the environment alone
    get_settings.cache_clear()
    assert get_settings().sandbox  # the default, since no Twilio credentials are set
    with pytest.raises(ConfigError, match="GATEWAY_CHANNELS=sandbox"):
        create_app()
    with pytest.raises(ConfigError, match="GATEWAY_PUBLIC_URL"):
        serve("127.0.0.1", 8000, announce=lambda line: None)

    # Chosen on purpose: it starts, and every page says so.
    monkeypatch.setenv("GATEWAY_CHANNELS", "sandbox")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="https://school.example", client=("127.0.0.1", 5000)) as browser:
        assert SANDBOX_BANNER in browser.get("/login").text
        assert SANDBOX_BANNER in browser.get("/no-such-page").text
    # On this machine only (the usual demo), no banner is needed.
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as browser:
        assert SANDBOX_BANNER not in browser.get("/login").text
    get_settings.cache_clear()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gateway_serve_refuses_to_start_sandbox_on_public_url(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env.update(GATEWAY_DATABASE_URL=database_url, GATEWAY_VAR_DIR=str(tmp_path / "var"),
               GATEWAY_PUBLIC_URL="https://school.example", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(_free_port())],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "GATEWAY_CHANNELS=sandbox" in done.stderr
