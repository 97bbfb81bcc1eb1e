"""A fake of the part of Twilio's REST API the gateway uses: ``Messages.json`` and ``Calls.json``.

Create (POST), fetch (``GET .../{sid}.json``) and list (``GET``, with Twilio's filters ``To``, ``From``,
``DateSent``/``DateSent<``/``DateSent>`` for messages and ``To``, ``From``, ``Status``,
``StartTime``/``StartTime<``/``StartTime>`` for calls, and Twilio's paging) -- what the reconciler's lookup
(``find_sent``) reads.

An ASGI app (Starlette) with Twilio's basic auth, Twilio-shaped JSON replies and error bodies
(``{"code", "message", "more_info", "status"}``), signed status callbacks, and injectable faults
(:class:`~channels.sandbox.twilio_state.TwilioSandboxState`). Control it from Python through
``sandbox.state`` or over HTTP:

- ``POST /_sandbox/faults`` JSON ``{"latency": 0.05, "errors": {"+447700900001": {"code": 21211}},
  "suffix_errors": {"99": {"code": 21614}}, "fail_next": {"count": 2, "status": 429, "code": 20429,
  "retry_after": 1}, "fail_next_lookups": {"count": 1, "status": 503, "code": 20503}, "hold_in_queue": true,
  "async_errors": {"+447700900002": 30003}, "answered_by": {"+44...": "machine_end_beep"}}``
- ``POST /_sandbox/reset``; ``GET /_sandbox/records`` (what it was asked).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from channels.sandbox.runner import RunningServer, serve_in_thread
from channels.sandbox.twilio_state import ERROR_MESSAGES, Fault, ListQuery, SandboxRecord, TwilioSandboxState
from channels.twilio_client import IDEMPOTENCY_HEADER
from gateway.config import SANDBOX_ACCOUNT_SID, SANDBOX_TOKEN_FILE

API = "/2010-04-01/Accounts/{account_sid}"


def twilio_error(code: int, status: int, message: str | None = None, retry_after: float | None = None) -> JSONResponse:
    """Twilio's error body for ``code`` with HTTP ``status``."""
    body = {"code": code, "message": message or ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def _authorised(request: Request, state: TwilioSandboxState) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (secrets.compare_digest(user, state.account_sid) and secrets.compare_digest(password, state.auth_token)
            and request.path_params["account_sid"] == state.account_sid)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    params: dict[str, str] = {}
    for key, value in form.multi_items():
        # Repeated keys (StatusCallbackEvent) are joined with spaces, as Twilio documents them.
        params[key] = f"{params[key]} {value}" if key in params else str(value)
    return params


def _rfc2822(moment: float | None) -> str | None:
    """A POSIX time as Twilio writes dates: RFC 2822 in GMT (``Mon, 23 Nov 2026 09:15:03 +0000``)."""
    return None if moment is None else format_datetime(datetime.fromtimestamp(int(moment), UTC))


def _resource(record: SandboxRecord, account_sid: str) -> dict[str, Any]:
    """The record as Twilio's Message or Call resource (the fields its OpenAPI description lists)."""
    created = _rfc2822(record.received_at)
    updated = _rfc2822(max([record.received_at] + ([record.sent_at] if record.sent_at else [])))
    to, sender = record.params.get("To"), record.params.get("From")
    common = {"sid": record.sid, "account_sid": account_sid, "api_version": "2010-04-01", "date_created": created,
              "date_updated": updated, "to": to, "from": sender, "price": None, "price_unit": "GBP",
              "direction": "outbound-api"}
    if record.kind == "message":
        service = record.params.get("MessagingServiceSid")
        # A Messaging Service answers "accepted" until it has chosen a sender; "from" stays empty until then.
        status = "accepted" if record.status == "queued" and service and not sender else record.status
        return {**common, "body": record.params.get("Body"), "messaging_service_sid": service, "status": status,
                "num_segments": "1", "num_media": "0", "error_code": None, "error_message": None,
                "date_sent": _rfc2822(record.sent_at), "subresource_uris": None,
                "uri": f"{API.format(account_sid=account_sid)}/Messages/{record.sid}.json"}
    return {**common, "to_formatted": to, "from_formatted": sender, "status": record.status,
            "parent_call_sid": None, "phone_number_sid": None, "answered_by": None, "duration": None,
            "start_time": _rfc2822(record.sent_at), "end_time": None, "forwarded_from": None, "group_sid": None,
            "caller_name": None, "queue_time": "0", "trunk_sid": None, "subresource_uris": None,
            "uri": f"{API.format(account_sid=account_sid)}/Calls/{record.sid}.json"}


# The list filters each resource understands (Twilio's query names); paging parameters are separate.
_FILTERS = {"message": ("To", "From", "DateSent", "DateSent<", "DateSent>"),
            "call": ("To", "From", "Status", "StartTime", "StartTime<", "StartTime>")}
_PAGING = ("PageSize", "Page", "PageToken")


class _BadQuery(ValueError):
    """A list request Twilio would refuse (code 20001)."""


def _day(name: str, value: str) -> date:
    """A date filter's UTC day. Twilio documents ``YYYY-MM-DD`` and compares whole days; it also takes a
    time (the SDK sends ``YYYY-MM-DDTHH:MM:SSZ``) or an RFC 2822 date, and uses the day."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise _BadQuery(f"Invalid date value for {name}: {value!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _list_query(kind: str, params: Mapping[str, str]) -> ListQuery:
    unknown = sorted(set(params) - set(_FILTERS[kind]) - set(_PAGING))
    if unknown:
        # Refused rather than ignored: a filter silently dropped would answer with records nobody asked for.
        raise _BadQuery(f"The sandbox does not filter by {', '.join(unknown)}")
    field = "DateSent" if kind == "message" else "StartTime"
    days = {suffix: _day(field + suffix, params[field + suffix]) for suffix in ("", "<", ">")
            if params.get(field + suffix)}
    return ListQuery(kind, to=params.get("To") or None, from_=params.get("From") or None,
                     status=params.get("Status") or None, on=days.get(""), on_or_before=days.get("<"),
                     on_or_after=days.get(">"))


def _page_size(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        size, page = int(params.get("PageSize") or 50), int(params.get("Page") or 0)
    except ValueError:
        raise _BadQuery("PageSize and Page must be whole numbers") from None
    if not 1 <= size <= 1000 or page < 0:
        raise _BadQuery("PageSize must be 1 to 1000 and Page at least 0")
    return size, page


def list_page(kind: str, params: Mapping[str, str], state: TwilioSandboxState) -> dict[str, Any]:
    """One page of a Messages.json / Calls.json list, shaped as Twilio's ListMessageResponse /
    ListCallResponse. ``PageToken`` (``PA`` + the last sid of the previous page) keeps paging stable while
    new records arrive at the front, as Twilio's does; without one, ``Page`` counts from the newest."""
    query = _list_query(kind, params)
    size, page = _page_size(params)
    records = state.search(query)
    start = page * size
    token = params.get("PageToken") or ""
    if token.startswith("PA"):
        after = next((i for i, r in enumerate(records) if r.sid == token[2:]), None)
        start = start if after is None else after + 1
    items = records[start:start + size]
    path = API.format(account_sid=state.account_sid) + ("/Messages.json" if kind == "message" else "/Calls.json")
    filters = [(name, params[name]) for name in _FILTERS[kind] if params.get(name)]

    def uri(number: int, page_token: str | None = None) -> str:
        paging = [("PageSize", str(size)), ("Page", str(number))] + ([("PageToken", page_token)] if page_token else [])
        return f"{path}?{urlencode(filters + paging)}"

    more = start + size < len(records)
    return {"messages" if kind == "message" else "calls": [_resource(r, state.account_sid) for r in items],
            "page": page, "page_size": size, "start": start, "end": start + max(len(items) - 1, 0),
            "uri": uri(page, token or None), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, "PA" + items[-1].sid) if more and items else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None}


