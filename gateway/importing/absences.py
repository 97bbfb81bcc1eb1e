"""Import register marks from the absences CSV: ``upn, date, session, code`` (CONTRACT.md).

All or nothing, like every import: an unknown UPN, a code that is not a national attendance code, a bad
date or session, or the same session given two different codes is an error naming its row (the header is
row 1), and nothing is written. A re-import updates a mark in place (one mark per pupil, date and
session). The summary tells the pipeline what changed: the dates touched, and which marks became a
present code so open absence cases can close.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.errors import Problem
from gateway.importing.progress import ProgressReporter, SilentProgress
from gateway.importing.records import ProblemLog, clean
from gateway.importing.writer import chunks, refresh_statistics
from gateway.models import AttendanceMark, Pupil
from gateway.models.attendance import ALL_CODES, PRESENT_CODES, UNEXPLAINED

ABSENCE_COLUMNS = ("upn", "date", "session", "code")
SESSIONS = ("AM", "PM")


@dataclass(frozen=True)
class MarkChange:
    """A mark created or changed by the import; ``old_code`` is None for a new mark."""

    pupil_id: int
    upn: str
    date: date
    session: str
    old_code: str | None
    new_code: str

    def as_dict(self) -> dict[str, Any]:
        return {"upn": self.upn, "date": self.date.isoformat(), "session": self.session,
                "old_code": self.old_code, "new_code": self.new_code}


@dataclass
class AbsenceImportSummary:
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[MarkChange] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def dates(self) -> set[date]:
        """The dates on which at least one mark was created or changed."""
        return {change.date for change in self.changes}

    @property
    def now_present(self) -> list[MarkChange]:
        """Marks that were an absence (or other non-present code) and are now ``/``, ``\\`` or ``L``."""
        return [c for c in self.changes
                if c.old_code is not None and c.old_code not in PRESENT_CODES and c.new_code in PRESENT_CODES]

    @property
    def new_unexplained(self) -> list[MarkChange]:
        """Marks that became ``N`` (no reason yet): the same-day follow-up's work."""
        return [c for c in self.changes if c.new_code == UNEXPLAINED and c.old_code != UNEXPLAINED]

    def to_json(self) -> dict[str, Any]:
        return {"marks": self.created + self.updated + self.unchanged, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "dates": sorted(d.isoformat() for d in self.dates),
                "now_present": [c.as_dict() for c in self.now_present],
                "warnings": [str(w) for w in self.warnings]}


@dataclass(frozen=True)
class _Row:
    where: str
    upn: str
    date: date
    session: str
    code: str


def _read(path: Path, log: ProblemLog, progress: ProgressReporter) -> list[_Row]:
    rows: dict[tuple[str, date, str], _Row] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            missing = [c for c in ABSENCE_COLUMNS if c not in header]
            for column in missing:
                log.error("row 1", column, "missing column")
            if missing:
                return []
            reader.fieldnames = header
            for number, raw in enumerate(reader, start=2):
                row = _check_row(raw, f"row {number}", log)
                progress.advance()
                if row is None:
                    continue
                key = (row.upn, row.date, row.session)
                first = rows.setdefault(key, row)
                if first.code != row.code:
                    log.error(row.where, "code", f"{row.upn} {row.date} {row.session} is {first.code!r} at "
                              f"{first.where} and {row.code!r} here")
    except UnicodeDecodeError as exc:
        log.error("file", None, f"not UTF-8 text (byte {exc.start}): save the CSV as UTF-8")
    except (csv.Error, OSError) as exc:
        log.error("file", None, f"not a readable CSV: {exc}")
    return list(rows.values())


def _check_row(raw: dict[str, str], where: str, log: ProblemLog) -> _Row | None:
    errors_before = len(log.errors)
    upn = (clean(raw.get("upn")) or "").upper()
    if not upn:
        log.error(where, "upn", "UPN is missing")
    date_text = clean(raw.get("date")) or ""
    try:
        day = date.fromisoformat(date_text)
    except ValueError:
        log.error(where, "date", f"{date_text!r} is not a date (use YYYY-MM-DD)")
    session = (clean(raw.get("session")) or "").upper()
    if session not in SESSIONS:
        log.error(where, "session", f"{session!r} is not AM or PM")
    # Codes are case-sensitive in the national list only by convention; "n" is plainly meant as "N".
    code = (clean(raw.get("code")) or "").upper()
    if code not in ALL_CODES:
        log.error(where, "code", f"{code!r} is not a national attendance code")
    if len(log.errors) > errors_before:
        return None
    return _Row(where, upn, day, session, code)


def import_absences(
    session: Session, path: Path | str, *, progress: ProgressReporter | None = None
) -> AbsenceImportSummary:
    """Record register marks from the absences CSV (created or updated in place); the caller commits."""
    path = Path(path)
    progress = progress or SilentProgress()
    log = ProblemLog(path.name)
    progress.phase("reading absences CSV")
    rows = _read(path, log, progress)
    refresh_statistics(session, len(rows))
    upns = sorted({row.upn for row in rows})
    pupil_ids = {r.upn: r.id for chunk in chunks(upns)
                 for r in session.execute(select(Pupil.id, Pupil.upn).where(Pupil.upn.in_(chunk)))}
    for row in rows:
        if row.upn not in pupil_ids:
            log.error(row.where, "upn", f"no pupil with UPN {row.upn} (import the CTF or contacts first)")
    log.raise_if_errors()

    progress.phase("saving marks", len(rows))
    summary = AbsenceImportSummary(source=path.name, warnings=list(log.warnings))
    keys = sorted({(pupil_ids[r.upn], r.date) for r in rows})
    existing: dict[tuple[int, date, str], Any] = {}
    columns = (AttendanceMark.id, AttendanceMark.pupil_id, AttendanceMark.date, AttendanceMark.session,
               AttendanceMark.code)
    for key_chunk in chunks(keys, 500):
        query = select(*columns).where(tuple_(AttendanceMark.pupil_id, AttendanceMark.date).in_(key_chunk))
        for mark in session.execute(query):
            existing[(mark.pupil_id, mark.date, mark.session)] = mark
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        pupil_id = pupil_ids[row.upn]
        old = existing.get((pupil_id, row.date, row.session))
        if old is not None and old.code == row.code:
            summary.unchanged += 1
            continue
        if old is None:
            new_rows.append({"pupil_id": pupil_id, "date": row.date, "session": row.session, "code": row.code})
        else:
            updates.append({"id": old.id, "code": row.code})
        summary.changes.append(MarkChange(pupil_id, row.upn, row.date, row.session,
                                          None if old is None else old.code, row.code))
    for chunk in chunks(new_rows):
        session.execute(insert(AttendanceMark), list(chunk))
        progress.advance(len(chunk))
    if updates:
        session.execute(update(AttendanceMark), updates)
    session.flush()
    summary.created, summary.updated = len(new_rows), len(updates)
    return summary
