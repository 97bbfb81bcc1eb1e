"""Each language's review status: draft, partly reviewed or reviewed, by whom and when.

Two sources agree on it: the catalog's header comment (``# X-Review-Status: reviewed by … on 2026-12-01``,
written by ``gateway translations export``; Babel drops unknown header *fields*, so the status lives in the
comment) and, when a database is configured, the texts approved in the web app. A language is reviewed when
its header says so or when every message of the catalog template (``messages.pot``) has an approved text;
partly reviewed when some have. Until a language is reviewed its e-mails carry the English text too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from gateway.resources import locales_dir

from .approved_texts import LocaleApprovals, approvals_for
from .locales import SOURCE_LOCALE

REVIEW_FIELD = "X-Review-Status"
_REVIEW_COMMENT = re.compile(rf"^#?\s*{REVIEW_FIELD}:\s*(?P<value>.*)$", re.MULTILINE)
_BY_ON = re.compile(r"\bby (?P<who>.+?) on (?P<day>\d{4}-\d{2}-\d{2})")


class ReviewState(StrEnum):
    SOURCE = "source"
    DRAFT = "draft"
    PARTLY_REVIEWED = "partly reviewed"
    REVIEWED = "reviewed"


@dataclass(frozen=True)
class MessageKey:
    """One message of the catalog template: context ("" when none), msgid, and the plural msgid if any."""

    msgctxt: str
    msgid: str
    msgid_plural: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.msgctxt, self.msgid


@dataclass(frozen=True)
class ReviewStatus:
    """A language's review status, from its catalog header and the approvals in the database."""

    locale: str
    state: ReviewState
    reviewers: tuple[str, ...] = ()
    reviewed_on: date | None = None
    approved: int = 0
    total: int = 0
    catalog_status: str = ""

    @property
    def summary(self) -> str:
        """"partly reviewed: 12 of 107 messages approved, by Anna Kowalska, last on 2026-12-01"."""
        if self.state is ReviewState.SOURCE:
            return "source text"
        parts = [self.catalog_status if self.state is ReviewState.DRAFT and self.catalog_status.startswith("draft")
                 else self.state.value]
        if self.total and self.approved:
            parts[0] += f": {self.approved} of {self.total} messages approved"
        if self.reviewers:
            parts.append("by " + ", ".join(self.reviewers))
        if self.reviewed_on:
            parts.append(f"last on {self.reviewed_on.isoformat()}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"locale": self.locale, "state": self.state.value, "reviewers": list(self.reviewers),
                "reviewed_on": self.reviewed_on.isoformat() if self.reviewed_on else None,
                "approved": self.approved, "total": self.total, "catalog_status": self.catalog_status,
                "summary": self.summary}


def po_path(locale: str, root: Path | None = None) -> Path:
    return (root or locales_dir()) / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=64)
def _read_catalog(path: Path, _mtime_ns: int) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def read_catalog(path: Path) -> Catalog:
    """A ``.po``/``.pot`` file (cached until the file changes)."""
    return _read_catalog(path, path.stat().st_mtime_ns)