def create_app(state: TwilioSandboxState) -> Starlette:
    """The sandbox's ASGI app over ``state``."""

    async def create(request: Request, kind: str) -> JSONResponse:
        received_at = time.time()
        if not _authorised(request, state):
            return twilio_error(20003, 401)
        params = await _form(request)
        state.count_attempt(params, request.headers.get(IDEMPOTENCY_HEADER))
        if state.latency:
            await asyncio.sleep(state.latency)
        to = params.get("To", "")
        problem = _missing(kind, params)
        if problem is not None:
            return twilio_error(problem, 400)
        fault: Fault | None = state.fault_for(to)
        if fault is None and not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16):
            fault = Fault(400, 21211)
        if fault is not None:
            return twilio_error(fault.code, fault.status, retry_after=fault.retry_after)
        record = state.accept(kind, params, request.headers.get(IDEMPOTENCY_HEADER), received_at)
        return JSONResponse(_resource(record, state.account_sid), status_code=201)

    async def messages(request: Request) -> JSONResponse:
        return await create(request, "message")

    async def calls(request: Request) -> JSONResponse:
        return await create(request, "call")

    async def fetch(request: Request) -> JSONResponse:
        if not _authorised(request, state):
            return twilio_error(20003, 401)
        record = state.find(request.path_params["sid"])
        if record is None:
            return twilio_error(20404, 404, "The requested resource was not found")
        return JSONResponse(_resource(record, state.account_sid))

    async def read(request: Request, kind: str) -> JSONResponse:
        if not _authorised(request, state):
            return twilio_error(20003, 401)
        fault = state.lookup_fault()
        if fault is not None:
            return twilio_error(fault.code, fault.status, retry_after=fault.retry_after)
        try:
            return JSONResponse(list_page(kind, request.query_params, state))
        except _BadQuery as exc:
            return twilio_error(20001, 400, str(exc))

    async def list_messages(request: Request) -> JSONResponse:
        return await read(request, "message")

    async def list_calls(request: Request) -> JSONResponse:
        return await read(request, "call")

    async def faults(request: Request) -> JSONResponse:
        _apply_faults(state, await request.json())
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> JSONResponse:
        state.reset()
        return JSONResponse({"ok": True})

    async def records(request: Request) -> JSONResponse:
        return JSONResponse([{"kind": r.kind, "sid": r.sid, "params": r.params, "status": r.status,
                              "idempotency_key": r.idempotency_key, "callbacks": r.callbacks,
                              "received_at": r.received_at}
                             for r in state.messages() + state.calls()])

    return Starlette(routes=[
        Route(API + "/Messages.json", messages, methods=["POST"]),
        Route(API + "/Calls.json", calls, methods=["POST"]),
        Route(API + "/Messages.json", list_messages, methods=["GET"]),
        Route(API + "/Calls.json", list_calls, methods=["GET"]),
        Route(API + "/Messages/{sid}.json", fetch, methods=["GET"]),
        Route(API + "/Calls/{sid}.json", fetch, methods=["GET"]),
        Route("/_sandbox/faults", faults, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/records", records, methods=["GET"]),
    ])


def _missing(kind: str, params: dict[str, str]) -> int | None:
    """Twilio's code for a missing required parameter, if any."""
    if not params.get("To"):
        return 21604
    if kind == "message":
        if not params.get("Body") and not params.get("MediaUrl") and not params.get("ContentSid"):
            return 21602
        if not params.get("From") and not params.get("MessagingServiceSid"):
            return 21603
    elif not params.get("Url") and not params.get("Twiml"):
        return 21205
    return None


def _apply_faults(state: TwilioSandboxState, spec: dict[str, Any]) -> None:
    if "latency" in spec:
        state.set_latency(float(spec["latency"]))
    for number, fault in (spec.get("errors") or {}).items():
        state.inject_error(number, int(fault["code"]), int(fault.get("status", 400)))
    for digits, fault in (spec.get("suffix_errors") or {}).items():
        state.inject_suffix_error(digits, int(fault["code"]), int(fault.get("status", 400)))
    if spec.get("fail_next_lookups"):
        nxt = spec["fail_next_lookups"]
        state.fail_next_lookups(int(nxt.get("count", 1)), int(nxt.get("status", 503)), int(nxt.get("code", 20503)),
                                nxt.get("retry_after"))
    if "hold_in_queue" in spec:
        state.hold_in_queue = bool(spec["hold_in_queue"])
    if spec.get("fail_next"):
        nxt = spec["fail_next"]
        state.fail_next(int(nxt.get("count", 1)), int(nxt.get("status", 429)), int(nxt.get("code", 20429)),
                        nxt.get("retry_after"))
    for number, code in (spec.get("async_errors") or {}).items():
        state.inject_async_error(number, int(code))
    for number, answered_by in (spec.get("answered_by") or {}).items():
        state.set_answered_by(number, str(answered_by))


@dataclass
class TwilioSandbox:
    """A running sandbox: ``url`` for TWILIO_API_URL, ``state`` for faults and records."""

    state: TwilioSandboxState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.state.close()
        self.server.stop()

    def __enter__(self) -> TwilioSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_twilio_sandbox(
    account_sid: str = SANDBOX_ACCOUNT_SID, auth_token: str | None = None, *, host: str = "127.0.0.1",
    port: int = 0, callback_delay: float = 0.02,
) -> TwilioSandbox:
    """Run the sandbox in a thread on ``host:port`` (0: a free port). Without ``auth_token`` a random one is
    made (read it from ``sandbox.state.auth_token``): the sandbox never has a well-known token."""
    token = auth_token or secrets.token_urlsafe(32)
    state = TwilioSandboxState(account_sid, token, callback_delay=callback_delay)
    return TwilioSandbox(state, serve_in_thread(create_app(state), host, port))


def main(argv: list[str] | None = None) -> None:
    """``python -m channels.sandbox.twilio_api [--port P] [--auth-token T]``: the sandbox in its own process
    (benchmarks, a demo on another machine). Faults are set through ``POST /_sandbox/faults``.

    The auth token is ``--auth-token``, else ``TWILIO_AUTH_TOKEN``, else this install's sandbox token (the one
    the gateway uses with the same ``GATEWAY_VAR_DIR``). The control routes have no authentication: keep the
    default ``--host 127.0.0.1``."""
    import argparse
    import os

    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m channels.sandbox.twilio_api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each create is answered")
    parser.add_argument("--no-callbacks", action="store_true", help="do not send status callbacks")
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN"),
                        help="the token clients must use (default: TWILIO_AUTH_TOKEN, else this install's)")
    args = parser.parse_args(argv)
    if not args.auth_token:
        from gateway.config import get_settings

        args.auth_token = get_settings().install_secret(SANDBOX_TOKEN_FILE)
    state = TwilioSandboxState(SANDBOX_ACCOUNT_SID, args.auth_token)
    state.set_latency(args.latency)
    state.send_callbacks = not args.no_callbacks
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
