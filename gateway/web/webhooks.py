"""Twilio webhooks: inbound texts, status callbacks, and the TwiML for voice calls and their keypad answers.

Every route checks ``X-Twilio-Signature`` against GATEWAY_PUBLIC_URL + path (+ query string), the URL Twilio
signed, never ``request.url`` (which behind a TLS proxy is not the public one), with the auth token from
``settings.twilio_credentials()``; anything else gets 403 and changes nothing. Twilio retries a webhook that
was slow or failed, so each route is idempotent: an inbound text is stored once per MessageSid, a keypad
answer once per CallSid + digits, and status callbacks only ever move a message forward. Routes answer fast:
they record the row, commit, and leave the work to a worker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from channels.twilio_signature import is_valid_signature
from gateway.config import get_settings
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import OutboxMessage
from gateway.pipeline import collaborators
from gateway.pipeline.outbox import enqueue_inbound, enqueue_sends, from_json_context
from gateway.pipeline.replies import record_inbound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
XML = "application/xml"
STATUS_ATTEMPTS = 6
STATUS_RETRY_SECONDS = 0.25


async def signed_params(request: Request) -> dict[str, str]:
    """The POST parameters, once the signature over the public URL proves Twilio sent them (else 403)."""
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    settings = get_settings()
    url = settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    _, auth_token = settings.twilio_credentials()
    if not is_valid_signature(auth_token, url, params, request.headers.get("X-Twilio-Signature")):
        log.warning("webhook with a bad signature refused", extra={"path": request.url.path})
        raise HTTPException(status_code=403, detail="invalid signature")
    return params


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """A parent's text: stored once per MessageSid, processed by a worker; Twilio gets empty TwiML."""
    params = await signed_params(request)
    sid = params.get("MessageSid") or params.get("SmsSid")
    sender = params.get("From")
    if not sid or not sender:
        raise HTTPException(status_code=400, detail="MessageSid and From are required")
    inbound_id, created = await run_in_threadpool(
        _store_inbound, provider_sid=sid, from_number=sender, to_number=params.get("To"), body=params.get("Body", ""))
    log.info("inbound text", extra={"from": redact(sender), "inbound_id": inbound_id, "retry": not created})
    return Response(EMPTY_TWIML, media_type=XML)


def _store_inbound(**fields: Any) -> tuple[int, bool]:
    """Store a reply once (commit) and hand it to a worker; blocking, so handlers run it in the threadpool."""
    with session_scope() as session:
        inbound_id, created = record_inbound(session, **fields)
    if created:
        enqueue_inbound(inbound_id)
    return inbound_id, created


def _apply_status_now(update: Any) -> Any:
    from gateway.pipeline.status import apply_status

    with session_scope() as session:
        return apply_status(session, update)


@router.post("/status")
async def status_callback(request: Request) -> Response:
    """A message or call status callback: applied forward-only; a permanent failure falls back at once."""
    params = await signed_params(request)
    try:
        update = collaborators.parse_status_callback(params)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    for attempt in range(STATUS_ATTEMPTS):
        result = await run_in_threadpool(_apply_status_now, update)
        if result.state is not None or attempt == STATUS_ATTEMPTS - 1:
            break
        # Unknown provider id: the callback can overtake the worker's commit of that id (a fast provider).
        # Twilio does not retry status callbacks, so wait a moment here rather than lose the status.
        await asyncio.sleep(STATUS_RETRY_SECONDS)
    if result.enqueue:
        await run_in_threadpool(enqueue_sends, result.enqueue)
    return Response(status_code=204)


def _outbox_row(message_id: int) -> OutboxMessage:
    with session_scope() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None or row.channel != "voice":
            raise HTTPException(status_code=404, detail="no such call")
        session.expunge(row)
        return row


@router.post("/voice/{message_id}")
async def voice_twiml(message_id: int, request: Request) -> Response:
    """TwiML for a call: the message and a keypad question for a person; a short message for a voicemail."""
    params = await signed_params(request)
    row = await run_in_threadpool(_outbox_row, message_id)
    answered_by = params.get("AnsweredBy") or ""
    if answered_by.startswith(("machine", "fax")):
        twiml = collaborators.voice_twiml("voicemail", spoken_text=row.text, voice_language=row.voice_language,
                                          voice_name=row.voice_name)
    else:
        settings = get_settings()
        twiml = collaborators.voice_twiml(
            "call", spoken_text=row.text, voice_language=row.voice_language, voice_name=row.voice_name,
            gather_action_url=f"{settings.public_url}/webhooks/twilio/voice/{message_id}/gather",
            prompt=row.voice_prompt or "")
    return Response(twiml, media_type=XML)


def _thanks_text(row: OutboxMessage) -> str:
    try:
        content = collaborators.render("reply_thanks", locale=row.locale, channel="voice", variant=row.variant,
                                       context=from_json_context(row.context))
        return content.text
    except Exception:  # never leave a parent on a silent line because a template failed
        log.exception("reply_thanks voice rendering failed", extra={"outbox_id": row.id})
        return "Thank you."


@router.post("/voice/{message_id}/gather")
async def voice_gather(message_id: int, request: Request) -> Response:
    """A keypad answer: stored once per CallSid + digits, processed like a text reply; thanks the caller."""
    params = await signed_params(request)
    row = await run_in_threadpool(_outbox_row, message_id)
    digits = (params.get("Digits") or "").strip()
    call_sid = params.get("CallSid") or f"call-{message_id}"
    if digits:
        await run_in_threadpool(_store_inbound, provider_sid=f"{call_sid}:{digits}", from_number=row.to_address,
                                to_number=params.get("From"), body=digits, source="voice", outbox_id=message_id)
    thanks = await run_in_threadpool(_thanks_text, row)
    twiml = collaborators.voice_twiml("gather_reply", thanks_text=thanks,
                                      voice_language=row.voice_language, voice_name=row.voice_name)
    return Response(twiml, media_type=XML)

