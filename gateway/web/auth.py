"""Signing in and out, with two throttles.

* Per account (``gateway.staff``): five wrong passwords in a row lock the account for 15 minutes.
* Per client address (:class:`AttemptLimiter`, here): at most ``IP_MAX_FAILURES`` failed attempts in a
  sliding ``IP_WINDOW_SECONDS`` window, whatever the usernames, so one machine cannot lock out (or guess
  across) the whole staff list. In-process memory is enough: one web process serves a school.

The client address is the connection's peer, unless that peer is a reverse proxy named in
``GATEWAY_TRUSTED_PROXIES``: then the nearest address in ``X-Forwarded-For`` that is not itself a trusted
proxy (anyone can write that header, so it is believed only from those proxies; see :func:`client_address`).

Signing in and out each start a new server-side session (``gateway.web.sessions.renew_session``): a cookie
captured before either no longer works.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from gateway import clock
from gateway.staff import SignInOutcome, record_audit, verify_sign_in
from gateway.web.deps import DbSession, app_settings, password_fingerprint, rotate_csrf_token, verify_csrf
from gateway.web.sessions import renew_session
from gateway.web.templating import flash, render

IP_MAX_FAILURES = 20
IP_WINDOW_SECONDS = 15 * 60
GENERIC_FAILURE = "That username and password did not match, or the account is locked for a while after " \
                  "too many attempts. Check and try again, or ask an administrator."


class AttemptLimiter:
    """Failed sign-ins per client address in a sliding window (thread-safe, in-process)."""

    def __init__(self, max_failures: int = IP_MAX_FAILURES, window_seconds: float = IP_WINDOW_SECONDS) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._trim(key, time.monotonic())) >= self.max_failures

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._trim(key, time.monotonic()).append(time.monotonic())

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//evil.example`` or an absolute URL): an open redirect otherwise."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[IPNetwork]) -> str:
    """The address a request came from: ``peer``, or, when ``peer`` is a trusted proxy, the right-most entry
    of ``X-Forwarded-For`` that is not a trusted proxy (entries to its left were written by the client and
    prove nothing)."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        address = hop
        if not _trusted(hop, proxies):
            break
    return address


def _client_key(request: Request) -> str:
    """The throttling key: the real client address (see :func:`client_address`)."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"),
                          app_settings(request).trusted_proxy_networks)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in page."""
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login_submit(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a fresh session and go where the user was heading."""
    limiter: AttemptLimiter = request.app.state.login_limiter
    key = _client_key(request)
    target = safe_next(next)
    if limiter.blocked(key):
        return render(request, "login.html", {"next": target, "username": username,
                                              "error": "Too many failed attempts from this computer. "
                                                       "Wait 15 minutes and try again."}, status_code=429)
    result = verify_sign_in(db, username, password, clock.now())
    if result.outcome is not SignInOutcome.OK or result.staff is None:
        limiter.record_failure(key)
        if result.outcome is SignInOutcome.LOCKED and result.staff is not None:
            record_audit(db, result.staff, "account_locked", "staff_user", result.staff.id)
        db.commit()
        return render(request, "login.html", {"next": target, "username": username, "error": GENERIC_FAILURE},
                      status_code=401)
    staff = result.staff
    record_audit(db, staff, "sign_in", "staff_user", staff.id)
    limiter.reset(key)
    # A new session (new token, old one revoked) on sign-in: nothing set before it (a planted cookie) carries over.
    renew_session(request)
    request.session["staff_id"] = staff.id
    request.session["pw"] = password_fingerprint(staff)
    rotate_csrf_token(request)
    flash(request, f"Signed in as {staff.display_name}.")
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> Response:
    """End this browser's session for good (its token is revoked in the database)."""
    renew_session(request)
    rotate_csrf_token(request)
    return RedirectResponse("/login", status_code=303)
