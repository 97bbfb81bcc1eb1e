"""The one place routing reads the database: bulk queries that turn rows into frozen facts.

A handful of queries whatever the number of pupils (never one per pupil or adult), streamed in batches so
a trust of 100,000 pupils fits in memory. Attendance is aggregated in SQL (GROUP BY), never row by row here.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeAlias

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError
from gateway.models import Adult, AttendanceMark, ContactPoint, HalfTerm, InsetDay, Pupil, PupilContact
from gateway.models.attendance import AUTHORISED_ABSENCE, NOT_POSSIBLE, UNAUTHORISED_ABSENCE, UNEXPLAINED
from gateway.routing.facts import AdultFacts, ContactPointFacts, Households, LinkFacts, PupilFacts
from gateway.routing.fresh_start import AttendanceSummary, HalfTermFacts

# Stay well under every backend's bound-parameter limit (SQLite's is 32,766) for IN (...) lists.
_CHUNK = 5_000
_BATCH = 20_000
MISSED_CODES = AUTHORISED_ABSENCE | UNAUTHORISED_ABSENCE
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def load_households(session: Session, pupil_ids: Collection[int] | None = None) -> Households:
    """Facts for ``pupil_ids`` (every pupil when None), their adults, and ALL of those adults' links.

    An adult's links to pupils outside ``pupil_ids`` are loaded too, because a restriction on any one link
    is the adult's restriction everywhere.
    """
    if pupil_ids is None:
        pupils = [_pupil(row) for row in _stream(session, _pupil_query())]
        links = [_link(row) for row in _stream(session, _link_query())]
        adult_ids: list[int] | None = None
    else:
        ids = sorted(set(pupil_ids))
        pupils = [_pupil(row) for chunk in _chunks(ids)
                  for row in _stream(session, _pupil_query().where(Pupil.id.in_(chunk)))]
        linked_adults = sorted({row.adult_id for chunk in _chunks(ids) for row in session.execute(
            select(PupilContact.adult_id).where(PupilContact.pupil_id.in_(chunk)))})
        links = [_link(row) for chunk in _chunks(linked_adults)
                 for row in _stream(session, _link_query().where(PupilContact.adult_id.in_(chunk)))]
        adult_ids = linked_adults
    points = _contact_points(session, adult_ids)
    if adult_ids is None:
        adult_rows: Iterable[Any] = _stream(session, _adult_query())
    else:
        adult_rows = (row for chunk in _chunks(adult_ids)
                      for row in _stream(session, _adult_query().where(Adult.id.in_(chunk))))
    order_cache: dict[str, tuple[str, ...]] = {}
    adults = [_adult(row, tuple(points.pop(row.id, ())), order_cache) for row in adult_rows]
    return Households.build(pupils, adults, links)


def load_attendance_summaries(
    session: Session, start: date, end: date, pupil_ids: Collection[int] | None = None
) -> dict[int, AttendanceSummary]:
    """Possible and missed sessions per pupil between ``start`` and ``end`` inclusive, counted in SQL."""
    code = AttendanceMark.code
    possible = func.sum(case((code.in_(sorted(NOT_POSSIBLE)), 0), else_=1))
    missed = func.sum(case((code.in_(sorted(MISSED_CODES)), 1), else_=0))
    query = (select(AttendanceMark.pupil_id, possible, missed)
             .where(AttendanceMark.date >= start, AttendanceMark.date <= end)
             .group_by(AttendanceMark.pupil_id))
    queries = [query] if pupil_ids is None else [
        query.where(AttendanceMark.pupil_id.in_(chunk)) for chunk in _chunks(sorted(set(pupil_ids)))]
    return {row[0]: AttendanceSummary(int(row[1] or 0), int(row[2] or 0))
            for q in queries for row in session.execute(q)}


def load_unexplained_absences(session: Session, day: date) -> list[int]:
    """Ids of pupils with an unexplained absence (code N) in either session on ``day``."""
    query = (select(AttendanceMark.pupil_id).where(AttendanceMark.date == day, AttendanceMark.code == UNEXPLAINED)
             .distinct())
    return sorted(session.scalars(query))


def load_continuing_absences(session: Session, day: date, pupil_ids: Collection[int]) -> set[int]:
    """Of ``pupil_ids``, those absent (any absence code) on the last day before ``day`` with marks."""
    previous = session.scalar(select(func.max(AttendanceMark.date)).where(AttendanceMark.date < day))
    if previous is None or not pupil_ids:
        return set()
    found: set[int] = set()
    for chunk in _chunks(sorted(set(pupil_ids))):
        found.update(session.scalars(select(AttendanceMark.pupil_id).where(
            AttendanceMark.date == previous, AttendanceMark.code.in_(sorted(MISSED_CODES)),
            AttendanceMark.pupil_id.in_(chunk))))
    return found


def pupil_ids_for_upns(session: Session, upns: Sequence[str]) -> dict[str, int]:
    """UPN -> pupil id; NotFoundError naming every UPN that is not on roll."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(upns))):
        found.update({upn: pid for upn, pid in session.execute(
            select(Pupil.upn, Pupil.id).where(Pupil.upn.in_(chunk)))})
    missing = [upn for upn in upns if upn not in found]
    if missing:
        raise NotFoundError(f"unknown pupil UPN: {', '.join(missing)}")
    return found


