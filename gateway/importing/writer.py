"""Store checked pupils and adults: match what the database already has, then write in bulk.

Everything needed for matching is loaded once into dicts (a few queries per thousand rows, never one per
row) and the changes go out as executemany batches, so a 30,000-pupil trust imports in seconds.
Re-importing the same file changes nothing; a changed file updates rows in place.

Matching an adult of the file to one in the database, in order:
1. the same ``contact_ref`` (``Adult.external_ref``);
2. the same folded name (``Adult.match_key``) and a phone number or e-mail address in common;
3. the same folded name and already linked to one of the file's pupils for that adult (a parent whose
   number changed is still that pupil's parent).
Otherwise the adult is new.

Rules the office can rely on:
- An empty value in the file never erases what the database has (an empty cell means unknown).
- An adult's phones and e-mails become exactly those in the file (opt-outs and failure history stay with
  a number that is kept); an adult listed with none at all keeps the ones on record.
- Restrictions are changed only by a file that states one (the CSV ``restriction`` column); a CTF never
  lifts a DSL's restriction. A change goes through :func:`gateway.safeguarding.restriction_change`, so any
  change clears a recorded DSL approval (an old approval never comes back) and an unchanged one keeps it.
- A phone number or e-mail address that an adult who may not be contacted also holds is kept (sending to
  it is blocked at send time) and reported as a warning.
- A link in the database that the file no longer lists for one of its pupils is kept and reported as a
  warning, unless the import is asked to remove such links (``remove_missing_links``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway.importing.ctf import ParsedHouseholds
from gateway.importing.household import AdultGroup
from gateway.importing.progress import ProgressReporter
from gateway.importing.records import PUPIL_FLAGS, ImportSummary, ProblemLog, PupilRecord
from gateway.models import Adult, ContactPoint, DroppedContactPoint, Pupil, PupilContact, Restriction, School
from gateway.safeguarding import address_key, blocked_addresses, blocked_reasons, restriction_change

CHUNK = 1000  # bound parameters per IN (...) query, well inside SQLite's and PostgreSQL's limits
ANALYZE_ABOVE = 2000  # rows in a file from which fresh planner statistics pay for themselves
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices of ``size``: one IN (...) query or one executemany batch each."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _changes(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in new.items() if getattr(old, key) != value}


def school_id_for(session: Session, parsed: ParsedHouseholds) -> int | None:
    """The sending school of a CTF header (created on first sight), matched by URN; None without one."""
    record = parsed.school
    if record is None or not record.urn:
        return None
    school = session.scalar(select(School).where(School.urn == record.urn))
    if school is None:
        school = School(name=record.name, urn=record.urn, estab=record.estab)
        session.add(school)
        session.flush()
    else:
        school.name, school.estab = record.name, record.estab or school.estab
    return school.id


def refresh_statistics(session: Session, rows_in_file: int) -> None:
    """On PostgreSQL, ANALYZE the tables an import reads before a big import.

    Right after a previous bulk import the planner's statistics still describe the tables as they were
    (autovacuum has not caught up), and it scans whole tables for every ``IN (...)`` lookup: a 30,000-pupil
    re-import went from 15 s to under a second with fresh statistics. Best effort: without the privilege,
    the import simply runs slower.
    """
    if session.get_bind().dialect.name != "postgresql" or rows_in_file < ANALYZE_ABOVE:
        return
    try:
        with session.begin_nested():
            session.execute(text("ANALYZE pupil, adult, pupil_contact, contact_point, attendance_mark"))
    except DBAPIError:
        return


def store_pupils(
    session: Session, pupils: list[PupilRecord], school_id: int | None, summary: ImportSummary,
    progress: ProgressReporter,
) -> dict[str, int]:
    """Insert or update pupils by UPN; returns UPN -> pupil id."""
    progress.phase("saving pupils", len(pupils))
    columns = (Pupil.id, Pupil.upn, Pupil.forename, Pupil.surname, Pupil.preferred_forename, Pupil.year_group,
               Pupil.home_language, Pupil.home_language_dfe, Pupil.school_id, Pupil.bereaved, Pupil.long_term_ill,
               Pupil.support_plan)
    existing = {row.upn: row for chunk in chunks([p.upn for p in pupils])
                for row in session.execute(select(*columns).where(Pupil.upn.in_(chunk)))}
    ids: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for pupil in pupils:
        values: dict[str, Any] = {"forename": pupil.forename, "surname": pupil.surname}
        for key in ("preferred_forename", "year_group", "home_language", "home_language_dfe", *PUPIL_FLAGS):
            if getattr(pupil, key) is not None:
                values[key] = getattr(pupil, key)
        if school_id is not None:
            values["school_id"] = school_id
        old = existing.get(pupil.upn)
        if old is None:
            new_rows.append({"upn": pupil.upn, "home_language": "en-GB", **values})
            continue
        ids[pupil.upn] = old.id
        changes = _changes(old, values)
        if changes:
            updates.append({"id": old.id, **changes})
    for chunk in chunks(new_rows):
        for row in session.execute(insert(Pupil).returning(Pupil.id, Pupil.upn), list(chunk)):
            ids[row.upn] = row.id
        progress.advance(len(chunk))
    if updates:
        session.execute(update(Pupil), updates)
    progress.advance(len(pupils) - len(new_rows))
    summary.pupils.created += len(new_rows)
    summary.pupils.updated += len(updates)
    summary.pupils.unchanged += len(pupils) - len(new_rows) - len(updates)
    return ids


class _Known:
    """The database's adults, contact points and links that the file could touch, loaded in bulk."""

    def __init__(self, session: Session, groups: list[AdultGroup], pupil_ids: Iterable[int]) -> None:
        adult_columns = (Adult.id, Adult.external_ref, Adult.match_key, Adult.title, Adult.forename,
                         Adult.surname, Adult.address, Adult.language, Adult.channel_order, Adult.literacy,
                         Adult.window_start, Adult.window_end)
        refs = sorted({g.contact_ref for g in groups if g.contact_ref})
        names = sorted({g.name_key for g in groups})
        self.adults: dict[int, Any] = {}
        for ref_chunk in chunks(refs):
            self.adults.update((r.id, r) for r in session.execute(select(*adult_columns)
                                                                   .where(Adult.external_ref.in_(ref_chunk))))
        for name_chunk in chunks(names):
            self.adults.update((r.id, r) for r in session.execute(select(*adult_columns)
                                                                   .where(Adult.match_key.in_(name_chunk))))
        self.by_ref = {a.external_ref: a for a in self.adults.values() if a.external_ref}
        self.points: dict[int, dict[str, Any]] = {}
        point_columns = (ContactPoint.id, ContactPoint.adult_id, ContactPoint.kind, ContactPoint.value,
                         ContactPoint.sms_capable, ContactPoint.position)
        for adult_chunk in chunks(sorted(self.adults)):
            for point in session.execute(select(*point_columns).where(ContactPoint.adult_id.in_(adult_chunk))):
                self.points.setdefault(point.adult_id, {})[point.value] = point
        self.links: dict[tuple[int, int], Any] = {}
        link_columns = (PupilContact.id, PupilContact.pupil_id, PupilContact.adult_id,
                        PupilContact.relationship_code, PupilContact.priority,
                        PupilContact.parental_responsibility, PupilContact.lives_with_pupil,
                        PupilContact.restriction, PupilContact.dsl_approved_at, PupilContact.dsl_approved_by)
        for chunk in chunks(sorted(set(pupil_ids))):
            for row in session.execute(select(*link_columns).where(PupilContact.pupil_id.in_(chunk))):
                self.links[(row.pupil_id, row.adult_id)] = row
        # (name, phone or e-mail) and (name, pupil) -> adult ids: a common name ("Sarah Smith") may be
        # hundreds of adults in a trust, so matching must not scan them all for every group.
        self.by_name_point: dict[tuple[str, str], list[int]] = {}
        for adult_id, points in self.points.items():
            for value in points:
                self.by_name_point.setdefault((self.adults[adult_id].match_key or "", value), []).append(adult_id)
        self.by_name_pupil: dict[tuple[str, int], list[int]] = {}
        for pupil_id, adult_id in sorted(self.links):
            adult = self.adults.get(adult_id)
            if adult is not None:
                self.by_name_pupil.setdefault((adult.match_key or "", pupil_id), []).append(adult_id)
        self.claimed: set[int] = set()

    def match(self, group: AdultGroup, pupil_ids: set[int]) -> int | None:
        if group.contact_ref:
            adult = self.by_ref.get(group.contact_ref)
            if adult is not None and adult.id not in self.claimed:
                return self._claim(adult.id)
        keys: list[tuple[str, str] | tuple[str, int]] = [(group.name_key, p.value) for p in group.contact_points]
        keys += [(group.name_key, pupil_id) for pupil_id in sorted(pupil_ids)]
        for key in keys:
            index: dict[Any, list[int]] = self.by_name_point if isinstance(key[1], str) else self.by_name_pupil
            for adult_id in sorted(index.get(key, ())):
                external_ref = self.adults[adult_id].external_ref
                if adult_id not in self.claimed and external_ref in (None, group.contact_ref):
                    return self._claim(adult_id)
        return None

    def _claim(self, adult_id: int) -> int:
        self.claimed.add(adult_id)
        return adult_id


