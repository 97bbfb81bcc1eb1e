"""Staff sessions kept in the database, so that signing out really ends them.

The browser's cookie holds only a random token (HttpOnly, SameSite=Lax, Secure when the public URL is https);
the ``staff_session`` table holds its SHA-256 hash and everything the session carries: who signed in, a
fingerprint of their password hash (a password change signs every browser out), the CSRF token and the
one-shot notices (so no name shown in a notice ever travels in a cookie).

* **Sign-in and sign-out** call :func:`renew_session`: the old row is revoked and a new token issued, so a
  cookie captured before either is worthless afterwards (and a cookie planted before sign-in never becomes
  a signed-in one).
* **Idle timeout** :data:`IDLE_TIMEOUT` since the last request; **absolute limit** :data:`ABSOLUTE_LIMIT` since
  the session was created, which activity does not extend. Both use real wall-clock time
  (:func:`wall_clock`), never the accelerated demo clock.
* **Before sign-in** a visitor who is shown a form (the sign-in page) gets a session row too, holding only the
  form's CSRF token. One mechanism for both cases means the CSRF check is the same everywhere, and sign-in
  rotates that row away like any other. Such rows expire after :data:`IDLE_TIMEOUT` and are deleted by
  :func:`delete_dead_sessions`.

:class:`DatabaseSessions` is the ASGI middleware: it loads the session before the app runs (so
``request.session`` behaves as Starlette's dict) and saves it when the response starts. Requests that never
need a session (static files, webhooks, health, metrics, the sandbox's Twilio API) skip the database.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from fastapi import Request
from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.db import get_engine
from gateway.models import StaffSession

SESSION_COOKIE = "gateway_session"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_LIMIT = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often for an unchanged session
PURGE_EVERY = timedelta(minutes=5)
NO_SESSION_PREFIXES = ("/static/", "/webhooks/", "/healthz", "/metrics", "/sandbox/twilio/")


def wall_clock() -> datetime:
    """Real time for session expiry (tests replace this function to move time)."""
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    """What the table stores for a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(dict[str, Any]):
    """``request.session``: a plain dict of the session's data, plus what the middleware needs to save it."""

    def __init__(self, data: dict[str, Any], *, row_id: int | None = None, last_seen_at: datetime | None = None,
                 had_cookie: bool = False) -> None:
        super().__init__(data)
        self.row_id = row_id
        self.last_seen_at = last_seen_at
        self.had_cookie = had_cookie
        self.renew_requested = False
        self._loaded = copy.deepcopy(data)

    @property
    def modified(self) -> bool:
        return dict(self) != self._loaded


def renew_session(request: Request) -> None:
    """Drop this browser's session and start a new one with a new token (call at sign-in and sign-out)."""
    session = request.session
    if isinstance(session, ServerSession):
        session.renew_requested = True
    session.clear()


def session_is_live(row: StaffSession, now: datetime) -> bool:
    """Not revoked, used within :data:`IDLE_TIMEOUT`, and younger than :data:`ABSOLUTE_LIMIT`."""
    return (row.revoked_at is None and now - row.last_seen_at < IDLE_TIMEOUT
            and now - row.created_at < ABSOLUTE_LIMIT)


def load_session(engine: Engine, token: str | None, now: datetime) -> ServerSession:
    """The live session for ``token``, else a new empty one (an expired row is revoked on the way)."""
    if not token:
        return ServerSession({})
    with Session(engine) as db:
        row = db.scalar(select(StaffSession).where(StaffSession.token_hash == hash_token(token)))
        if row is None:
            return ServerSession({}, had_cookie=True)
        if not session_is_live(row, now):
            if row.revoked_at is None:
                row.revoked_at = now
                db.commit()
            return ServerSession({}, had_cookie=True)
        data = dict(row.data or {})
        if row.staff_id is not None:
            data["staff_id"] = row.staff_id
        return ServerSession(data, row_id=row.id, last_seen_at=row.last_seen_at, had_cookie=True)


@dataclass(frozen=True)
class CookieChange:
    """What the response must tell the browser: a new token, or forget the cookie (``token`` None)."""

    token: str | None


def _columns(session: ServerSession) -> tuple[int | None, dict[str, Any]]:
    staff_id = session.get("staff_id")
    data = {key: value for key, value in session.items() if key != "staff_id"}
    return (staff_id if isinstance(staff_id, int) else None), data


def save_session(engine: Engine, session: ServerSession, now: datetime) -> CookieChange | None:
    """Write ``session`` back; return the cookie change the response must carry, if any."""
    with Session(engine) as db:
        if session.row_id is not None and (session.renew_requested or not session):
            db.execute(update(StaffSession).where(StaffSession.id == session.row_id, StaffSession.revoked_at.is_(None))
                       .values(revoked_at=now))
            session.row_id = None
        if not session:
            db.commit()
            return CookieChange(None) if session.had_cookie else None
        staff_id, data = _columns(session)
        if session.row_id is None:
            token = secrets.token_urlsafe(32)
            db.add(StaffSession(token_hash=hash_token(token), staff_id=staff_id, data=data, created_at=now,
                                last_seen_at=now))
            db.commit()
            return CookieChange(token)
        if session.modified:
            db.execute(update(StaffSession).where(StaffSession.id == session.row_id)
                       .values(staff_id=staff_id, data=data, last_seen_at=now))
        elif session.last_seen_at is None or now - session.last_seen_at >= TOUCH_EVERY:
            db.execute(update(StaffSession).where(StaffSession.id == session.row_id).values(last_seen_at=now))
        db.commit()
    return None


def delete_dead_sessions(engine: Engine, now: datetime) -> int:
    """Delete every session that can no longer be used (revoked, idle too long, or past the absolute limit)."""
    with Session(engine) as db:
        result = db.execute(delete(StaffSession).where(or_(
            StaffSession.revoked_at.is_not(None),
            StaffSession.last_seen_at < now - IDLE_TIMEOUT,
            StaffSession.created_at < now - ABSOLUTE_LIMIT,
        )))
        db.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def _cookie_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            token = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
            if token:
                return token
    return None


def _set_cookie_header(change: CookieChange, secure: bool) -> bytes:
    if change.token is None:
        value = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    else:
        max_age = int(ABSOLUTE_LIMIT.total_seconds())
        value = f"{SESSION_COOKIE}={change.token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    if secure:
        value += "; Secure"
    return value.encode("latin-1")


class DatabaseSessions:
    """ASGI middleware putting a :class:`ServerSession` in ``scope["session"]`` and saving it afterwards."""

    def __init__(self, app: ASGIApp, *, database_url: str, https_only: bool) -> None:
        self.app = app
        self.database_url = database_url
        self.https_only = https_only
        self._last_purge: datetime | None = None

    @staticmethod
    def _now() -> datetime:
        return wall_clock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(NO_SESSION_PREFIXES) or path in ("/healthz", "/metrics"):
            scope["session"] = {}  # never saved: these answer machines, not staff browsers
            await self.app(scope, receive, send)
            return
        engine = get_engine(self.database_url)
        session = await anyio.to_thread.run_sync(load_session, engine, _cookie_token(scope), self._now())
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                now = self._now()
                change = await anyio.to_thread.run_sync(save_session, engine, session, now)
                if change is not None:
                    message["headers"] = [*message.get("headers", []),
                                          (b"set-cookie", _set_cookie_header(change, self.https_only))]
                    if change.token is not None:
                        await self._purge_now_and_then(engine, now)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _purge_now_and_then(self, engine: Engine, now: datetime) -> None:
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await anyio.to_thread.run_sync(delete_dead_sessions, engine, now)
