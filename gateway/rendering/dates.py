"""Dates and half-term names as each catalog wants them in a sentence.

A date is never dropped into a sentence in a fixed form: every use has its own translatable LDML pattern
(Babel's ``format_date`` syntax), so a catalog chooses the order, the abbreviations and the words around the
date: the case and the preposition its sentence needs (pl "5 stycznia (wtorek)", uk "5 січня (вівторок)",
lt "sausio 5 d. (antradienis)", pt "a 5 de janeiro (terça-feira)", ar "يوم الثلاثاء 5 يناير"). Literal words
in a pattern are quoted: ``'on' EEEE d MMMM``. ``gateway templates check`` fails on a pattern without a day
and a month, and on an SMS pattern that ends in a full stop (the sentence adds its own).

``pgettext`` here only marks the strings for ``pybabel extract``; the renderer looks them up per message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType

from babel.dates import format_date, parse_pattern

from .locales import babel_locale


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a (context, msgid) pair for extraction; returns it unchanged."""
    return context, message


# The absence day, after "today,": "today, Monday 23 November".
ABSENCE_DAY = pgettext("date pattern (LDML): the day of the absence, written after 'today,'", "EEEE d MMMM")
# The first day of the new half-term, with its preposition: "starts on Tuesday 5 January".
START_DAY = pgettext("date pattern (LDML) with its preposition: the first day of the new half-term, as in "
                     "'starts on Tuesday 5 January'", "'on' EEEE d MMMM")
# The same in an SMS: short, never ending in a full stop (the sentence adds one: no "nov.."), and never a
# form that reads as another date in the UK (lt "01-05" is 1 May to a British reader).
START_DAY_SMS = pgettext("date pattern (LDML) with its preposition, SMS: the first day of the new half-term, "
                         "as in 'starts on Tue 5 Jan'; short, must not end with a full stop, no numeric month",
                         "'on' EEE d MMM")

DATE_PATTERNS: tuple[tuple[str, str], ...] = (ABSENCE_DAY, START_DAY, START_DAY_SMS)
SMS_DATE_PATTERNS: frozenset[tuple[str, str]] = frozenset({START_DAY_SMS})

# Half-term names as schools write them in their term dates; anything else is shown as written.
HALF_TERM_NAMES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "Autumn 1": pgettext("half-term name", "Autumn 1"),
    "Autumn 2": pgettext("half-term name", "Autumn 2"),
    "Spring 1": pgettext("half-term name", "Spring 1"),
    "Spring 2": pgettext("half-term name", "Spring 2"),
    "Summer 1": pgettext("half-term name", "Summer 1"),
    "Summer 2": pgettext("half-term name", "Summer 2"),
})


def half_term_msgid(name: str) -> tuple[str, str] | None:
    """The (context, msgid) of a known half-term name ("spring 1 " finds "Spring 1"), or None."""
    return HALF_TERM_NAMES.get(" ".join(name.split()).title())


@lru_cache(maxsize=4096)
def format_day(day: date, pattern: str, locale: str) -> str:
    """``day`` in the locale's words with a catalog's LDML pattern."""
    return format_date(day, pattern, locale=babel_locale(locale))


_FIELD = re.compile(r"%\((\w+)\)s")
# One day in every month and on every weekday: enough to see every abbreviation a pattern can produce.
_PROBE_DAYS = tuple(date(2027, month, 1 + month) for month in range(1, 13))


def pattern_problem(pattern: str, locale: str, *, sms: bool) -> str | None:
    """Why a translated date pattern cannot be used in ``locale`` (None when it is fine)."""
    try:
        names = set(_FIELD.findall(str(parse_pattern(pattern).format)))
        fields = {name[0] for name in names}
        samples = [format_day(day, pattern, locale) for day in _PROBE_DAYS]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"not an LDML date pattern ({exc})"
    if "d" not in fields or not fields & {"M", "L"}:
        return "needs the day of the month (d) and the month (M or L)"
    if names & {"M", "MM", "L", "LL"}:
        return "the month must be a word (MMM or MMMM): a numeric date reads differently in the UK"
    if sms:
        ending = next((text for text in samples if text.rstrip().endswith(".")), None)
        if ending is not None:
            return f"an SMS date must not end with a full stop (the sentence adds one): {ending!r}"
    return None