def _adult_values(group: AdultGroup) -> dict[str, Any]:
    values: dict[str, Any] = {"forename": group.forename, "surname": group.surname, "match_key": group.name_key}
    optional = {"external_ref": group.contact_ref, "title": group.title, "address": group.address,
                "language": group.language, "channel_order": group.channels, "literacy": group.literacy}
    values.update({key: value for key, value in optional.items() if value is not None})
    if group.window is not None:
        values["window_start"], values["window_end"] = group.window
    return values


def store_adults(
    session: Session, groups: list[AdultGroup], pupil_ids: dict[str, int], *, summary: ImportSummary,
    log: ProblemLog, remove_missing_links: bool, progress: ProgressReporter,
) -> None:
    """Insert or update adults, their contact points and their links to pupils."""
    progress.phase("saving contacts", len(groups))
    known = _Known(session, groups, pupil_ids.values())
    adult_ids: list[int | None] = []
    new_adults: list[dict[str, Any]] = []
    adult_updates: list[dict[str, Any]] = []
    for group in groups:
        adult_id = known.match(group, {pupil_ids[upn] for upn in group.pupil_upns})
        adult_ids.append(adult_id)
        values = _adult_values(group)
        if adult_id is None:
            new_adults.append(values)
        elif changes := _changes(known.adults[adult_id], values):
            adult_updates.append({"id": adult_id, **changes})
    created_ids = iter([row.id for chunk in chunks(new_adults) for row in session.execute(
        insert(Adult).returning(Adult.id, sort_by_parameter_order=True), list(chunk))])
    stored_ids = [adult_id if adult_id is not None else next(created_ids) for adult_id in adult_ids]
    if adult_updates:
        session.execute(update(Adult), adult_updates)
    touched = {u["id"] for u in adult_updates} | _store_points(session, groups, stored_ids, known, summary)
    summary.contacts.created += len(new_adults)
    # An existing adult counts as updated when their row or any of their phones / e-mails changed.
    summary.contacts.updated += len(touched)
    summary.contacts.unchanged += len(known.claimed) - len(touched)
    progress.advance(len(groups))
    _store_links(session, groups, stored_ids, pupil_ids, known, summary, log, remove_missing_links, progress)
    _store_dropped(session, groups, stored_ids)
    _warn_blocked_addresses(session, groups, stored_ids, log)


