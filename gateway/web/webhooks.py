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
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from channels.status import StatusUpdate
from channels.twilio_signature import is_valid_signature
from gateway.config import get_settings
from gateway.db import session_scope
from gateway.logging_setup import redact
from gateway.models import InboundMessage, OutboxMessage
from gateway.pipeline import ports
from gateway.pipeline.outbox import from_json_context
from gateway.pipeline.replies import record_inbound
from gateway.pipeline.status import NOT_OURS, StatusResult, apply_status, status_word
from gateway.web.group_commit import GroupCommit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
XML = "application/xml"
STATUS_ATTEMPTS = 6
STATUS_RETRY_SECONDS = 0.25
# Said before hanging up on a call that may no longer speak: nothing about any child, nothing about why.
NO_LONGER_NEEDED = "Sorry, this call is no longer needed. Goodbye."
MAX_FORM_FIELDS = 1000  # as Starlette's form parser


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
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        signed = (await request.body()).decode("utf-8", errors="replace")
        params = _json_params(signed)
    elif content_type == "application/x-www-form-urlencoded":
        # What Twilio sends: parsed as Starlette's form parser does (raw bytes as Latin-1, %-escapes as UTF-8,
        # at most 1,000 fields), at a tenth of its cost on this hot path.
        try:
            signed = parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True,
                               max_num_fields=MAX_FORM_FIELDS)
        except ValueError as exc:  # too many fields
            raise HTTPException(status_code=400, detail="too many form fields") from exc
        params = dict(signed)
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
    """``NumMedia`` (an MMS's attachments, at most 10; absent or nonsense means none). Only ASCII digits, and
    few of them: ``"²"`` is a digit to ``str.isdigit`` but not to ``int``, and a 20-digit count would overflow
    the column and fail the text at every retry."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else 0


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """A parent's text: stored once per MessageSid, processed by a worker; Twilio gets empty TwiML."""
    params = await signed_params(request)
    sid = params.get("MessageSid") or params.get("SmsSid")
    sender = params.get("From")
    if not sid or not sender:
        raise HTTPException(status_code=400, detail="MessageSid and From are required")
    num_media = _media_count(params.get("NumMedia"))  # MediaUrl0… are never fetched: staff see that media came
    # Texts arriving together share one transaction (answered only once their row is committed).
    inbound_id, created = await _INBOUND_TEXTS.store({
        "provider_sid": sid, "from_number": sender, "to_number": params.get("To"), "body": params.get("Body", ""),
        "num_media": num_media, "opt_out_type": (params.get("OptOutType") or "").strip().upper() or None})
    log.info("inbound text", extra={"from": redact(sender), "inbound_id": inbound_id, "retry": not created,
                                    "num_media": num_media})
    return Response(EMPTY_TWIML, media_type=XML)


def _store_inbound(**fields: Any) -> tuple[int, bool]:
    """Store a reply once (commit) and hand it to a worker; blocking, so handlers run it in the threadpool."""
    [stored] = _store_inbound_batch([fields])
    if isinstance(stored, Exception):
        raise stored
    return stored


def _store_inbound_batch(batch: list[dict[str, Any]]) -> list[tuple[int, bool] | Exception]:
    """Store replies in one transaction (one commit), then hand the new ones to the workers: each one's
    (id, created), or the error that kept it out. Should the shared transaction fail, each is tried in a
    transaction of its own, so a reply the database refuses fails alone. A MessageSid twice in one batch is
    stored once (the second insert meets the first's row). A retry of a reply stored earlier but not yet
    processed is handed over again (its first hand-over may have failed). A failed hand-over fails no request:
    the reply is stored, and the scheduler hands over what stays unprocessed (``scheduler.redeliver_inbound``)."""
    try:
        with session_scope() as session:
            stored = [record_inbound(session, **fields) for fields in batch]
            new = [inbound_id for inbound_id, created in stored if created]
            retried = [inbound_id for inbound_id, created in stored if not created and inbound_id not in new]
            if retried:  # rare (Twilio retries): the fast path runs no query for it
                retried = _unprocessed(session, retried)
    except Exception as exc:
        if len(batch) == 1:
            return [exc]
        return [_store_inbound_batch([fields])[0] for fields in batch]
    _hand_over([*new, *retried])
    return list(stored)


def _unprocessed(session: Session, inbound_ids: list[int]) -> list[int]:
    """Those of ``inbound_ids`` no worker has processed yet (each once)."""
    return list(session.scalars(select(InboundMessage.id).where(InboundMessage.id.in_(set(inbound_ids)),
                                                                 InboundMessage.processed_at.is_(None))))


def _hand_over(inbound_ids: list[int]) -> None:
    """Give stored replies to the workers; when the broker is away, leave them to the scheduler's sweep."""
    queue = ports.current().queue
    for count, inbound_id in enumerate(inbound_ids):
        try:
            queue.process_inbound(inbound_id)
        except Exception:
            log.warning("broker unavailable; the scheduler hands the stored replies over later",
                        extra={"handed_over": count, "waiting": len(inbound_ids) - count}, exc_info=True)
            return


_INBOUND_TEXTS = GroupCommit(_store_inbound_batch)


def _apply_status_now(update: StatusUpdate) -> StatusResult:
    """Apply the status and commit (a fallback it planned goes to the workers as it commits)."""
    with session_scope() as session:
        return apply_status(session, update)


@router.post("/status")
async def status_callback(request: Request) -> Response:
    """A message or call status callback: applied forward-only; a permanent failure falls back at once.

    Every status Twilio documents is accepted, and one it adds later is recorded and answered 204 too (Twilio
    retries a callback refused with an error); only a request naming no message or call is refused (400)."""
    params = await signed_params(request)
    try:
        update = ports.current().parse_status(params)
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
    twiml = ports.current().twiml.gather_reply(thanks_text=NO_LONGER_NEEDED, voice_language="en-GB",
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
    builder = ports.current().twiml
    if answered_by.startswith(("machine", "fax")):
        twiml = builder.voicemail(spoken_text=row.text, voice_language=row.voice_language, voice_name=row.voice_name)
    else:
        twiml = builder.call(
            spoken_text=row.text, voice_language=row.voice_language, voice_name=row.voice_name,
            gather_action_url=_gather_url(message_id), prompt=row.voice_prompt or "")
    return Response(twiml, media_type=XML)


def _thanks_text(row: OutboxMessage) -> str:
    try:
        content = ports.current().render("reply_thanks", locale=row.locale, channel="voice", variant=row.variant,
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
    used = ports.current()
    offered = digits in used.keypad_codes
    barred = await run_in_threadpool(_call_barred, row)
    if offered:
        await run_in_threadpool(_store_inbound, provider_sid=f"{call_sid}:{digits}", from_number=row.to_address,
                                to_number=params.get("From"), body=digits, source="voice", outbox_id=message_id)
    if barred is not None:
        return _polite_hangup()
    if not offered:
        twiml = used.twiml.call(
            spoken_text=row.voice_prompt or row.text, voice_language=row.voice_language,
            voice_name=row.voice_name, gather_action_url=_gather_url(message_id), prompt="")
        return Response(twiml, media_type=XML)
    thanks = await run_in_threadpool(_thanks_text, row)
    twiml = used.twiml.gather_reply(thanks_text=thanks, voice_language=row.voice_language,
                                    voice_name=row.voice_name)
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
