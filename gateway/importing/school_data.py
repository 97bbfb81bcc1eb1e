"""Import pupils and their contacts from a CTF or a contacts CSV: all or nothing for the file's structure.

The whole file is read and checked first; any error raises :class:`gateway.errors.InputError` listing
every problem, before a single row is written. An unusable phone number or e-mail address of one contact
is a warning, not an error: that one point is dropped and reported, the pupil and the contact are imported.
``strict=True`` makes it an error again (all or nothing). Then everything is written through the given
session in one transaction: the caller commits (``gateway.db.session_scope`` does) or rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.importing.contacts_csv import parse_contacts_csv
from gateway.importing.ctf import ParsedHouseholds, parse_ctf
from gateway.importing.household import distinct_pupils, group_adults
from gateway.importing.progress import ProgressReporter, SilentProgress
from gateway.importing.records import ImportSummary, ProblemLog
from gateway.importing.writer import refresh_statistics, school_id_for, store_adults, store_pupils

Parser = Callable[[Path, ProblemLog, ProgressReporter | None], ParsedHouseholds]


def import_ctf(
    session: Session, path: Path | str, *, remove_missing_links: bool = False,
    progress: ProgressReporter | None = None, strict: bool = False,
) -> ImportSummary:
    """Import pupils and contacts from a DfE Common Transfer File (see :mod:`gateway.importing.ctf`)."""
    return _import(session, Path(path), parse_ctf, remove_missing_links, progress or SilentProgress(), strict)


def import_contacts(
    session: Session, path: Path | str, *, remove_missing_links: bool = False,
    progress: ProgressReporter | None = None, strict: bool = False,
) -> ImportSummary:
    """Import or update pupils, contacts and preferences from the contacts CSV (CONTRACT.md)."""
    return _import(session, Path(path), parse_contacts_csv, remove_missing_links, progress or SilentProgress(),
                   strict)


def _import(
    session: Session, path: Path, parse: Parser, remove_missing_links: bool, progress: ProgressReporter,
    strict: bool,
) -> ImportSummary:
    log = ProblemLog(path.name, strict=strict)
    parsed = parse(path, log, progress)
    progress.phase("checking")
    pupils = distinct_pupils(parsed.pupils, log)
    groups = group_adults(parsed.entries, log)
    log.raise_if_errors()
    summary = ImportSummary(source=path.name)
    refresh_statistics(session, len(parsed.entries) + len(pupils))
    pupil_ids = store_pupils(session, pupils, school_id_for(session, parsed), summary, progress)
    store_adults(session, groups, pupil_ids, summary=summary, log=log,
                 remove_missing_links=remove_missing_links, progress=progress)
    session.flush()
    summary.warnings = list(log.warnings)
    return summary