def _store_dropped(session: Session, groups: list[AdultGroup], adult_ids: list[int]) -> None:
    """Record the phones and e-mails the file gave each adult but the import dropped; the file's say replaces
    what an earlier import recorded for those adults (a number fixed in the MIS drops off the list)."""
    rows = [{"adult_id": adult_id, "source": problem.source[:200], "location": problem.where[:200],
             "field": (problem.field or "")[:64], "value": (problem.value or "")[:254],
             "reason": problem.message[:400]}
            for group, adult_id in zip(groups, adult_ids, strict=True) for problem in group.dropped]
    if session.scalar(select(DroppedContactPoint.id).limit(1)) is not None:
        for id_chunk in chunks(sorted(set(adult_ids))):
            session.execute(delete(DroppedContactPoint).where(DroppedContactPoint.adult_id.in_(id_chunk)))
    for chunk in chunks(rows):
        session.execute(insert(DroppedContactPoint), list(chunk))


def _warn_blocked_addresses(session: Session, groups: list[AdultGroup], adult_ids: list[int],
                            log: ProblemLog) -> None:
    """Warn about each phone or e-mail of the file that an adult who may not be contacted also holds.

    The address is kept (the office may be right that it is now the mother's), but nothing is sent to it
    while a restricted adult holds it; the office and the DSL need to know. The restricted adult's own
    addresses are not news and are not reported. Two queries, whatever the size of the file: the addresses
    held by restricted adults are few.
    """
    blocked = blocked_addresses(session)
    if not blocked:
        return
    restricted_ids = session.scalars(select(PupilContact.adult_id).distinct()
                                     .where(PupilContact.restriction != Restriction.NONE))
    barred = set(blocked_reasons(session, list(restricted_ids)))
    for group, adult_id in zip(groups, adult_ids, strict=True):
        if adult_id in barred:
            continue
        for point in group.contact_points:
            reason = blocked.get(address_key(point.value))
            if reason is not None:
                why = reason.replace("_", " ")
                log.warn(group.entries[0].where, point.kind.value,
                         f"{point.value} is also held by an adult who may not be contacted ({why}): kept on this "
                         "contact, but nothing will be sent to it while that restriction stands", point.value)