def load_half_terms(session: Session, on_or_after: date) -> tuple[HalfTermFacts, HalfTermFacts | None]:
    """(the half-term starting on or after ``on_or_after``, the one before it or None)."""
    row = session.scalars(select(HalfTerm).where(HalfTerm.start >= on_or_after).order_by(HalfTerm.start)).first()
    if row is None:
        raise NotFoundError(f"no half-term starts on or after {on_or_after.isoformat()} "
                            "(import term dates with `gateway import terms`)")
    before = session.scalars(select(HalfTerm).where(HalfTerm.start < row.start)
                             .order_by(HalfTerm.start.desc())).first()
    facts = HalfTermFacts(row.name, row.start, row.end)
    return facts, None if before is None else HalfTermFacts(before.name, before.start, before.end)


def load_inset_days(session: Session, start: date) -> frozenset[date]:
    """INSET days from ``start`` on (routine messages never go on one)."""
    return frozenset(session.scalars(select(InsetDay.date).where(InsetDay.date >= start)))


# Row -> facts -------------------------------------------------------------------------------------------
def _pupil_query() -> AnySelect:
    return select(Pupil.id, Pupil.upn, Pupil.forename, Pupil.surname, Pupil.preferred_forename, Pupil.year_group,
                  Pupil.home_language, Pupil.bereaved, Pupil.long_term_ill, Pupil.support_plan)


def _pupil(row: Any) -> PupilFacts:
    return PupilFacts(row.id, row.upn, row.preferred_forename or row.forename, row.surname,
                      _intern(row.year_group), _intern(row.home_language), bool(row.bereaved),
                      bool(row.long_term_ill), bool(row.support_plan))


def _link_query() -> AnySelect:
    return select(PupilContact.pupil_id, PupilContact.adult_id, PupilContact.relationship_code,
                  PupilContact.priority, PupilContact.parental_responsibility, PupilContact.lives_with_pupil,
                  PupilContact.restriction, PupilContact.dsl_approved_at)


def _link(row: Any) -> LinkFacts:
    return LinkFacts(row.pupil_id, row.adult_id, _intern(row.relationship_code) or "NOT", row.priority,
                     bool(row.parental_responsibility), row.lives_with_pupil, _enum_text(row.restriction),
                     row.dsl_approved_at is not None)


def _adult_query() -> AnySelect:
    return select(Adult.id, Adult.forename, Adult.surname, Adult.title, Adult.language, Adult.literacy,
                  Adult.channel_order, Adult.window_start, Adult.window_end)


def _adult(row: Any, points: tuple[ContactPointFacts, ...], order_cache: dict[str, tuple[str, ...]]) -> AdultFacts:
    raw_order = row.channel_order or ""
    order = order_cache.get(raw_order)
    if order is None:  # a few distinct orders among thousands of adults: share one tuple each
        order = order_cache[raw_order] = tuple(sys.intern(c.strip()) for c in raw_order.split(",") if c.strip())
    return AdultFacts(row.id, row.forename, row.surname, _intern(row.title), _intern(row.language),
                      _enum_text(row.literacy), order, row.window_start, row.window_end, points)


def _contact_points(session: Session, adult_ids: list[int] | None) -> dict[int, list[ContactPointFacts]]:
    query = select(ContactPoint.id, ContactPoint.adult_id, ContactPoint.kind, ContactPoint.value,
                   ContactPoint.sms_capable, ContactPoint.position, ContactPoint.opted_out_at,
                   ContactPoint.last_permanent_failure_at)
    queries = [query] if adult_ids is None else [
        query.where(ContactPoint.adult_id.in_(chunk)) for chunk in _chunks(adult_ids)]
    by_adult: dict[int, list[ContactPointFacts]] = defaultdict(list)
    for q in queries:
        for row in _stream(session, q):
            by_adult[row.adult_id].append(ContactPointFacts(
                row.id, _enum_text(row.kind), row.value, bool(row.sms_capable), row.position,
                row.opted_out_at is not None, row.last_permanent_failure_at is not None))
    return by_adult


def _stream(session: Session, query: AnySelect) -> Iterator[Any]:
    """Rows in batches (a server-side cursor on PostgreSQL) so the full result is never held twice."""
    yield from session.execute(query.execution_options(yield_per=_BATCH))


def _chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _intern(value: str | None) -> str | None:
    """Share one string object for values repeated across thousands of rows (codes, languages)."""
    return None if value is None else sys.intern(value)


def _enum_text(value: Any) -> str:
    """Plain text of a StrEnum column value (facts hold plain strings, not model enums)."""
    return sys.intern(str(getattr(value, "value", value)))
