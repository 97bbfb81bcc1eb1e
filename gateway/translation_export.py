"""``gateway translations export``: approved texts written back into the ``.po`` catalogs (and their ``.mo``).

Each approved text replaces the catalog's translation (and clears its fuzzy flag); the header comment's
``X-Review-Status`` line then says "reviewed" (every message approved) or "partly reviewed (N of M
messages)", with the reviewers and the date of the latest approval. The rest of the header is kept. The
``.mo`` is compiled beside it, as ``make i18n`` does, because the gateway ships and reads the ``.mo``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from gateway.rendering.approved_texts import LocaleApprovals
from gateway.rendering.review_status import REVIEW_FIELD, approved_count, po_path, template_messages

_REVIEW_LINE = re.compile(rf"^#?\s*{REVIEW_FIELD}:")
PO_WIDTH = 76  # pybabel's default, so an export and `make i18n` wrap lines alike


@dataclass
class ExportResult:
    """What one language's export did."""

    locale: str
    written: int = 0
    unchanged: int = 0
    not_in_catalog: list[str] = field(default_factory=list)
    status: str = ""
    po_file: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"locale": self.locale, "written": self.written, "unchanged": self.unchanged,
                "not_in_catalog": self.not_in_catalog, "status": self.status, "po_file": self.po_file}


def review_value(approvals: LocaleApprovals, approved: int, total: int) -> str:
    """The ``X-Review-Status`` value for a catalog with ``approved`` of ``total`` messages approved."""
    ordered = sorted(approvals.messages.values(), key=lambda a: a.approved_at)
    reviewers = ", ".join(dict.fromkeys(a.approved_by for a in ordered))
    day = max(a.approved_at for a in ordered).date() if ordered else date.today()
    if total and approved >= total:
        return f"reviewed by {reviewers} on {day.isoformat()}"
    return f"partly reviewed ({approved} of {total} messages) by {reviewers} on {day.isoformat()}"


def _header_with_status(header_comment: str, value: str, reviewed: bool) -> str:
    """The header comment with its review paragraph replaced: title lines kept, the draft notes dropped."""
    lines = header_comment.splitlines()
    kept = []
    for line in lines:
        if _REVIEW_LINE.match(line):
            break
        kept.append(line.lstrip("#").strip())
    kept.append(f"{REVIEW_FIELD}: {value}.")
    kept.append("Approved texts were written back from the gateway's translation review "
                "(gateway translations export).")
    if not reviewed:
        kept.append("Messages not yet approved are machine-assisted drafts: have a native speaker review them.")
    return "\n".join(f"# {line}" if line else "#" for line in kept)


def _set_header_fields(catalog: Catalog, approvals: LocaleApprovals, state: str) -> None:
    """Last-Translator names the reviewers, PO-Revision-Date is the latest approval, Language-Team its state."""
    ordered = sorted(approvals.messages.values(), key=lambda a: a.approved_at)
    if not ordered:
        return
    catalog.last_translator = ", ".join(dict.fromkeys(a.approved_by for a in ordered)) + " (gateway translation review)"
    catalog.revision_date = ordered[-1].approved_at
    team = catalog.language_team or ""
    catalog.language_team = re.sub(r"\s*\(.*\)\s*$", "", team) + f" ({state})" if team else state


def export_locale(locale: str, approvals: LocaleApprovals, *, root: Path | None = None) -> ExportResult:
    """Write ``approvals`` into ``<root>/<locale>/LC_MESSAGES/messages.po`` and compile its ``.mo``."""
    path = po_path(locale, root)
    result = ExportResult(locale, po_file=str(path))
    with path.open("rb") as handle:
        catalog: Catalog = read_po(handle, locale=locale.replace("-", "_"))
    for (msgctxt, msgid), approved_text in sorted(approvals.messages.items()):
        message = catalog.get(msgid, context=msgctxt or None)
        if message is None or not approved_text.forms:
            result.not_in_catalog.append(msgid)
            continue
        forms = approved_text.forms
        text: str | tuple[str, ...] = forms if isinstance(message.id, tuple | list) else forms[0]
        if message.string == text and not message.fuzzy:
            result.unchanged += 1
            continue
        message.string = text
        message.flags.discard("fuzzy")
        result.written += 1
    keys = template_messages(root)
    approved = approved_count(keys, approvals, catalog.num_plurals)
    reviewed = bool(keys) and approved == len(keys)
    result.status = review_value(approvals, approved, len(keys))
    catalog.header_comment = _header_with_status(catalog.header_comment or "", result.status, reviewed)
    _set_header_fields(catalog, approvals, "reviewed" if reviewed else "partly reviewed")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=PO_WIDTH)
    with path.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)
    return result
