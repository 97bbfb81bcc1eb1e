"""The Twilio sandbox's HTTP control API and its Twilio-shaped replies."""

from __future__ import annotations

import httpx

from channels.sandbox.twilio_api import TwilioSandbox


def _create(sandbox: TwilioSandbox, **params: str) -> httpx.Response:
    state = sandbox.state
    return httpx.post(f"{sandbox.url}/2010-04-01/Accounts/{state.account_sid}/Messages.json",
                      data=params, auth=(state.account_sid, state.auth_token))


def test_faults_set_over_http_are_played(sandbox: TwilioSandbox) -> None:
    spec = {"errors": {"+447700900901": {"code": 21610}}, "suffix_errors": {"902": {"code": 21614}},
            "fail_next": {"count": 1, "status": 503, "code": 20503}}
    assert httpx.post(f"{sandbox.url}/_sandbox/faults", json=spec).status_code == 200
    overloaded = _create(sandbox, To="+447700900123", From="+447700900000", Body="x")
    assert overloaded.status_code == 503 and overloaded.json()["code"] == 20503
    opted_out = _create(sandbox, To="+447700900901", From="+447700900000", Body="x")
    body = opted_out.json()
    assert opted_out.status_code == 400
    assert body == {"code": 21610, "message": body["message"], "more_info": "https://www.twilio.com/docs/errors/21610",
                    "status": 400}
    assert _create(sandbox, To="+447700900902", From="+447700900000", Body="x").json()["code"] == 21614
    assert httpx.post(f"{sandbox.url}/_sandbox/reset").status_code == 200
    assert _create(sandbox, To="+447700900901", From="+447700900000", Body="x").status_code == 201


def test_replies_look_like_twilios(sandbox: TwilioSandbox) -> None:
    created = _create(sandbox, To="+447700900123", From="+447700900000", Body="hello")
    assert created.status_code == 201
    body = created.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued" and body["to"] == "+447700900123"
    records = httpx.get(f"{sandbox.url}/_sandbox/records").json()
    assert [r["sid"] for r in records] == [body["sid"]]


def test_missing_or_wrong_fields_get_twilios_codes(sandbox: TwilioSandbox) -> None:
    assert _create(sandbox, From="+447700900000", Body="x").json()["code"] == 21604
    assert _create(sandbox, To="+447700900123", Body="x").json()["code"] == 21603
    assert _create(sandbox, To="+447700900123", From="+447700900000").json()["code"] == 21602
    assert _create(sandbox, To="07700 900123", From="+447700900000", Body="x").json()["code"] == 21211
    unauthorised = httpx.post(f"{sandbox.url}/2010-04-01/Accounts/{sandbox.state.account_sid}/Messages.json",
                              data={"To": "+447700900123"}, auth=("AC1", "nope"))
    assert unauthorised.status_code == 401 and unauthorised.json()["code"] == 20003