def template_messages(root: Path | None = None) -> tuple[MessageKey, ...]:
    """Every message of ``messages.pot``, in file order."""
    path = (root or locales_dir()) / "messages.pot"
    if not path.exists():
        return ()
    return _template_messages(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _template_messages(path: Path, mtime_ns: int) -> tuple[MessageKey, ...]:
    keys = []
    for message in _read_catalog(path, mtime_ns):
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            keys.append(MessageKey(message.context or "", str(message.id[0]), str(message.id[1])))
        else:
            keys.append(MessageKey(message.context or "", str(message.id)))
    return tuple(keys)


def catalog_review_value(catalog: Catalog) -> str:
    """The ``X-Review-Status`` value in a catalog's header comment ("" when it has none).

    The value may run over several comment lines; it ends at the first full stop that ends a line or
    sentence, which is how the drafts and ``gateway translations export`` write it."""
    match = _REVIEW_COMMENT.search(catalog.header_comment or "")
    if not match:
        return ""
    head = (catalog.header_comment or "")[match.start("value"):]
    words = " ".join(line.lstrip("#").strip() for line in head.splitlines())
    end = re.search(r"\.(\s|$)", words)
    return (words[:end.start()] if end else words).strip()


_REVIEW_HEADER_FIELD = re.compile(rf'^"{REVIEW_FIELD}:\s*(?P<value>[^"\\]*)(?:\\n)?"\s*$', re.MULTILINE)


def review_value_of_file(path: Path) -> str:
    """The review status a ``.po`` file states: an ``X-Review-Status`` header field if it kept one (Babel drops
    unknown fields when it writes, so usually it has not), else its header comment's; "" when neither."""
    return _review_value(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _review_value(path: Path, mtime_ns: int) -> str:
    head = path.read_text(encoding="utf-8")[:4000]  # the header block comes first
    field = _REVIEW_HEADER_FIELD.search(head)
    if field:
        return field.group("value").strip()
    return catalog_review_value(_read_catalog(path, mtime_ns))


def parse_review_value(value: str) -> tuple[ReviewState, tuple[str, ...], date | None]:
    """("reviewed by Anna Kowalska on 2026-12-01") -> (REVIEWED, ("Anna Kowalska",), 2026-12-01)."""
    lowered = value.strip().lower()
    if lowered.startswith("reviewed"):
        state = ReviewState.REVIEWED
    elif lowered.startswith("partly reviewed"):
        state = ReviewState.PARTLY_REVIEWED
    else:
        state = ReviewState.DRAFT
    found = _BY_ON.search(value)
    if state is ReviewState.DRAFT or not found:
        return state, (), None
    reviewers = tuple(name.strip() for name in re.split(r",| and ", found.group("who")) if name.strip())
    return state, reviewers, date.fromisoformat(found.group("day"))


def approved_count(keys: tuple[MessageKey, ...], approvals: LocaleApprovals | None, num_plurals: int) -> int:
    """How many of ``keys`` have a complete approved text (every plural form for a plural message)."""
    if approvals is None:
        return 0
    count = 0
    for key in keys:
        approved = approvals.get(key.msgctxt, key.msgid)
        if approved is not None and approved.forms and all(approved.forms) and (
                key.msgid_plural is None or len(approved.forms) == num_plurals):
            count += 1
    return count


def review_status(locale: str, *, root: Path | None = None,
                  approvals: LocaleApprovals | bool | None = True) -> ReviewStatus:
    """The status of ``locale``: its catalog header, combined with the approvals (``True``: the configured
    database's; ``None``: none)."""
    if locale == SOURCE_LOCALE:
        return ReviewStatus(locale, ReviewState.SOURCE)
    path = po_path(locale, root)
    if not path.exists():
        return ReviewStatus(locale, ReviewState.DRAFT, catalog_status="no catalog")
    catalog = read_catalog(path)
    value = review_value_of_file(path)
    header_state, header_reviewers, header_day = parse_review_value(value)
    found = approvals_for(locale) if approvals is True else (approvals or None)
    keys = template_messages(root)
    approved = approved_count(keys, found, catalog.num_plurals)
    if found is not None and approved:
        relevant = list(found.messages.values())
        reviewers = tuple(dict.fromkeys(a.approved_by for a in sorted(relevant, key=lambda a: a.approved_at)))
        day = max(a.approved_at for a in relevant).date()
        if approved == len(keys) or header_state is ReviewState.REVIEWED:
            state = ReviewState.REVIEWED
        else:
            state = ReviewState.PARTLY_REVIEWED
        reviewers = tuple(dict.fromkeys((*header_reviewers, *reviewers)))
        if header_day and header_day > day:
            day = header_day
        return ReviewStatus(locale, state, reviewers, day, approved, len(keys), value)
    return ReviewStatus(locale, header_state, header_reviewers, header_day, 0, len(keys), value)


def is_reviewed(locale: str) -> bool:
    """True for the source language and for a reviewed language (its e-mails then carry no English copy)."""
    if locale == SOURCE_LOCALE:
        return True
    return review_status(locale).state is ReviewState.REVIEWED


def clear_review_cache() -> None:
    _read_catalog.cache_clear()
    _template_messages.cache_clear()
    _review_value.cache_clear()
