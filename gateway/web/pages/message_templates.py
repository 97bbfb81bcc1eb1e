"""Templates: any message kind in any language, channel and reading level, rendered with sample data, and each
language's translation review status (the ``X-Review-Status`` header of its ``.po`` catalog)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.web.deps import STAFF_DEPENDENCIES
from gateway.web.templating import render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
# The header field, or the same words in the catalog's leading comment (``pybabel update`` keeps comments
# but may drop unknown header fields, so catalogs carry it either way).
_REVIEW_HEADER = re.compile(r'^"X-Review-Status:\s*(?P<value>[^"\\]*)(?:\\n)?"\s*$', re.MULTILINE)
_REVIEW_COMMENT = re.compile(r"^#\s*X-Review-Status:\s*(?P<value>.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LocaleStatus:
    locale: str
    review_status: str  # e.g. "machine-translated", "reviewed by …", or "unknown"


def review_status(po_file: Path) -> str:
    """The catalog's ``X-Review-Status`` header, or "not stated"."""
    try:
        head = po_file.read_text(encoding="utf-8")[:4000]  # the header block comes first
    except OSError:
        return "no catalog"
    match = _REVIEW_HEADER.search(head) or _REVIEW_COMMENT.search(head)
    return match.group("value").strip() if match else "not stated"


def locale_statuses() -> list[LocaleStatus]:
    """Every available locale with its review status (en-GB is the source: always "source")."""
    from gateway.rendering import SOURCE_LOCALE, available_locales
    from gateway.resources import locales_dir

    statuses = []
    for locale in available_locales():
        if locale == SOURCE_LOCALE:
            statuses.append(LocaleStatus(locale, "source text"))
            continue
        statuses.append(LocaleStatus(locale, review_status(locales_dir() / locale / "LC_MESSAGES" / "messages.po")))
    return statuses


def _choice(value: str | None, options: tuple[str, ...] | list[str], default: str) -> str:
    return value if value is not None and value in options else default


@router.get("/templates")
def templates_page(request: Request, kind: str | None = None, locale: str | None = None,
                   channel: str | None = None, variant: str | None = None) -> Response:
    """Render one message with sample data; list every language's review status."""
    from gateway.rendering import CHANNELS, KINDS, VARIANTS, available_locales, render_message, sample_context

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
        "rendered": rendered, "error": error, "statuses": locale_statuses(), "direction": direction})
