"""Request dependencies shared by every staff page: the database session, the signed-in staff member,
role checks and CSRF protection.

CSRF: each browser session holds one random token (``session["csrf"]``). Every state-changing request to a
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


DbSession = Annotated[Session, Depends(db_session)]
_Row = TypeVar("_Row")


def get_or_404(db: Session, model: type[_Row], ident: int, what: str) -> _Row:
    """The ``model`` row with id ``ident``, or a 404 saying "No such <what>."."""
    row = db.get(model, ident)
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
    """A short digest of the password hash, kept in the session (never the hash itself: cookies are readable)."""
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


# Staff routers use these: login first, then the CSRF check for anything that changes data.
STAFF_DEPENDENCIES = [Depends(current_staff), Depends(verify_csrf)]
