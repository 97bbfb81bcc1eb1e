"""Server-rendered pages: one Jinja2 environment (autoescaped) and :func:`render` which adds what every page
needs: the signed-in staff member, the CSRF token, the navigation for their role, and one-shot notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from gateway.models import StaffRole
from gateway.web.deps import CSRF_FIELD, SignedInStaff, csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[StaffRole] | None = None  # None: every role
    sandbox_only: bool = False


NAVIGATION = (
    NavItem("/", "Today"),
    NavItem("/inbox", "Inbox"),
    NavItem("/families", "Families"),
    NavItem("/milestones", "Milestones"),
    NavItem("/templates", "Templates"),
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


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["local_time"] = _local_time
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["ROLE_LABELS"] = ROLE_LABELS


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Queue a notice for the next page shown to this browser (after a redirect)."""
    notices = list(request.session.get("notices", []))
    notices.append({"message": message, "kind": kind})
    request.session["notices"] = notices[-5:]


def navigation_for(staff: SignedInStaff | None, sandbox: bool) -> list[NavItem]:
    if staff is None:
        return []
    return [item for item in NAVIGATION
            if (item.roles is None or staff.role in item.roles) and (sandbox or not item.sandbox_only)]


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """Render ``name`` with the page context every template relies on."""
    staff: SignedInStaff | None = getattr(request.state, "staff", None)
    sandbox = bool(request.app.state.settings.sandbox)
    page: dict[str, Any] = {
        "staff": staff,
        "csrf_token": csrf_token(request),
        "navigation": navigation_for(staff, sandbox),
        "current_path": request.url.path,
        "sandbox": sandbox,
        "notices": request.session.pop("notices", []) if not request.headers.get("hx-request") else [],
    }
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code, headers=headers)
