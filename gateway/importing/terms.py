"""Import school term dates: half-terms and INSET days, from TOML or iCalendar (.ics).

TOML (CONTRACT.md)::

    [[half_term]]
    name = "Spring 1"
    start = 2027-01-05
    end = 2027-02-12        # the last school day, inclusive
    [[inset]]
    date = 2027-01-04

iCalendar convention (what a school's calendar export needs to hold):
- a half-term is an all-day VEVENT whose SUMMARY is its name, "Autumn 1" … "Summer 2" (case and extra
  words after the name are ignored: "Spring 1 half-term" works); it runs from DTSTART to the day before
  DTEND, as all-day events do in iCalendar;
- an INSET day is an all-day VEVENT whose SUMMARY starts with "INSET"; a multi-day event is one INSET
  day per date;
- any other event (trips, parents' evenings) is ignored with a warning.

Half-terms are matched on their start date, INSET days on their date: re-importing changes nothing, and
a corrected end date or name updates in place. Dates already stored but absent from the file are kept.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import Problem
from gateway.importing.records import Counts, ProblemLog
from gateway.models import HalfTerm, InsetDay

HALF_TERM_NAMES = ("Autumn 1", "Autumn 2", "Spring 1", "Spring 2", "Summer 1", "Summer 2")
_HALF_TERM_SUMMARY = re.compile(r"^\s*(autumn|spring|summer)\s*([12])\b", re.IGNORECASE)


@dataclass(frozen=True)
class _HalfTerm:
    where: str
    name: str
    start: date
    end: date


@dataclass
class TermsImportSummary:
    source: str
    half_terms: Counts = field(default_factory=Counts)
    inset_days: Counts = field(default_factory=Counts)
    warnings: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"half_terms": self.half_terms.total, "inset_days": self.inset_days.total,
                "created": {"half_terms": self.half_terms.created, "inset_days": self.inset_days.created},
                "updated": {"half_terms": self.half_terms.updated},
                "warnings": [str(w) for w in self.warnings]}


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _read_toml(path: Path, log: ProblemLog) -> tuple[list[_HalfTerm], dict[date, str]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.error("document", None, f"not valid TOML: {exc}")
        return [], {}
    half_terms: list[_HalfTerm] = []
    for index, entry in enumerate(document.get("half_term", []), start=1):
        where = f"half_term[{index}]"
        name = str(entry.get("name", "")).strip()
        start, end = _as_date(entry.get("start")), _as_date(entry.get("end"))
        if not name:
            log.error(where, "name", "missing")
        for key, value in (("start", start), ("end", end)):
            if value is None:
                log.error(where, key, f"{entry.get(key)!r} is not a date (YYYY-MM-DD)")
        if name and start and end:
            half_terms.append(_HalfTerm(where, name, start, end))
    insets: dict[date, str] = {}
    for index, entry in enumerate(document.get("inset", []), start=1):
        day = _as_date(entry.get("date"))
        if day is None:
            log.error(f"inset[{index}]", "date", f"{entry.get('date')!r} is not a date (YYYY-MM-DD)")
        else:
            insets.setdefault(day, f"inset[{index}]")
    unknown = sorted(set(document) - {"half_term", "inset"})
    if unknown:
        log.warn("document", None, f"ignored unknown table(s): {', '.join(unknown)}")
    return half_terms, insets


def _read_ics(path: Path, log: ProblemLog) -> tuple[list[_HalfTerm], dict[date, str]]:
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(path.read_bytes())
    except ValueError as exc:
        log.error("document", None, f"not a valid iCalendar file: {exc}")
        return [], {}
    half_terms: list[_HalfTerm] = []
    insets: dict[date, str] = {}
    for index, event in enumerate(calendar.walk("VEVENT"), start=1):
        summary = str(event.get("SUMMARY", "")).strip()
        where = f"VEVENT[{index}] {summary!r}"
        start = _as_date(event.decoded("DTSTART")) if event.get("DTSTART") else None
        end_value = _as_date(event.decoded("DTEND")) if event.get("DTEND") else None
        if start is None:
            log.error(where, "DTSTART", "missing")
            continue
        # iCalendar all-day events end the day after their last day; no DTEND means one day.
        last = (end_value - timedelta(days=1)) if end_value and end_value > start else start
        match = _HALF_TERM_SUMMARY.match(summary)
        if match:
            half_terms.append(_HalfTerm(where, f"{match[1].capitalize()} {match[2]}", start, last))
        elif summary.upper().startswith("INSET"):
            for offset in range((last - start).days + 1):
                insets.setdefault(start + timedelta(days=offset), where)
        else:
            log.warn(where, "SUMMARY", "neither a half-term nor an INSET day: ignored")
    return half_terms, insets


def _check(half_terms: list[_HalfTerm], log: ProblemLog) -> None:
    for term in half_terms:
        if term.end < term.start:
            log.error(term.where, "end", f"{term.end} is before the start {term.start}")
        if term.name not in HALF_TERM_NAMES:
            log.warn(term.where, "name", f"{term.name!r} is not one of {', '.join(HALF_TERM_NAMES)}")
    ordered = sorted(half_terms, key=lambda t: t.start)
    for before, after in itertools.pairwise(ordered):
        if after.start <= before.end:
            log.error(after.where, "start", f"{after.name} overlaps {before.name} ({before.where})")


def import_terms(session: Session, path: Path | str) -> TermsImportSummary:
    """Import half-terms and INSET days from a ``.toml`` or ``.ics`` file; the caller commits."""
    path = Path(path)
    log = ProblemLog(path.name)
    if path.suffix.lower() in (".ics", ".ical", ".ifb"):
        half_terms, insets = _read_ics(path, log)
    elif path.suffix.lower() == ".toml":
        half_terms, insets = _read_toml(path, log)
    else:
        log.error("file", None, "term dates must be a .toml or an .ics file")
        half_terms, insets = [], {}
    _check(half_terms, log)
    log.raise_if_errors()

    summary = TermsImportSummary(source=path.name, warnings=list(log.warnings))
    existing = {t.start: t for t in session.scalars(select(HalfTerm))}
    for term in half_terms:
        stored = existing.get(term.start)
        if stored is None:
            session.add(HalfTerm(name=term.name, start=term.start, end=term.end))
            summary.half_terms.created += 1
        elif (stored.name, stored.end) != (term.name, term.end):
            stored.name, stored.end = term.name, term.end
            summary.half_terms.updated += 1
        else:
            summary.half_terms.unchanged += 1
    known_insets = set(session.scalars(select(InsetDay.date)))
    for day in sorted(insets):
        if day in known_insets:
            summary.inset_days.unchanged += 1
        else:
            session.add(InsetDay(date=day))
            summary.inset_days.created += 1
    session.flush()
    return summary
