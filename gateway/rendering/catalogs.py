"""Compiled gettext catalogs, loaded once per locale and looked up per message.

We read the committed ``.mo`` files (the wheel needs no compile step); ``gateway templates check`` fails
when a ``.mo`` no longer matches its ``.po``. Lookups return ``None`` for a string the catalog lacks (or
leaves empty) so the renderer can fall back to the en-GB source text *and report it*.

Texts a reviewer approved in the web app (``approved_texts``) replace the catalog's draft for their msgid:
:func:`load_catalog` lays them over the compiled catalog; without a database it is the catalog alone.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo

from gateway.resources import locales_dir

from .approved_texts import LocaleApprovals, approvals_for
from .locales import SOURCE_LOCALE


def _english_plural(n: int) -> int:
    return 0 if n == 1 else 1


@dataclass(frozen=True)
class MessageCatalog:
    """One locale's translations: singular strings, plural forms and the locale's plural rule."""

    locale: str
    is_source: bool = False
    singular: dict[str, str] = field(default_factory=dict)
    plural: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plural_index: Callable[[int], int] = _english_plural

    def gettext(self, msgid: str) -> str | None:
        """The translation of ``msgid``, or None when the catalog has none."""
        return self.singular.get(msgid)

    def pgettext(self, context: str, msgid: str) -> str | None:
        """The translation of ``msgid`` in ``context`` (``msgctxt``), or None when the catalog has none."""
        return self.singular.get(context_key(context, msgid))

    def ngettext(self, msgid: str, count: int) -> str | None:
        """The plural form of ``msgid`` for ``count``, or None when the catalog has none."""
        forms = self.plural.get(msgid)
        if forms is None:
            return None
        index = self.plural_index(count)
        return forms[index] if index < len(forms) else None


def context_key(context: str | None, msgid: str) -> str:
    """How a message with a ``msgctxt`` is keyed (gettext's own convention: context, EOT, msgid)."""
    return f"{context}\x04{msgid}" if context else msgid


def catalog_path(locale: str, suffix: str = ".mo") -> Path:
    """Where a locale's catalog lives (``locales/<tag>/LC_MESSAGES/messages.mo``)."""
    return locales_dir() / locale / "LC_MESSAGES" / f"messages{suffix}"


def catalog_from_babel(locale: str, catalog: Catalog) -> MessageCatalog:
    """Turn a Babel catalog (read from .po or .mo) into lookup tables; empty strings count as missing."""
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            forms = tuple(message.string) if isinstance(message.string, tuple | list) else ()
            if forms and all(forms):
                plural[message.id[0]] = forms
        elif isinstance(message.string, str) and message.string:
            singular[context_key(message.context, message.id)] = message.string
    expression = catalog.plural_expr
    rule = stdlib_gettext.c2py(expression) if expression else _english_plural
    return MessageCatalog(locale=locale, singular=singular, plural=plural, plural_index=rule)


def with_approved_texts(catalog: MessageCatalog, approvals: LocaleApprovals) -> MessageCatalog:
    """``catalog`` with every approved text in place of its translation (plural messages: all forms)."""
    singular = dict(catalog.singular)
    plural = dict(catalog.plural)
    for (msgctxt, msgid), approved in approvals.messages.items():
        if not msgctxt and (msgid in plural or len(approved.forms) > 1):
            plural[msgid] = approved.forms
        elif approved.forms and approved.forms[0]:
            singular[context_key(msgctxt, msgid)] = approved.forms[0]
    return MessageCatalog(locale=catalog.locale, is_source=catalog.is_source, singular=singular, plural=plural,
                          plural_index=catalog.plural_index)


_LOADED: dict[str, MessageCatalog] = {}
_MERGED: dict[str, tuple[LocaleApprovals, MessageCatalog]] = {}
_LOCK = threading.Lock()


def load_catalog(locale: str) -> MessageCatalog:
    """The locale's catalog with the reviewers' approved texts laid over it (see ``approved_texts``)."""
    catalog = load_compiled_catalog(locale)
    if catalog.is_source:
        return catalog
    approvals = approvals_for(locale)
    if approvals is None or not approvals.messages:
        return catalog
    merged = _MERGED.get(locale)
    if merged is None or merged[0] is not approvals:
        merged = (approvals, with_approved_texts(catalog, approvals))
        _MERGED[locale] = merged
    return merged[1]


def load_compiled_catalog(locale: str) -> MessageCatalog:
    """The locale's catalog from its ``.mo`` (cached for the life of the process).

    en-GB is the source language: an empty catalog whose lookups fall through to the msgid unreported.
    """
    cached = _LOADED.get(locale)
    if cached is not None:
        return cached
    with _LOCK:
        if locale not in _LOADED:
            path = catalog_path(locale)
            if locale == SOURCE_LOCALE:
                _LOADED[locale] = MessageCatalog(locale=locale, is_source=True)
            elif not path.exists():
                _LOADED[locale] = MessageCatalog(locale=locale)
            else:
                with path.open("rb") as handle:
                    _LOADED[locale] = catalog_from_babel(locale, read_mo(handle))
        return _LOADED[locale]


def clear_catalog_cache() -> None:
    """Forget loaded catalogs (after ``make i18n`` in a long-running process, and in tests)."""
    with _LOCK:
        _LOADED.clear()
        _MERGED.clear()
