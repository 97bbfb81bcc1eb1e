"""Texts approved by a human reviewer (the web app's translation review), laid over the catalogs at render time.

Approvals live in the database (``gateway.models.TranslationApproval``). The renderer reads them from the
configured database once and keeps them for ``REFRESH_SECONDS`` (so a worker process picks up an approval
made in the web app within a minute); saving an approval calls :func:`invalidate_approved_texts`, so the
process that saved it uses the new text at once. Without a database (no SQLite file yet, a server that does
not answer, tables not created) rendering uses the catalogs alone: ``gateway templates check`` runs anywhere.

A text not yet approved can be tried out: inside :func:`proposed_approvals` the renderer uses the given
approvals for their language, in the current thread or task only and without storing anything (the review
page checks a text against the SMS length budget this way before approving it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class ApprovedText:
    """One approved message: its text (one entry per plural form), who approved it and when."""

    msgctxt: str
    msgid: str
    forms: tuple[str, ...]
    approved_by: str
    approved_at: datetime


@dataclass(frozen=True)
class LocaleApprovals:
    """Every approved message of one language, keyed by ``(msgctxt, msgid)`` (msgctxt "" when none)."""

    locale: str
    messages: Mapping[tuple[str, str], ApprovedText] = field(default_factory=dict)

    def get(self, msgctxt: str | None, msgid: str) -> ApprovedText | None:
        return self.messages.get((msgctxt or "", msgid))


ApprovalLoader = Callable[[], Mapping[str, LocaleApprovals]]


def _sqlite_file_missing(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return False
    return not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file()


def load_from_database(database_url: str) -> dict[str, LocaleApprovals]:
    """Every approval in the database at ``database_url``, grouped by language (forms in plural order)."""
    from sqlalchemy.orm import Session

    from gateway.db import get_engine

    with Session(get_engine(database_url)) as session:
        return read_approvals(session)


def read_approvals(session: Session, locale: str | None = None) -> dict[str, LocaleApprovals]:
    """Every approval (of ``locale``, or of every language) seen by ``session``, grouped by language."""
    from sqlalchemy import select

    from gateway.models import StaffUser, TranslationApproval

    query = (select(TranslationApproval, StaffUser.display_name)
             .outerjoin(StaffUser, StaffUser.id == TranslationApproval.approved_by)
             .order_by(TranslationApproval.locale, TranslationApproval.msgctxt, TranslationApproval.msgid,
                       TranslationApproval.plural_index))
    if locale is not None:
        query = query.where(TranslationApproval.locale == locale)
    grouped: dict[str, dict[tuple[str, str], list[tuple[TranslationApproval, str | None]]]] = {}
    for approval, reviewer in session.execute(query).all():
        key = (approval.msgctxt or "", approval.msgid)
        grouped.setdefault(approval.locale, {}).setdefault(key, []).append((approval, reviewer))
    result: dict[str, LocaleApprovals] = {}
    for locale, messages in grouped.items():
        approved: dict[tuple[str, str], ApprovedText] = {}
        for (msgctxt, msgid), rows in messages.items():
            latest = max(rows, key=lambda row: row[0].approved_at)
            approved[(msgctxt, msgid)] = ApprovedText(
                msgctxt, msgid, tuple(row[0].text for row in rows),
                approved_by=latest[1] or "a former member of staff", approved_at=latest[0].approved_at)
        result[locale] = LocaleApprovals(locale, approved)
    return result


def _configured_database_approvals() -> Mapping[str, LocaleApprovals]:
    """Approvals from the gateway's configured database, or none when there is no usable database."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.config import ConfigError, get_settings

    try:
        url = get_settings().database_url
        if _sqlite_file_missing(url):
            return {}
        return load_from_database(url)
    except (SQLAlchemyError, ConfigError, OSError) as exc:
        log.warning("approved translations not loaded (rendering from the catalogs alone): %s",
                    type(exc).__name__)
        return {}


class _ApprovalCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loader: ApprovalLoader = _configured_database_approvals
        self.data: Mapping[str, LocaleApprovals] | None = None
        self.loaded_at = 0.0
        self.key: str | None = None

    def current(self) -> Mapping[str, LocaleApprovals]:
        key = _database_key()
        data = self.data
        if data is not None and key == self.key and time.monotonic() - self.loaded_at < REFRESH_SECONDS:
            return data
        with self.lock:
            if self.data is None or key != self.key or time.monotonic() - self.loaded_at >= REFRESH_SECONDS:
                self.data = self.loader()
                self.loaded_at = time.monotonic()
                self.key = key
            return self.data


def _database_key() -> str | None:
    """Which database the approvals came from (a test or a command that switches database reloads them)."""
    try:
        from gateway.config import get_settings

        return get_settings().database_url
    except Exception:  # settings that do not load: the loader reports it
        return None


_CACHE = _ApprovalCache()
# Approvals tried out before they are stored (see :func:`proposed_approvals`): per thread and per task.
_PROPOSED: ContextVar[LocaleApprovals | None] = ContextVar("proposed_approvals", default=None)


def approvals_for(locale: str) -> LocaleApprovals | None:
    """The approved texts of ``locale`` (None when nothing is approved or there is no database)."""
    proposed = _PROPOSED.get()
    if proposed is not None and proposed.locale == locale:
        return proposed
    return _CACHE.current().get(locale)


@contextmanager
def proposed_approvals(approvals: LocaleApprovals) -> Iterator[None]:
    """Render with ``approvals`` as every approved text of ``approvals.locale`` until the block ends.

    Only renders in this thread or task see them, and nothing is stored: a reviewer's text is checked this
    way (with the language's other approvals) before it is approved.
    """
    token = _PROPOSED.set(approvals)
    try:
        yield
    finally:
        _PROPOSED.reset(token)


def all_approvals() -> Mapping[str, LocaleApprovals]:
    """Approved texts of every language."""
    return _CACHE.current()


def invalidate_approved_texts() -> None:
    """Forget the loaded approvals: the next render reads them again (called after saving an approval)."""
    with _CACHE.lock:
        _CACHE.data = None


def use_approval_loader(loader: ApprovalLoader | None) -> None:
    """Read approvals with ``loader`` instead of the configured database (None: back to the database)."""
    with _CACHE.lock:
        _CACHE.loader = loader or _configured_database_approvals
        _CACHE.data = None
