"""The Twilio sandbox's memory: what it was asked, which faults to play, and its signed status callbacks.

Faults, checked in this order for each create request:
1. ``fail_next(count, status, code, retry_after)``: the next ``count`` requests fail (429/20429, 503, ...);
2. ``errors[number]``: an explicit (status, code) for one number;
3. ``suffix_errors[digits]``: numbers ending in these digits fail with this code;
4. Twilio's own magic test numbers (``+15005550001`` invalid, ``...0003`` region, ``...0004`` opted out,
   ``...0009`` not a mobile) behave as they do with Twilio's test credentials.
``async_errors[number]`` makes an accepted message fail later, in its status callback (30003–30008).
``fail_next_lookups(count, ...)`` fails the next list (GET) requests instead; creates are unaffected.

``hold_in_queue`` plays Twilio's own queue: a message (or call) accepted while it is set has no
``date_sent`` (``start_time``) until its status callbacks say it was sent (dialled), just as Twilio leaves
them empty for a message waiting behind its sending rate. Otherwise the sandbox hands each one on at once.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import logging
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx

from channels.twilio_signature import compute_signature

log = logging.getLogger(__name__)

ERROR_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21205: "Url parameter is required.",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS.",
    21614: "'To' number is not a valid mobile number",
}
MAGIC_NUMBERS = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}


@dataclass(frozen=True)
class Fault:
    status: int
    code: int
    retry_after: float | None = None


@dataclass
class SandboxRecord:
    """One create request that was accepted."""

    kind: str  # "message" or "call"
    sid: str
    params: dict[str, str]
    idempotency_key: str | None
    received_at: float  # time.time() when the request arrived
    status: str = "queued"
    callbacks: list[dict[str, str]] = field(default_factory=list)
    twiml: str | None = None  # calls: what our TwiML URL answered
    sent_at: float | None = None  # date_sent (messages) / start_time (calls); None while held in the queue

    @property
    def sent_day(self) -> date | None:
        """The UTC day it was sent (dialled): what Twilio's DateSent / StartTime filters compare."""
        return None if self.sent_at is None else datetime.fromtimestamp(self.sent_at, UTC).date()


@dataclass(frozen=True)
class ListQuery:
    """The filters of one Messages.json / Calls.json list request. Twilio compares whole UTC days:
    ``on`` is ``DateSent``/``StartTime``, ``on_or_before`` its ``<`` form, ``on_or_after`` its ``>`` form;
    a record not yet sent (no date) matches no date filter."""

    kind: str
    to: str | None = None
    from_: str | None = None
    status: str | None = None
    on: date | None = None
    on_or_before: date | None = None
    on_or_after: date | None = None

    def matches(self, record: SandboxRecord) -> bool:
        params = record.params
        if record.kind != self.kind or (self.to is not None and params.get("To") != self.to):
            return False
        if self.from_ is not None and params.get("From") != self.from_:
            return False
        if self.status is not None and record.status != self.status:
            return False
        if self.on is None and self.on_or_before is None and self.on_or_after is None:
            return True
        day = record.sent_day
        return day is not None and (self.on is None or day == self.on) and (
            self.on_or_before is None or day <= self.on_or_before) and (
            self.on_or_after is None or day >= self.on_or_after)


