"""Read the contacts CSV (CONTRACT.md "File formats") into pupil and contact records.

One row per pupil–adult link; an empty cell means "unknown" (the database keeps what it has). Optional
columns ``bereaved``, ``long_term_ill`` and ``support_plan`` (true/false) set the pupil's flags. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2. A row whose
contact columns are all empty records the pupil only.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from gateway.importing.ctf import ParsedHouseholds
from gateway.importing.fields import (
    check_bool,
    check_channels,
    check_language,
    check_length,
    check_literacy,
    check_phone,
    check_priority,
    check_relationship,
    check_restriction,
    check_upn,
    check_window,
    finish_contact_points,
)
from gateway.importing.progress import ProgressReporter, SilentProgress
from gateway.importing.records import ContactEntry, ContactPointRecord, ProblemLog, PupilRecord, clean

CONTACT_COLUMNS = (
    "pupil_upn", "pupil_forename", "pupil_surname", "pupil_year", "pupil_language", "contact_ref", "title",
    "forename", "surname", "relationship", "priority", "parental_responsibility", "lives_with_pupil", "mobile",
    "home_phone", "work_phone", "email", "language", "channels", "literacy", "contact_window", "restriction",
)
# Optional columns (a file without them is fine): the pupil's flags the guidance relies on, true/false.
OPTIONAL_COLUMNS = ("bereaved", "long_term_ill", "support_plan")
# Columns that say something about the adult: a row with all of them empty has no contact.
_ADULT_COLUMNS = ("contact_ref", "title", "forename", "surname", "mobile", "home_phone", "work_phone", "email")


def _check_header(fieldnames: Sequence[str] | None, log: ProblemLog) -> bool:
    if not fieldnames:
        log.error("row 1", None, "the file is empty (no header row)")
        return False
    present = [name.strip().lower() for name in fieldnames]
    missing = [column for column in CONTACT_COLUMNS if column not in present]
    for column in missing:
        log.error("row 1", column, "missing column")
    extra = [name for name in present if name and name not in CONTACT_COLUMNS and name not in OPTIONAL_COLUMNS]
    if extra:
        log.warn("row 1", None, f"ignored unknown column(s): {', '.join(extra)}")
    return not missing


def _read_row(row: dict[str, str], where: str, log: ProblemLog, parsed: ParsedHouseholds) -> None:
    upn = check_upn(log, where, "pupil_upn", row.get("pupil_upn"))
    forename = check_length(log, where, "pupil_forename", clean(row.get("pupil_forename")), "name")
    surname = check_length(log, where, "pupil_surname", clean(row.get("pupil_surname")), "name")
    if not forename:
        log.error(where, "pupil_forename", "the pupil's forename is missing")
    if not surname:
        log.error(where, "pupil_surname", "the pupil's surname is missing")
    language, language_dfe = check_language(log, where, "pupil_language", row.get("pupil_language"))
    if upn and forename and surname:
        year = check_length(log, where, "pupil_year", clean(row.get("pupil_year")), "year")
        parsed.pupils.append(PupilRecord(
            upn=upn, forename=forename, surname=surname, where=where, year_group=year, home_language=language,
            home_language_dfe=language_dfe, bereaved=check_bool(log, where, "bereaved", row.get("bereaved")),
            long_term_ill=check_bool(log, where, "long_term_ill", row.get("long_term_ill")),
            support_plan=check_bool(log, where, "support_plan", row.get("support_plan"))))
    if not any(clean(row.get(column)) for column in _ADULT_COLUMNS):
        return
    errors_before = len(log.errors)
    contact_surname = check_length(log, where, "surname", clean(row.get("surname")), "name")
    if not contact_surname:
        log.error(where, "surname", "the contact's surname is missing")
    dropped_before = len(log.dropped)
    points: list[ContactPointRecord] = []
    for column, slot in (("mobile", "mobile"), ("home_phone", "home"), ("work_phone", "work")):
        text = clean(row.get(column))
        if text:
            point = check_phone(log, where, column, text, slot)  # type: ignore[arg-type]
            if point is not None:
                points.append(point)
    finish_contact_points(log, where, "email", clean(row.get("email")), points, errors_before)
    entry = ContactEntry(
        pupil_upn=upn or "", where=where, surname=contact_surname or "",
        forename=check_length(log, where, "forename", clean(row.get("forename")), "name") or "",
        title=check_length(log, where, "title", clean(row.get("title")), "title"),
        contact_ref=check_length(log, where, "contact_ref", clean(row.get("contact_ref")), "contact_ref"),
        relationship=check_relationship(log, where, "relationship", row.get("relationship")),
        priority=check_priority(log, where, "priority", row.get("priority")),
        parental_responsibility=bool(check_bool(log, where, "parental_responsibility",
                                                row.get("parental_responsibility"))),
        lives_with_pupil=check_bool(log, where, "lives_with_pupil", row.get("lives_with_pupil")),
        contact_points=points,
        language=_own_language(check_language(log, where, "language", row.get("language"))[0], row.get("language")),
        channels=check_channels(log, where, "channels", row.get("channels")),
        literacy=check_literacy(log, where, "literacy", row.get("literacy")),
        window=check_window(log, where, "contact_window", row.get("contact_window")),
        restriction=check_restriction(log, where, "restriction", row.get("restriction")),
        dropped=log.dropped[dropped_before:],
    )
    if upn and contact_surname:
        parsed.entries.append(entry)


def parse_contacts_csv(path: Path, log: ProblemLog, progress: ProgressReporter | None = None) -> ParsedHouseholds:
    """Read every row of a contacts CSV; problems go to ``log`` (the caller raises them)."""
    progress = progress or SilentProgress()
    progress.phase("reading contacts CSV")
    parsed = ParsedHouseholds()
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel writes a BOM
            reader = csv.DictReader(handle)
            if not _check_header(reader.fieldnames, log):
                return parsed
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
            for number, row in enumerate(reader, start=2):
                if None in row:
                    log.error(f"row {number}", None, "more cells than the header has columns")
                    continue
                if not any((value or "").strip() for value in row.values()):
                    continue
                _read_row(row, f"row {number}", log, parsed)
                progress.advance()
    except UnicodeDecodeError as exc:
        log.error("file", None, f"not UTF-8 text (byte {exc.start}): save the CSV as UTF-8")
    except csv.Error as exc:
        log.error("file", None, f"not a readable CSV: {exc}")
    except OSError as exc:
        log.error("file", None, f"cannot read the file: {exc.strerror or exc}")
    return parsed


def _own_language(tag: str | None, raw: str | None) -> str | None:
    """An adult's own language as stored: None (not the default locale) when the file gave none or a code that
    names no language we can write in, so a child's home language still applies (routing.language)."""
    from gateway.languages import to_locale

    if tag is None or to_locale(raw)[1] is not None:
        return None
    return tag
