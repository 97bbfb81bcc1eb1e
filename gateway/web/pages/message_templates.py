"""Templates: any message kind in any language, channel and reading level, rendered with sample data, and each
language's translation review status (the ``X-Review-Status`` of its ``.po`` catalog's header comment, and the
texts approved on the Translation review pages)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession
from gateway.web.templating import render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)


@dataclass(frozen=True)
class LocaleStatus:
    locale: str
    review_status: str  # "draft (machine-assisted, …)", "partly reviewed: 12 of 80 messages approved, by …"
    state: str = "draft"  # draft / partly reviewed / reviewed / source


def review_status(po_file: Path) -> str:
    """The ``X-Review-Status`` of a catalog's header comment, or "not stated" ("no catalog" without a file)."""
    from gateway.rendering.review_status import review_value_of_file

    try:
        value = review_value_of_file(po_file)
    except OSError:
        return "no catalog"
    return value or "not stated"


def locale_statuses() -> list[LocaleStatus]:
    """Every available locale with its review status: the catalog header and, with a database, the approvals
    made on the Translation review pages (en-GB is the source: always "source text")."""
    from gateway.rendering import available_locales
    from gateway.rendering.review_status import review_status as language_status

    statuses = []
    for locale in available_locales():
        status = language_status(locale)
        statuses.append(LocaleStatus(locale, status.summary, status.state.value))
    return statuses


def _choice(value: str | None, options: tuple[str, ...] | list[str], default: str) -> str:
    return value if value is not None and value in options else default


@router.get("/templates")
def templates_page(request: Request, db: DbSession, staff: CurrentStaff, kind: str | None = None,
                   locale: str | None = None, channel: str | None = None, variant: str | None = None) -> Response:
    """Render one message with sample data; list every language's review status."""
    from gateway.rendering import CHANNELS, KINDS, VARIANTS, available_locales, render_message, sample_context
    from gateway.translation_review import translator_locales

    locales = list(available_locales())
    chosen = {
        "kind": _choice(kind, KINDS, KINDS[0]),
        "locale": _choice(locale, locales, locales[0]),
        "channel": _choice(channel, tuple(CHANNELS), "sms"),
        "variant": _choice(variant, tuple(VARIANTS), "standard"),
    }
    rendered: Any = None
    error = None
    try:
        rendered = render_message(chosen["kind"], locale=chosen["locale"], channel=chosen["channel"],  # type: ignore[arg-type]
                                  variant=chosen["variant"], context=sample_context(chosen["kind"]))  # type: ignore[arg-type]
    except Exception as exc:  # show why this combination does not render instead of failing the page
        error = f"{type(exc).__name__}: {exc}"
    direction = "ltr"
    try:
        from gateway.rendering.locales import text_direction

        direction = text_direction(chosen["locale"])
    except ImportError:
        pass
    return render(request, "templates_page.html", {
        "kinds": KINDS, "locales": locales, "channels": CHANNELS, "variants": VARIANTS, "chosen": chosen,
        "rendered": rendered, "error": error, "statuses": locale_statuses(), "direction": direction,
        "review_locales": translator_locales(db, staff)})