def _store_points(
    session: Session, groups: list[AdultGroup], adult_ids: list[int], known: _Known, summary: ImportSummary
) -> set[int]:
    """Make each adult's contact points those of the file; returns the ids of existing adults changed."""
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    removed: list[int] = []
    touched: set[int] = set()
    for group, adult_id in zip(groups, adult_ids, strict=True):
        if not group.contact_points:
            continue
        existing = known.points.get(adult_id, {})
        for position, point in enumerate(group.contact_points):
            values = {"kind": point.kind, "sms_capable": point.sms_capable, "position": position}
            old = existing.get(point.value)
            if old is None:
                new_rows.append({"adult_id": adult_id, "value": point.value, **values})
                touched.add(adult_id)
            elif changes := _changes(old, values):
                updates.append({"id": old.id, **changes})
                touched.add(adult_id)
        wanted = {p.value for p in group.contact_points}
        stale = [row.id for value, row in existing.items() if value not in wanted]
        if stale:
            removed.extend(stale)
            touched.add(adult_id)
    for id_chunk in chunks(removed):
        session.execute(delete(ContactPoint).where(ContactPoint.id.in_(id_chunk)))
    for chunk in chunks(new_rows):
        session.execute(insert(ContactPoint), list(chunk))
    if updates:
        session.execute(update(ContactPoint), updates)
    summary.contact_points.created += len(new_rows)
    summary.contact_points.updated += len(updates)
    summary.contact_points.removed += len(removed)
    summary.contact_points.unchanged += sum(len(g.contact_points) for g in groups) - len(new_rows) - len(updates)
    return touched & known.claimed


def _store_links(
    session: Session, groups: list[AdultGroup], adult_ids: list[int], pupil_ids: dict[str, int], known: _Known,
    summary: ImportSummary, log: ProblemLog, remove_missing_links: bool, progress: ProgressReporter,
) -> None:
    progress.phase("saving links", sum(len(g.entries) for g in groups))
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    wanted: set[tuple[int, int]] = set()
    for group, adult_id in zip(groups, adult_ids, strict=True):
        for entry in group.entries:
            key = (pupil_ids[entry.pupil_upn], adult_id)
            wanted.add(key)
            values: dict[str, Any] = {"relationship_code": entry.relationship, "priority": entry.priority,
                                      "parental_responsibility": entry.parental_responsibility}
            if entry.lives_with_pupil is not None:
                values["lives_with_pupil"] = entry.lives_with_pupil
            old = known.links.get(key)
            if entry.restriction is not None:
                values.update(restriction_change(None if old is None else old.restriction, entry.restriction))
            if old is None:
                new_rows.append({"pupil_id": key[0], "adult_id": adult_id, "restriction": Restriction.NONE, **values})
            elif changes := _changes(old, values):
                updates.append({"id": old.id, **changes})
    for chunk in chunks(new_rows):
        session.execute(insert(PupilContact), list(chunk))
        progress.advance(len(chunk))
    if updates:
        session.execute(update(PupilContact), updates)
    stale = [row for key, row in known.links.items() if key not in wanted]
    if stale and remove_missing_links:
        for id_chunk in chunks([row.id for row in stale]):
            session.execute(delete(PupilContact).where(PupilContact.id.in_(id_chunk)))
        summary.links.removed += len(stale)
    elif stale:
        upn_of = {pupil_id: upn for upn, pupil_id in pupil_ids.items()}
        examples = ", ".join(sorted({upn_of[row.pupil_id] for row in stale})[:5])
        log.warn("database", None, f"{len(stale)} existing contact link(s) are not in this file and were kept "
                 f"(pupils {examples}{', …' if len(stale) > 5 else ''}); import with --remove-missing-links "
                 "to remove them")
    summary.links.created += len(new_rows)
    summary.links.updated += len(updates)
    summary.links.unchanged += len(wanted) - len(new_rows) - len(updates)
    progress.advance(len(wanted) - len(new_rows))