class TwilioSandboxState:
    """Thread-safe: the ASGI app, the test and the callback thread all touch it."""

    def __init__(self, account_sid: str, auth_token: str, *, callback_delay: float = 0.02) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_delay = callback_delay
        self.send_callbacks = True
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._callbacks: queue.Queue[tuple[SandboxRecord, str, dict[str, str]] | None] = queue.Queue()
        self._callback_thread: threading.Thread | None = None
        self.reset()

    # -- faults (the Python API; the control routes call the same) ----------------------------------
    def reset(self) -> None:
        """Forget every record and fault."""
        with self._lock:
            self.latency = 0.0
            self.hold_in_queue = False
            self.errors: dict[str, Fault] = {}
            self.suffix_errors: dict[str, Fault] = {}
            self.async_errors: dict[str, int] = {}
            self.answered_by: dict[str, str] = {}
            self._fail_next: list[Fault] = []
            self._fail_next_lookups: list[Fault] = []
            self.records: list[SandboxRecord] = []
            self.attempts_per_key: Counter[str] = Counter()
            self.attempts_per_body: Counter[str] = Counter()
            self.list_queries: list[ListQuery] = []  # every list (GET) request that got an answer

    def set_latency(self, seconds: float) -> None:
        self.latency = max(0.0, seconds)

    def inject_error(self, number: str, code: int, status: int = 400) -> None:
        """Requests to ``number`` fail with Twilio ``code`` and HTTP ``status``."""
        with self._lock:
            self.errors[number] = Fault(status, code)

    def inject_suffix_error(self, digits: str, code: int, status: int = 400) -> None:
        """Requests to numbers ending in ``digits`` fail with ``code``."""
        with self._lock:
            self.suffix_errors[digits] = Fault(status, code)

    def fail_next(self, count: int, status: int = 429, code: int = 20429, retry_after: float | None = None) -> None:
        """The next ``count`` create requests fail (whatever the number)."""
        with self._lock:
            self._fail_next.extend([Fault(status, code, retry_after)] * count)

    def fail_next_lookups(self, count: int, status: int = 503, code: int = 20503,
                          retry_after: float | None = None) -> None:
        """The next ``count`` list (GET) requests fail (creates are unaffected)."""
        with self._lock:
            self._fail_next_lookups.extend([Fault(status, code, retry_after)] * count)

    def lookup_fault(self) -> Fault | None:
        with self._lock:
            return self._fail_next_lookups.pop(0) if self._fail_next_lookups else None

    def lookup_faults_left(self) -> int:
        """How many of the ``fail_next_lookups`` failures have not been played yet."""
        with self._lock:
            return len(self._fail_next_lookups)

    def inject_async_error(self, number: str, error_code: int) -> None:
        """Messages to ``number`` are accepted, then fail in their status callback with ``error_code``."""
        with self._lock:
            self.async_errors[number] = error_code

    def set_answered_by(self, number: str, answered_by: str) -> None:
        """Calls to ``number`` are answered by this (``machine_end_beep`` for a voicemail)."""
        with self._lock:
            self.answered_by[number] = answered_by

    def fault_for(self, to: str) -> Fault | None:
        with self._lock:
            if self._fail_next:
                return self._fail_next.pop(0)
            if to in self.errors:
                return self.errors[to]
            for digits, fault in self.suffix_errors.items():
                if to.endswith(digits):
                    return fault
            if to in MAGIC_NUMBERS:
                return Fault(400, MAGIC_NUMBERS[to])
            return None

    # -- records -------------------------------------------------------------------------------------
    def count_attempt(self, params: dict[str, str], idempotency_key: str | None) -> None:
        body = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        with self._lock:
            if idempotency_key:
                self.attempts_per_key[idempotency_key] += 1
            self.attempts_per_body[hashlib.sha256(body.encode()).hexdigest()] += 1

    def accept(
        self, kind: str, params: dict[str, str], idempotency_key: str | None, received_at: float
    ) -> SandboxRecord:
        prefix = "SM" if kind == "message" else "CA"
        with self._lock:
            sid = f"{prefix}{next(self._sids):032x}"
            record = SandboxRecord(kind, sid, dict(params), idempotency_key, received_at,
                                   sent_at=None if self.hold_in_queue else received_at)
            self.records.append(record)
        if self.send_callbacks and params.get("StatusCallback"):
            self._schedule_callbacks(record)
        return record

    def messages(self) -> list[SandboxRecord]:
        with self._lock:
            return [r for r in self.records if r.kind == "message"]

    def calls(self) -> list[SandboxRecord]:
        with self._lock:
            return [r for r in self.records if r.kind == "call"]

    def arrivals_per_second(self) -> Counter[int]:
        """How many accepted requests arrived in each whole second (for checking a rate cap)."""
        with self._lock:
            return Counter(int(r.received_at) for r in self.records)

    def find(self, sid: str) -> SandboxRecord | None:
        with self._lock:
            return next((r for r in self.records if r.sid == sid), None)

    def search(self, query: ListQuery) -> list[SandboxRecord]:
        """The records ``query`` selects, newest first (as Twilio lists them)."""
        with self._lock:
            self.list_queries.append(query)
            found = [r for r in self.records if query.matches(r)]
        return sorted(found, key=lambda r: r.received_at, reverse=True)

    # -- status callbacks ----------------------------------------------------------------------------
    def _schedule_callbacks(self, record: SandboxRecord) -> None:
        to = record.params.get("To", "")
        url = record.params["StatusCallback"]
        if record.kind == "message":
            base = {"MessageSid": record.sid, "SmsSid": record.sid, "AccountSid": self.account_sid, "To": to,
                    "From": record.params.get("From", ""), "ApiVersion": "2010-04-01"}
            error = self.async_errors.get(to)
            steps = [{"MessageStatus": "queued"}, {"MessageStatus": "sent"}]
            if error is None:
                steps.append({"MessageStatus": "delivered"})
            else:
                final = "failed" if error in (30005, 30006) else "undelivered"
                steps.append({"MessageStatus": final, "ErrorCode": str(error)})
        else:
            base = {"CallSid": record.sid, "AccountSid": self.account_sid, "To": to,
                    "From": record.params.get("From", ""), "ApiVersion": "2010-04-01", "Direction": "outbound-api"}
            answered = self.answered_by.get(to, "human")
            steps = [{"CallStatus": "initiated"}, {"CallStatus": "ringing"},
                     {"CallStatus": "in-progress", "AnsweredBy": answered},
                     {"CallStatus": "completed", "AnsweredBy": answered, "CallDuration": "12"}]
        for step in steps:
            self._callbacks.put((record, url, {**base, **step}))
        with self._lock:
            if self._callback_thread is None or not self._callback_thread.is_alive():
                self._callback_thread = threading.Thread(target=self._post_callbacks, name="twilio-sandbox-callbacks",
                                                         daemon=True)
                self._callback_thread.start()

    def _post_callbacks(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            while True:
                try:
                    item = self._callbacks.get(timeout=5.0)
                except queue.Empty:
                    return  # idle: a new callback starts a new thread
                if item is None:
                    return
                record, url, params = item
                time.sleep(self.callback_delay)
                record.status = params.get("MessageStatus") or params.get("CallStatus") or record.status
                if record.sent_at is None and record.status not in ("queued", "accepted", "initiated"):
                    record.sent_at = time.time()  # left the queue: now it has a date_sent / start_time
                record.callbacks.append(params)
                self.post_signed(http, url, params)
                if params.get("CallStatus") == "in-progress" and record.params.get("Url"):
                    # Answered: Twilio asks the call's URL what to say (AnsweredBy tells person from voicemail).
                    reply = self.post_signed(http, record.params["Url"], {**params, "CallStatus": "in-progress"})
                    record.twiml = reply.text if reply is not None and reply.status_code == 200 else None

    def press_digit(self, sid: str, digit: str) -> str | None:
        """Play a parent pressing ``digit`` on call ``sid``: POST to its Gather action; return the TwiML."""
        record = self.find(sid)
        if record is None or not record.twiml:
            return None
        match = re.search(r'<Gather[^>]*action="([^"]+)"', record.twiml)
        if match is None:
            return None
        action = html.unescape(match.group(1))
        params = {"CallSid": sid, "AccountSid": self.account_sid, "Digits": digit, "To": record.params.get("To", "")}
        with httpx.Client(timeout=5.0) as http:
            reply = self.post_signed(http, action, params)
        return reply.text if reply is not None else None

    def post_signed(self, http: httpx.Client, url: str, params: dict[str, str]) -> httpx.Response | None:
        """POST ``params`` to ``url`` signed as Twilio would; None when nobody answers there."""
        headers = {"X-Twilio-Signature": compute_signature(self.auth_token, url, params)}
        try:
            return http.post(url, data=params, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("sandbox callback failed", extra={"error": type(exc).__name__})
            return None

    def close(self) -> None:
        self._callbacks.put(None)
