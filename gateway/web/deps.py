"""Request dependencies shared by every staff page: the database session, the signed-in staff member,
role checks and CSRF protection.

CSRF: each browser session (kept in the database, see ``gateway.web.sessions``; a visitor shown the sign-in
form has one too) holds one random token (``session["csrf"]``). Every state-changing request to a
staff route must echo it, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends the
header). The Twilio webhooks are exempt because Twilio signs them; they live on their own router.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.db import get_engine, session_scope
from gateway.models import StaffRole, StaffUser

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL: a bigger one names no row
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class SignedInStaff:
    """Who is signed in, detached from the database session."""

    id: int
    username: str
    display_name: str
    role: StaffRole


class LoginRequired(Exception):
    """Raised by :func:`current_staff` when nobody is signed in; the app turns it into a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def login_url(self) -> str:
        return "/login?next=" + quote(self.next_path, safe="/")


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One session per request: commit when the handler returns normally, roll back on any error."""
    with session_scope(get_engine(app_settings(request).database_url)) as session:
        yield session


# scope="function": committed before the response starts, so the session middleware's own write (SQLite has
# one writer) never waits for a transaction that would only end after the response.
DbSession = Annotated[Session, Depends(db_session, scope="function")]
_Row = TypeVar("_Row")


def id_in_range(ident: int) -> bool:
    """True when ``ident`` can be a row id (positive and within the database's integer range)."""
    return 0 < ident <= MAX_ROW_ID


def path_ids_in_range(request: Request) -> None:
    """404 for a path whose numeric id could name no row (``/families/99999999999999999999``): PostgreSQL
    would refuse the query with an error (a 500) instead of finding nothing."""
    for value in request.path_params.values():
        text = str(value)
        if text.isascii() and text.isdigit() and not id_in_range(int(text)):
            raise HTTPException(status_code=404, detail="Not found.")


def get_or_404(db: Session, model: type[_Row], ident: int, what: str) -> _Row:
    """The ``model`` row with id ``ident``, or a 404 saying "No such <what>."."""
    row = db.get(model, ident) if id_in_range(ident) else None
    if row is None:
        raise HTTPException(status_code=404, detail=f"No such {what}.")
    return row


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def rotate_csrf_token(request: Request) -> str:
    """A fresh token (after sign-in and sign-out, so a token seen before sign-in is worthless after)."""
    request.session["csrf"] = secrets.token_urlsafe(32)
    return str(request.session["csrf"])


async def verify_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached on the request: the handler's Form() fields still work
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not supplied or not hmac.compare_digest(expected, supplied):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this site. "
                                                    "Go back, reload the page and try again.")


def password_fingerprint(staff: StaffUser) -> str:
    """A short digest of the password hash, kept in the session row (a password change signs browsers out)."""
    return hashlib.sha256(staff.password_hash.encode()).hexdigest()[:16]


def current_staff(request: Request, db: DbSession) -> StaffUser:
    """The signed-in, active staff member; otherwise :class:`LoginRequired`."""
    staff_id = request.session.get("staff_id")
    staff = db.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    if staff is None or not staff.active or request.session.get("pw") != password_fingerprint(staff):
        # The fingerprint check signs every browser out when the password changes.
        request.session.pop("staff_id", None)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path if request.method in SAFE_METHODS else "/")
    # A plain copy for the templates: error pages render after the request's session has closed.
    request.state.staff = SignedInStaff(staff.id, staff.username, staff.display_name, staff.role)
    return staff


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]


def require_role(*roles: StaffRole) -> Callable[[StaffUser], StaffUser]:
    """A dependency allowing only ``roles`` (403 for anyone else who is signed in)."""

    def check(staff: CurrentStaff) -> StaffUser:
        if staff.role not in roles:
            raise HTTPException(status_code=403, detail="Your role does not allow this.")
        return staff

    return check


# Staff routers use these: login first, then the CSRF check for anything that changes data, then no id
# beyond the database's range.
STAFF_DEPENDENCIES = [Depends(current_staff), Depends(verify_csrf), Depends(path_ids_in_range)]
