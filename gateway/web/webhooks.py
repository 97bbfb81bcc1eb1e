"""Twilio webhooks: inbound texts, status callbacks, and the TwiML for voice calls and their keypad answers.

Every route checks ``X-Twilio-Signature`` against GATEWAY_PUBLIC_URL + path (+ query string), the URL Twilio
signed, never ``request.url`` (which behind a TLS proxy is not the public one), with the auth token from
``settings.twilio_credentials()``; anything else gets 403 and changes nothing. Twilio retries a webhook that
was slow or failed, so each route is idempotent: an inbound text is stored once per MessageSid, a keypad
answer once per CallSid + digits, and status callbacks only ever move a message forward. Routes answer fast:
they record the row, commit, and leave the work to a worker.

Every route also answers with a trailing slash (Twilio does not follow a redirect for a POST). An MMS is
recorded as ``num_media`` only: its MediaUrl is never fetched. Twilio's Advanced Opt-Out verdict
(``OptOutType``) is stored with the text for the worker, which trusts it (pipeline.keywords).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from channels.twilio_signature import is_valid_signature
from gateway.config import get_settings
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import OutboxMessage
from gateway.pipeline import collaborators
from gateway.pipeline.outbox import enqueue_inbound, enqueue_sends, from_json_context
from gateway.pipeline.replies import record_inbound
from gateway.pipeline.status import NOT_OURS, status_word

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
XML = "application/xml"
STATUS_ATTEMPTS = 6
STATUS_RETRY_SECONDS = 0.25
# Said before hanging up on a call that may no longer speak: nothing about any child, nothing about why.
NO_LONGER_NEEDED = "Sorry, this call is no longer needed. Goodbye."


async def signed_params(request: Request) -> dict[str, str]:
    """The POST parameters, once the signature over the public URL proves Twilio sent them (else 403).

    The form reaches the validator whole (a repeated key keeps every value: Twilio signs them all); a JSON body
    is checked against ``bodySHA256`` in the query string. The URL is the one Twilio called, trailing slash
    included. Returned: one value per name (the last, for a repeated one)."""
    settings = get_settings()
    url = settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    _, auth_token = settings.twilio_credentials()
    signed: list[tuple[str, str]] | str
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        signed = (await request.body()).decode("utf-8", errors="replace")
        params = _json_params(signed)
    else:
        signed = [(key, str(value)) for key, value in (await request.form()).multi_items()]
        params = dict(signed)
    if not is_valid_signature(auth_token, url, signed, request.headers.get("X-Twilio-Signature")):
        log.warning("webhook with a bad signature refused", extra={"path": request.url.path})
        raise HTTPException(status_code=403, detail="invalid signature")
    return params


def _json_params(body: str) -> dict[str, str]:
    """A JSON body's top-level scalar fields, as strings (nothing when it is not a JSON object)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float | bool)}


def _media_count(value: str | None) -> int:
    """``NumMedia`` (an MMS's attachments; absent or nonsense means none)."""
    text = (value or "").strip()
    return int(text) if text.isdigit() else 0


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """A parent's text: stored once per MessageSid, processed by a worker; Twilio gets empty TwiML."""
    params = await signed_params(request)
    sid = params.get("MessageSid") or params.get("SmsSid")
    sender = params.get("From")
    if not sid or not sender:
        raise HTTPException(status_code=400, detail="MessageSid and From are required")
    num_media = _media_count(params.get("NumMedia"))  # MediaUrl0… are never fetched: staff see that media came
    inbound_id, created = await run_in_threadpool(
        _store_inbound, provider_sid=sid, from_number=sender, to_number=params.get("To"), body=params.get("Body", ""),
        num_media=num_media, opt_out_type=(params.get("OptOutType") or "").strip().upper() or None)
    log.info("inbound text", extra={"from": redact(sender), "inbound_id": inbound_id, "retry": not created,
                                    "num_media": num_media})
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
    """A message or call status callback: applied forward-only; a permanent failure falls back at once.

    Every status Twilio documents is accepted, and one it adds later is recorded and answered 204 too (Twilio
    retries a callback refused with an error); only a request naming no message or call is refused (400)."""
    params = await signed_params(request)
    try:
        update = collaborators.parse_status_callback(params)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    attempts = 1 if status_word(update) in NOT_OURS else STATUS_ATTEMPTS
    for attempt in range(attempts):
        result = await run_in_threadpool(_apply_status_now, update)
        if result.state is not None or attempt == attempts - 1:
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


