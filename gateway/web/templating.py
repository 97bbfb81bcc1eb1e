"""Server-rendered pages: one Jinja2 environment (autoescaped) and :func:`render` which adds what every page
needs: the signed-in staff member, the CSRF token, the navigation for their role, and one-shot notices."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway.config import SANDBOX_BANNER
from gateway.models import StaffRole
from gateway.relationships import cares_at_home, relationship_label
from gateway.web import labels
from gateway.web.deps import CSRF_FIELD, SignedInStaff, csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[StaffRole] | None = None  # None: every role
    sandbox_only: bool = False
    reviewers_only: bool = False  # staff who may review a language (administrators and granted translators)


NAVIGATION = (
    NavItem("/", "Today"),
    NavItem("/inbox", "Inbox"),
    NavItem("/dsl/messages", "DSL messages", frozenset({StaffRole.DSL})),
    NavItem("/dsl/approvals", "Awaiting approval", frozenset({StaffRole.DSL})),
    NavItem("/families", "Families"),
    NavItem("/contacts/problems", "Contacts to fix"),
    NavItem("/milestones", "Milestones"),
    NavItem("/reports", "Reports", frozenset({StaffRole.ATTENDANCE_LEAD, StaffRole.DSL, StaffRole.ADMIN})),
    NavItem("/templates", "Templates"),
    NavItem("/translations", "Translations", reviewers_only=True),
    NavItem("/settings", "Settings", frozenset({StaffRole.ADMIN})),
    NavItem("/audit", "Audit log", frozenset({StaffRole.ADMIN, StaffRole.DSL})),
    NavItem("/sandbox/phones", "Parent phones", sandbox_only=True),
    NavItem("/sandbox/mailbox", "Mailbox", sandbox_only=True),
)

ROLE_LABELS = {
    StaffRole.OFFICE: "Office",
    StaffRole.ATTENDANCE_LEAD: "Attendance lead",
    StaffRole.DSL: "Designated Safeguarding Lead",
    StaffRole.ADMIN: "Administrator",
}


def _local_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    """A UTC instant shown in the school's time zone (the settings are read at call time)."""
    if value is None:
        return ""
    from gateway.config import get_settings

    return value.astimezone(get_settings().tz).strftime(fmt)


def _short_hash(value: object) -> str:
    """A short digest of rendered text: Today's rows carry it so the refresh script swaps only what changed."""
    return hashlib.blake2s(str(value).encode(), digest_size=8).hexdigest()


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["local_time"] = _local_time
templates.env.filters["relationship_label"] = relationship_label  # staff see "Step Father", never "STF"
templates.env.globals["cares_at_home"] = cares_at_home
templates.env.filters["language_name"] = labels.language_name  # "Somali", never "so"
templates.env.filters["delivery_state"] = labels.delivery_state  # "with the phone company", "failed: not a mobile"
templates.env.filters["channel_name"] = labels.channel_name
templates.env.filters["register_code"] = labels.register_code
templates.env.filters["short_hash"] = _short_hash
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["ROLE_LABELS"] = ROLE_LABELS


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Queue a notice for the next page shown to this browser (after a redirect). Notices live in the
    server-side session row, never in the cookie, so they may name people."""
    notices = list(request.session.get("notices", []))
    notices.append({"message": message, "kind": kind})
    request.session["notices"] = notices[-5:]


def navigation_for(staff: SignedInStaff | None, sandbox: bool, *, reviewer: bool = False) -> list[NavItem]:
    if staff is None:
        return []
    return [item for item in NAVIGATION
            if (item.roles is None or staff.role in item.roles) and (sandbox or not item.sandbox_only)
            and (reviewer or not item.reviewers_only)]


def _reviews_translations(request: Request, staff: SignedInStaff) -> bool:
    """Whether ``staff`` may review a language (read from the database; False when it does not answer)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db import get_engine
    from gateway.translation_review import may_review_any_language

    try:
        with Session(get_engine(request.app.state.settings.database_url)) as session:
            return may_review_any_language(session, staff.id, staff.role)
    except SQLAlchemyError:
        return False


class _Navigation(Sequence[NavItem]):
    """The navigation for one page, worked out when the page shows it (fragments refreshed by htmx never do,
    so they cost no database query)."""

    def __init__(self, request: Request, staff: SignedInStaff | None, sandbox: bool) -> None:
        self._request, self._staff, self._sandbox = request, staff, sandbox

    @cached_property
    def _items(self) -> list[NavItem]:
        staff = self._staff
        reviewer = staff is not None and _reviews_translations(self._request, staff)
        return navigation_for(staff, self._sandbox, reviewer=reviewer)

    @overload
    def __getitem__(self, index: int) -> NavItem: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[NavItem]: ...
    def __getitem__(self, index: int | slice) -> NavItem | Sequence[NavItem]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """Render ``name`` with the page context every template relies on."""
    staff: SignedInStaff | None = getattr(request.state, "staff", None)
    sandbox = bool(request.app.state.settings.sandbox)
    page: dict[str, Any] = {
        "staff": staff,
        "csrf_token": csrf_token(request),
        "navigation": _Navigation(request, staff, sandbox),
        "current_path": request.url.path,
        "sandbox": sandbox,
        "sandbox_banner": SANDBOX_BANNER if request.app.state.settings.sandbox_exposed else None,
        "notices": request.session.pop("notices", []) if not request.headers.get("hx-request") else [],
    }
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code, headers=headers)
