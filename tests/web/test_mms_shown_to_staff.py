"""A parent's MMS (a photo of a doctor's note) reaches staff as "a picture was sent" wherever replies are
shown; the picture itself is never fetched (its URL is neither followed nor kept)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.twilio_signature import compute_signature
from gateway import clock
from gateway.config import get_settings
from gateway.models import InboundMessage, StaffRole
from gateway.pipeline.replies import process_inbound_message
from tests.web.conftest import SeededFamily, sign_in

if TYPE_CHECKING:
    from starlette.testclient import TestClient  # imported by conftest with its warning filter

PUBLIC_URL = "http://127.0.0.1:8000"
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/AC{0}/Messages/MM{0}/Media/ME{0}".format("f" * 32)


@pytest.fixture(autouse=True)
def school_morning() -> Iterator[None]:
    clock.set_clock(clock.FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    yield
    clock.set_clock(None)


def test_a_picture_reply_is_shown_as_a_picture_was_sent(client: TestClient, staff_accounts: dict[StaffRole, str],
                                                        family: SeededFamily, session: Session) -> None:
    token = sign_in(client, staff_accounts[StaffRole.ATTENDANCE_LEAD])
    started = client.post("/today/start", data={"csrf_token": token, "date": "2026-11-23"}, follow_redirects=False)
    assert started.status_code == 303
    sid = "MM" + "f" * 32
    params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "f" * 32,
              "From": family.mother_number, "To": "+447700900000", "Body": "", "NumMedia": "1", "NumSegments": "1",
              "MediaContentType0": "image/jpeg", "MediaUrl0": MEDIA_URL, "SmsStatus": "received",
              "ApiVersion": "2010-04-01"}
    _, auth_token = get_settings().twilio_credentials()
    signature = compute_signature(auth_token, PUBLIC_URL + "/webhooks/twilio/sms", params)
    response = client.post("/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    inbound = session.scalars(select(InboundMessage).where(InboundMessage.provider_sid == sid)).one()
    process_inbound_message(inbound.id)
    for page in (client.get("/inbox").text, client.get("/today/progress?date=2026-11-23").text,
                 client.get(f"/families/{family.pupil_id}").text):
        assert "a picture was sent" in page
        assert MEDIA_URL not in page and "“”" not in page  # no empty quote for the missing text