def _call_barred(row: OutboxMessage) -> str | None:
    """Why this call may no longer say anything (its adult may not be contacted now, or the number it reached
    is held by an adult who may not be): a restriction set after the call was placed still stops it."""
    from gateway.safeguarding import blocked_address_reason, blocked_reason

    with session_scope() as session:
        reason = blocked_reason(session, row.adult_id) if row.adult_id is not None else None
        return reason or blocked_address_reason(session, row.to_address)


def _polite_hangup() -> Response:
    """A neutral goodbye that says nothing about any child, then hang up."""
    twiml = collaborators.voice_twiml("gather_reply", thanks_text=NO_LONGER_NEEDED, voice_language="en-GB",
                                      voice_name=None)
    return Response(twiml, media_type=XML)


def _gather_url(message_id: int) -> str:
    return f"{get_settings().public_url}/webhooks/twilio/voice/{message_id}/gather"


@router.post("/voice/{message_id}")
async def voice_twiml(message_id: int, request: Request) -> Response:
    """TwiML for a call: the message and a keypad question for a person; a short message for a voicemail.
    Served only while the adult may still be contacted and no restricted adult holds the number; otherwise
    a polite hang-up that says nothing about the child."""
    params = await signed_params(request)
    row = await run_in_threadpool(_outbox_row, message_id)
    barred = await run_in_threadpool(_call_barred, row)
    if barred is not None:
        log.warning("call answered after contact was barred: hung up", extra={"outbox_id": row.id, "reason": barred})
        return _polite_hangup()
    answered_by = params.get("AnsweredBy") or ""
    if answered_by.startswith(("machine", "fax")):
        twiml = collaborators.voice_twiml("voicemail", spoken_text=row.text, voice_language=row.voice_language,
                                          voice_name=row.voice_name)
    else:
        twiml = collaborators.voice_twiml(
            "call", spoken_text=row.text, voice_language=row.voice_language, voice_name=row.voice_name,
            gather_action_url=_gather_url(message_id), prompt=row.voice_prompt or "")
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
    """A keypad answer: stored once per CallSid + digits, processed like a text reply; thanks the caller.

    Only a digit the call offered counts: any other (or none) replays the prompt and stores nothing. On a
    call its adult may no longer receive (or to a number a restricted adult holds) the answer is kept for the
    DSL only (the worker flags it) and the caller hears a neutral goodbye, never thanks."""
    params = await signed_params(request)
    row = await run_in_threadpool(_outbox_row, message_id)
    digits = (params.get("Digits") or "").strip()
    call_sid = params.get("CallSid") or f"call-{message_id}"
    offered = digits in collaborators.keypad_codes()
    barred = await run_in_threadpool(_call_barred, row)
    if offered:
        await run_in_threadpool(_store_inbound, provider_sid=f"{call_sid}:{digits}", from_number=row.to_address,
                                to_number=params.get("From"), body=digits, source="voice", outbox_id=message_id)
    if barred is not None:
        return _polite_hangup()
    if not offered:
        twiml = collaborators.voice_twiml(
            "call", spoken_text=row.voice_prompt or row.text, voice_language=row.voice_language,
            voice_name=row.voice_name, gather_action_url=_gather_url(message_id), prompt="")
        return Response(twiml, media_type=XML)
    thanks = await run_in_threadpool(_thanks_text, row)
    twiml = collaborators.voice_twiml("gather_reply", thanks_text=thanks,
                                      voice_language=row.voice_language, voice_name=row.voice_name)
    return Response(twiml, media_type=XML)


def _accept_trailing_slash(routes_of: APIRouter) -> None:
    """Serve every route also with a trailing slash: Twilio does not follow a redirect for a POST, and a
    webhook URL typed with a slash in the console must work (the signature covers the URL as called)."""
    for route in list(routes_of.routes):
        if isinstance(route, APIRoute) and not route.path.endswith("/"):
            routes_of.add_api_route(route.path.removeprefix(routes_of.prefix) + "/", route.endpoint,
                                    methods=sorted(route.methods or ()), name=f"{route.name}_slash",
                                    include_in_schema=False)


_accept_trailing_slash(router)  # last: after every route above is declared
