"""Sandbox pages (only with ``GATEWAY_CHANNELS=sandbox``): what each parent's phone received, a way to reply
as that parent, and the SMTP sandbox's mailbox.

A reply typed here goes the whole real way: it is signed with the Twilio auth token over the public URL,
exactly as Twilio signs, and POSTed over HTTP to this server's ``/webhooks/twilio/sms``.
"""

from __future__ import annotations

import html
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from channels.twilio_signature import compute_signature
from gateway.models import Adult, ContactPoint, InboundMessage
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession, app_settings
from gateway.web.templating import flash, render

router = APIRouter(prefix="/sandbox", dependencies=STAFF_DEPENDENCIES)
SANDBOX_FROM = "+447700900000"


@dataclass
class Phone:
    """One parent's phone as the sandbox saw it: texts and calls to it, replies from it, oldest first."""

    number: str
    owner: str
    items: list[dict[str, Any]] = field(default_factory=list)


def _sandbox_state(request: Request) -> Any:
    if not app_settings(request).sandbox or request.app.state.twilio_sandbox is None:
        raise HTTPException(status_code=404, detail="The sandbox is only available in sandbox mode.")
    return request.app.state.twilio_sandbox


def spoken_text(twiml: str | None) -> str:
    """What the parent heard on a call: the text of each ``<Say>`` in the TwiML the gateway answered."""
    if not twiml:
        return "Voice call (not answered yet)"
    said = [html.unescape(part).strip() for part in re.findall(r"<Say[^>]*>(.*?)</Say>", twiml, re.DOTALL)]
    return "\n".join(s for s in said if s) or "Voice call"


@router.get("/phones")
def phones_page(request: Request, db: DbSession) -> Response:
    """Every number the sandbox sent to, with what arrived and what the parent answered."""
    state = _sandbox_state(request)
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in state.messages():
        by_number[record.params.get("To", "")].append(
            {"direction": "in", "kind": "text", "text": record.params.get("Body", ""), "status": record.status,
             "at": record.received_at})
    for record in state.calls():
        by_number[record.params.get("To", "")].append(
            {"direction": "in", "kind": "call", "text": spoken_text(record.twiml), "status": record.status,
             "at": record.received_at})
    numbers = [n for n in by_number if n]
    owners: dict[str, str] = {}
    if numbers:
        for value, forename, surname in db.execute(
            select(ContactPoint.value, Adult.forename, Adult.surname).join(Adult, Adult.id == ContactPoint.adult_id)
            .where(ContactPoint.value.in_(numbers))
        ):
            owners.setdefault(value, f"{forename} {surname}")
        for reply in db.scalars(select(InboundMessage).where(InboundMessage.from_number.in_(numbers))):
            by_number[reply.from_number].append(
                {"direction": "out", "kind": reply.source, "text": reply.body, "status": "sent",
                 "at": reply.received_at.timestamp()})
    phones = [Phone(number, owners.get(number, "Unknown number"), sorted(items, key=lambda i: i["at"]))
              for number, items in sorted(by_number.items()) if number]
    return render(request, "sandbox_phones.html", {"phones": phones})


def post_signed_reply(target_base: str, public_url: str, auth_token: str, sender: str, body: str) -> int:
    """POST an inbound text to the real webhook, signed as Twilio signs (over the public URL)."""
    path = "/webhooks/twilio/sms"
    sid = "SM" + uuid.uuid4().hex
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
              "To": SANDBOX_FROM, "Body": body, "NumMedia": "0"}
    signature = compute_signature(auth_token, public_url + path, params)
    with httpx.Client(timeout=10.0) as client:
        response = client.post(target_base.rstrip("/") + path, data=params,
                               headers={"X-Twilio-Signature": signature})
    return response.status_code


@router.post("/phones/reply")
def reply_as_parent(request: Request, number: Annotated[str, Form(max_length=32)],
                    body: Annotated[str, Form(min_length=1, max_length=1600)]) -> Response:
    """Send a text from this parent's phone to the school, through the signed webhook."""
    _sandbox_state(request)
    settings = app_settings(request)
    _, auth_token = settings.twilio_credentials()
    target = request.app.state.local_url or str(request.base_url)
    try:
        status = post_signed_reply(target, settings.public_url, auth_token, number, body)
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=502, detail=f"The webhook did not answer ({type(exc).__name__}).") from exc
    if status == 200:
        flash(request, "Reply sent through the webhook.", "good")
    else:
        flash(request, f"The webhook refused the reply (HTTP {status}).", "warn")
    return RedirectResponse(f"/sandbox/phones#phone-{number.lstrip('+')}", status_code=303)


@router.get("/mailbox")
def mailbox_page(request: Request) -> Response:
    """What the SMTP sandbox received, newest first."""
    _sandbox_state(request)
    mailbox = request.app.state.mailbox
    mails: list[dict[str, str]] = []
    for received in reversed(mailbox.messages() if mailbox is not None else []):
        message = received.message
        body = message.get_body(preferencelist=("plain",))
        mails.append({"to": ", ".join(received.rcpt_tos), "subject": str(message.get("Subject", "")),
                      "date": str(message.get("Date", "")), "text": body.get_content() if body else ""})
    return render(request, "sandbox_mailbox.html", {"mails": mails, "running": mailbox is not None})



