"""The Twilio webhooks as mounted in the web app: no login, no CSRF, but a forged or replayed request changes
nothing (the routes themselves are the pipeline's; these tests check them through this app)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.twilio_signature import compute_signature
from gateway.config import get_settings
from gateway.models import InboundMessage
from tests.web.conftest import SeededFamily, TestClient

PUBLIC_URL = "http://127.0.0.1:8000"


def inbound_params(sid: str, body: str = "Amira is ill today") -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+447700900123",
            "To": "+447700900000", "Body": body, "NumMedia": "0"}


def signed(params: dict[str, str], url: str = PUBLIC_URL + "/webhooks/twilio/sms",
           token: str | None = None) -> dict[str, str]:
    """Signed as Twilio signs, with this install's sandbox token unless ``token`` is given."""
    return {"X-Twilio-Signature": compute_signature(token or get_settings().twilio_credentials()[1], url, params)}


def inbound_count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def test_signed_text_is_recorded_once_even_when_replayed(client: TestClient, family: SeededFamily,
                                                         session: Session) -> None:
    params = inbound_params("SM" + "1" * 32)
    first = client.post("/webhooks/twilio/sms", data=params, headers=signed(params))
    replay = client.post("/webhooks/twilio/sms", data=params, headers=signed(params))
    assert (first.status_code, replay.status_code) == (200, 200)
    assert inbound_count(session) == 1


def test_forged_signature_changes_nothing(client: TestClient, family: SeededFamily, session: Session) -> None:
    params = inbound_params("SM" + "2" * 32)
    wrong_key = client.post("/webhooks/twilio/sms", data=params, headers=signed(params, token="not-the-token"))
    missing = client.post("/webhooks/twilio/sms", data=params)
    assert (wrong_key.status_code, missing.status_code) == (403, 403)
    assert inbound_count(session) == 0


def test_tampered_body_changes_nothing(client: TestClient, family: SeededFamily, session: Session) -> None:
    params = inbound_params("SM" + "3" * 32)
    headers = signed(params)
    tampered = {**params, "Body": "Cancel everything"}
    assert client.post("/webhooks/twilio/sms", data=tampered, headers=headers).status_code == 403
    assert inbound_count(session) == 0


def test_signature_over_another_url_is_refused(client: TestClient, family: SeededFamily, session: Session) -> None:
    params = inbound_params("SM" + "4" * 32)
    headers = signed(params, url="http://internal-host:9000/webhooks/twilio/sms")
    assert client.post("/webhooks/twilio/sms", data=params, headers=headers).status_code == 403
    assert inbound_count(session) == 0


def test_webhooks_need_no_login_nor_csrf_and_are_counted(client: TestClient, family: SeededFamily) -> None:
    params = inbound_params("SM" + "5" * 32)
    assert client.post("/webhooks/twilio/sms", data=params, headers=signed(params)).status_code == 200
    metrics = client.get("/metrics").text
    assert 'gateway_webhook_requests_total{route="sms",status="200"}' in metrics
