"""The context a message is rendered from: one plain mapping, built and checked here.

Every kind needs::

    school     {"name": str, "phone": str, "staff_name": str}   staff_name: the named person to contact
    recipient  {"title": str, "forename": str, "surname": str}  the adult the message goes to
    pupils     [{"forename": str, "surname": str}, ...]         one or more: siblings share one message
    date       datetime.date                                     the day of the absence / of the message

and per kind (``KIND_FIELDS``):

    absence_continuing   days_absent: int        school days absent so far, including today
    fresh_start          days_missed: int | list[int]
                                                 days missed last half-term: one figure per pupil, in the
                                                 order of ``pupils`` (a single int: the same for every pupil)
                         half_term_name: str     the new half-term, e.g. "Spring 1" (translated when it is
                                                 Autumn/Spring/Summer 1 or 2, otherwise shown as written)
                         start_date: date        its first day
    positive_attendance  improved_sessions: int  sessions (half-days) more attended than last half-term;
                                                 the message speaks of whole days (sessions // 2, at least 1)
    others               nothing more

Dates may also be ISO strings (``"2026-11-23"``) so a JSON file works as a context.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

KINDS = (
    "absence_first_day", "absence_followup", "absence_emergency_contact", "absence_continuing",
    "reply_thanks", "fresh_start", "positive_attendance", "fortnightly_checkin",
)



class PerPupilCount:
    """The type of a ``KIND_FIELDS`` value given per pupil: a whole number for every pupil, or a list of them
    in the order of ``pupils`` (see :func:`counts_per_pupil`)."""


KIND_FIELDS: Mapping[str, Mapping[str, type]] = {
    "absence_first_day": {},
    "absence_followup": {},
    "absence_emergency_contact": {},
    "absence_continuing": {"days_absent": int},
    "reply_thanks": {},
    "fresh_start": {"days_missed": PerPupilCount, "half_term_name": str, "start_date": dt.date},
    "positive_attendance": {"improved_sessions": int},
    "fortnightly_checkin": {},
}


class ContextError(ValueError):
    """A context is missing a value its kind needs, or a value has the wrong type."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        self.kind, self.field, self.problem = kind, field, message
        super().__init__(f"{kind}: {field}: {message}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def counts_per_pupil(kind: str, field: str, value: Any, pupil_count: int) -> tuple[int, ...]:
    """One whole number per pupil from ``value``: an int (the same for all) or a sequence in pupil order."""
    if _is_count(value):
        return (value,) * pupil_count
    if isinstance(value, list | tuple) and value and all(_is_count(item) for item in value):
        if len(value) != pupil_count:
            raise ContextError(kind, field, f"expected one figure per pupil ({pupil_count}), got {len(value)}")
        return tuple(value)
    raise ContextError(kind, field, f"expected a whole number of 0 or more (or one per pupil), got {value!r}")


def _as_date(kind: str, field: str, value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ContextError(kind, field, f"expected a date (YYYY-MM-DD), got {value!r}")


def build_context(
    kind: str,
    *,
    school: Mapping[str, str],
    recipient: Mapping[str, str],
    pupils: Sequence[Mapping[str, str]],
    date: dt.date | str,
    **kind_specific: Any,
) -> dict[str, Any]:
    """Check and assemble the context for ``kind``; raise :class:`ContextError` naming what is wrong.

    >>> build_context("absence_continuing", school=SCHOOL, recipient=ADULT, pupils=[CHILD],
    ...               date=dt.date(2026, 11, 23), days_absent=3)
    """
    if kind not in KIND_FIELDS:
        raise ContextError(kind, "kind", f"unknown kind; expected one of {', '.join(KINDS)}")
    for name, part, keys in (("school", school, ("name", "phone", "staff_name")),
                             ("recipient", recipient, ("forename", "surname"))):
        for key in keys:
            if not str(part.get(key) or "").strip():
                raise ContextError(kind, f"{name}.{key}", "missing")
    if not pupils:
        raise ContextError(kind, "pupils", "at least one pupil is needed")
    for index, pupil in enumerate(pupils):
        for key in ("forename", "surname"):
            if not str(pupil.get(key) or "").strip():
                raise ContextError(kind, f"pupils[{index}].{key}", "missing")
    expected = KIND_FIELDS[kind]
    unexpected = sorted(set(kind_specific) - set(expected))
    if unexpected:
        raise ContextError(kind, unexpected[0], f"not used by {kind} (it takes: {', '.join(expected) or 'nothing'})")
    context: dict[str, Any] = {
        "school": dict(school),
        "recipient": {"title": "", **recipient},
        "pupils": [dict(p) for p in pupils],
        "date": _as_date(kind, "date", date),
    }
    for field, field_type in expected.items():
        if field not in kind_specific or kind_specific[field] is None:
            raise ContextError(kind, field, f"missing (needed by {kind})")
        value = kind_specific[field]
        if field_type is dt.date:
            value = _as_date(kind, field, value)
        elif field_type is int and not _is_count(value):
            raise ContextError(kind, field, f"expected a whole number of 0 or more, got {value!r}")
        elif field_type is PerPupilCount:
            counts_per_pupil(kind, field, value, len(pupils))
            value = list(value) if isinstance(value, list | tuple) else value
        elif field_type is str and not (isinstance(value, str) and value.strip()):
            raise ContextError(kind, field, f"expected text, got {value!r}")
        context[field] = value
    return context


SAMPLE_SCHOOL = {"name": "St Mary's Church of England Primary School", "phone": "01632 960123",
                 "staff_name": "Mrs Oluwaseun Adeyemi-Clarke"}
# Long, accented names as real families in English schools have them: the worst case for SMS length (an
# accent outside GSM-7 turns a whole text into UCS-2) and for right-to-left layout (Latin runs).
SAMPLE_RECIPIENT = {"title": "Mrs", "forename": "Małgorzata-Żaneta", "surname": "Wiśniewska-Kowalczyk"}
SAMPLE_PUPILS = [{"forename": "Alexandra-Victoria", "surname": "Wiśniewska-Kowalczyk"},
                 {"forename": "Maximilian-Jonathan", "surname": "Wiśniewska-Kowalczyk"}]
SAMPLE_DATE = dt.date(2026, 11, 23)
SAMPLE_KIND_VALUES: Mapping[str, Mapping[str, Any]] = {
    "absence_continuing": {"days_absent": 3},
    "fresh_start": {"days_missed": 7, "half_term_name": "Spring 1", "start_date": dt.date(2027, 1, 5)},
    "positive_attendance": {"improved_sessions": 8},
}
# The counts `templates check` tries in every counted kind: each plural form, and the longest numbers.
SAMPLE_COUNTS = (1, 2, 5, 11, 22, 101)
# The context field behind each counted kind's number, and how a count of days becomes that field.
COUNTED_FIELDS: Mapping[str, tuple[str, int]] = {
    "absence_continuing": ("days_absent", 1),
    "fresh_start": ("days_missed", 1),
    "positive_attendance": ("improved_sessions", 2),  # the message speaks of sessions // 2 days
}


# Counted kinds whose figure is each pupil's own: `templates check` also tries siblings with different figures.
PER_PUPIL_COUNTED = frozenset(kind for kind, (field, _) in COUNTED_FIELDS.items()
                              if KIND_FIELDS[kind][field] is PerPupilCount)


def differing_sample_counts(count: int) -> tuple[int, int]:
    """Two different figures for the sample siblings: ``count`` and the next sample count (101 then 1), so
    every sample count is tried first and second, and the two longest numbers (22 and 101) together."""
    index = SAMPLE_COUNTS.index(count)
    return count, SAMPLE_COUNTS[(index + 1) % len(SAMPLE_COUNTS)]


def sample_context(kind: str, *, siblings: bool = True, count: int | None = None,
                   counts: tuple[int, ...] | None = None) -> dict[str, Any]:
    """A realistic context for ``kind`` (long accented double-barrelled names; siblings unless told otherwise).

    ``count`` sets the number a counted kind speaks of (days absent, days missed, days more attended);
    ``counts`` sets one per sibling where the kind takes a figure per pupil (``PER_PUPIL_COUNTED``).
    """
    pupils = SAMPLE_PUPILS if siblings else SAMPLE_PUPILS[:1]
    values = dict(SAMPLE_KIND_VALUES.get(kind, {}))
    if count is not None and kind in COUNTED_FIELDS:
        field, factor = COUNTED_FIELDS[kind]
        values[field] = count * factor
    if counts is not None and kind in PER_PUPIL_COUNTED:
        field, factor = COUNTED_FIELDS[kind]
        values[field] = [figure * factor for figure in counts[:len(pupils)]]
    return build_context(kind, school=SAMPLE_SCHOOL, recipient=SAMPLE_RECIPIENT, pupils=pupils,
                         date=SAMPLE_DATE, **values)


SampleFigures = tuple[int, ...] | None


def sample_contexts(kind: str) -> list[tuple[SampleFigures, dict[str, Any]]]:
    """Every sample context ``templates check`` renders for ``kind``, with the figures it speaks of.

    A counted kind: the two siblings with each of ``SAMPLE_COUNTS`` (``(count,)``); a kind with a figure per
    pupil also with the siblings' figures differing (``(count, next count)``). Other kinds: one context, None.
    """
    if kind not in COUNTED_FIELDS:
        return [(None, sample_context(kind))]
    found: list[tuple[SampleFigures, dict[str, Any]]] = [
        ((count,), sample_context(kind, count=count)) for count in SAMPLE_COUNTS]
    if kind in PER_PUPIL_COUNTED:
        found += [(pair, sample_context(kind, counts=pair))
                  for pair in map(differing_sample_counts, SAMPLE_COUNTS)]
    return found
