"""The one place routing reads the database: bulk queries that turn rows into frozen facts.

A handful of queries whatever the number of pupils (never one per pupil or adult), streamed in batches so
a trust of 100,000 pupils fits in memory. Attendance is aggregated in SQL (GROUP BY), never row by row here.
"""

from __future__ import annotations

import gc
import sys
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, time
from typing import Any, TypeAlias

from sqlalchemy import Select, String, case, func, select, type_coerce
from sqlalchemy.orm import Session

from gateway.errors import NotFoundError
from gateway.models import Adult, AttendanceMark, ContactPoint, HalfTerm, InsetDay, Pupil, PupilContact
from gateway.models.attendance import AUTHORISED_ABSENCE, NOT_POSSIBLE, UNAUTHORISED_ABSENCE, UNEXPLAINED
from gateway.relationships import cares_at_home
from gateway.routing.facts import AdultFacts, ContactPointFacts, Households, LinkFacts, PupilFacts
from gateway.routing.fresh_start import AttendanceSummary, HalfTermFacts
from gateway.safeguarding import address_key, blocked_addresses

# Stay well under every backend's bound-parameter limit (SQLite's is 32,766) for IN (...) lists.
_CHUNK = 5_000
_BATCH = 20_000
MISSED_CODES = AUTHORISED_ABSENCE | UNAUTHORISED_ABSENCE
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def load_households(session: Session, pupil_ids: Collection[int] | None = None) -> Households:
    """Facts for ``pupil_ids`` (every pupil when None), their adults, and ALL of those adults' links.

    An adult's links to pupils outside ``pupil_ids`` are loaded too, because a restriction on any one link
    is the adult's restriction everywhere. The cyclic garbage collector is paused while the (acyclic) facts
    are built: at trust scale its repeated full scans of a growing heap would triple the loading time.
    """
    with paused_gc():
        builder = _FactBuilder()
        if pupil_ids is None:
            pupils = {p.id: p for p in map(builder.pupil, _stream(session, _pupil_query()))}
            adults = builder.adults(session, _stream(session, _adult_query()), None)
            link_rows: Iterable[Any] = _stream(session, _link_query())
        else:
            ids = sorted(set(pupil_ids))
            pupils = {p.id: p for chunk in _chunks(ids)
                      for p in map(builder.pupil, _stream(session, _pupil_query().where(Pupil.id.in_(chunk))))}
            adult_ids = sorted({adult_id for chunk in _chunks(ids) for adult_id in session.scalars(
                select(PupilContact.adult_id).where(PupilContact.pupil_id.in_(chunk)))})
            adult_rows = (row for chunk in _chunks(adult_ids)
                          for row in _stream(session, _adult_query().where(Adult.id.in_(chunk))))
            adults = builder.adults(session, adult_rows, adult_ids)
            link_rows = (row for chunk in _chunks(adult_ids)
                         for row in _stream(session, _link_query().where(PupilContact.adult_id.in_(chunk))))
        links = tuple(builder.link(row, pupils, adults) for row in link_rows)
        return Households(pupils, adults, links)


def adult_id_ranges(session: Session, adults_per_batch: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) adult-id ranges of about ``adults_per_batch`` linked adults each."""
    ids = list(session.scalars(select(PupilContact.adult_id).distinct().order_by(PupilContact.adult_id)))
    return [(ids[i], ids[min(i + adults_per_batch, len(ids)) - 1]) for i in range(0, len(ids), adults_per_batch)]


def load_households_for_adults(session: Session, first_adult_id: int, last_adult_id: int) -> Households:
    """The adults with ids in [first, last], ALL their links and every pupil those links name.

    Enough for any plan made adult by adult (routine messages): each adult is planned in exactly one batch,
    so a whole trust can be planned batch by batch in bounded memory.
    """
    in_range = PupilContact.adult_id.between(first_adult_id, last_adult_id)
    with paused_gc():
        builder = _FactBuilder()
        linked_pupils = select(PupilContact.pupil_id).where(in_range)
        pupils = {p.id: p for p in map(builder.pupil, _stream(
            session, _pupil_query().where(Pupil.id.in_(linked_pupils))))}
        adult_rows = _stream(session, _adult_query().where(Adult.id.between(first_adult_id, last_adult_id),
                                                           Adult.id.in_(select(PupilContact.adult_id).where(in_range))))
        adults = builder.adults(session, adult_rows, None, ContactPoint.adult_id.between(first_adult_id, last_adult_id))
        links = tuple(builder.link(row, pupils, adults) for row in _stream(session, _link_query().where(in_range)))
        return Households(pupils, adults, links)


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
class _FactBuilder:
    """Turns rows into facts, sharing one object for each repeated value (codes, languages, names, times,
    ids): at 100,000 pupils that is the difference between fitting in memory or not."""

    def __init__(self) -> None:
        self._times: dict[time, time] = {}
        self._orders: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}  # per load: freed with the builder, unlike the global intern table

    def _name(self, value: str | None) -> str:
        return "" if value is None else self._names.setdefault(value, value)

    def pupil(self, row: Any) -> PupilFacts:
        pid, upn, forename, surname, preferred, year, language, bereaved, ill, plan = row
        return PupilFacts(pid, upn, self._name(preferred or forename), self._name(surname), _intern(year),
                          _intern(language), bool(bereaved), bool(ill), bool(plan))

    def adults(self, session: Session, rows: Iterable[Any], adult_ids: list[int] | None,
               point_filter: Any = None) -> dict[int, AdultFacts]:
        points = _contact_points(session, adult_ids, point_filter)
        adults: dict[int, AdultFacts] = {}
        for adult_id, forename, surname, title, language, literacy, raw_order, start, end in rows:
            adults[adult_id] = AdultFacts(
                adult_id, self._name(forename), self._name(surname), _intern(title), _intern(language),
                _intern(literacy) or "standard", self._order(raw_order or ""), self._time(start), self._time(end),
                tuple(points.pop(adult_id, ())))
        return adults

    def link(self, row: Any, pupils: Mapping[int, PupilFacts], adults: Mapping[int, AdultFacts]) -> LinkFacts:
        pupil_id, adult_id, relationship, priority, responsibility, lives_with, restriction, approved, carer_ok = row
        # The pupil's and adult's own id objects, not a fresh int per link row.
        pupil = pupils.get(pupil_id)
        adult = adults.get(adult_id)
        code = _intern(relationship) or "NOT"
        return LinkFacts(pupil.id if pupil else pupil_id, adult.id if adult else adult_id,
                         code, priority, bool(responsibility), lives_with,
                         _intern(restriction) or "none", bool(approved),
                         cares_at_home(code, lives_with, carer_ok is not False))

    def _time(self, value: time | None) -> time | None:
        return None if value is None else self._times.setdefault(value, value)

    def _order(self, raw: str) -> tuple[str, ...]:
        order = self._orders.get(raw)
        if order is None:
            order = self._orders[raw] = tuple(sys.intern(c.strip()) for c in raw.split(",") if c.strip())
        return order


def _pupil_query() -> AnySelect:
    return select(Pupil.id, Pupil.upn, Pupil.forename, Pupil.surname, Pupil.preferred_forename, Pupil.year_group,
                  Pupil.home_language, Pupil.bereaved, Pupil.long_term_ill, Pupil.support_plan)


def _link_query() -> AnySelect:
    return select(PupilContact.pupil_id, PupilContact.adult_id, PupilContact.relationship_code,
                  PupilContact.priority, PupilContact.parental_responsibility, PupilContact.lives_with_pupil,
                  _as_text(PupilContact.restriction), PupilContact.dsl_approved_at.is_not(None),
                  PupilContact.household_carer_in_audience)


def _adult_query() -> AnySelect:
    return select(Adult.id, Adult.forename, Adult.surname, Adult.title, Adult.language, _as_text(Adult.literacy),
                  Adult.channel_order, Adult.window_start, Adult.window_end)


def _contact_points(
    session: Session, adult_ids: list[int] | None, point_filter: Any = None
) -> dict[int, list[ContactPointFacts]]:
    query = select(ContactPoint.id, ContactPoint.adult_id, _as_text(ContactPoint.kind), ContactPoint.value,
                   ContactPoint.sms_capable, ContactPoint.position, ContactPoint.opted_out_at.is_not(None),
                   ContactPoint.last_permanent_failure_at.is_not(None))
    if point_filter is not None:
        query = query.where(point_filter)
    queries = [query] if adult_ids is None else [
        query.where(ContactPoint.adult_id.in_(chunk)) for chunk in _chunks(adult_ids)]
    # Every address held by an adult who may not be contacted (few: one query), so that the same number or
    # e-mail on anyone else's record is marked unusable too.
    blocked = blocked_addresses(session)
    by_adult: dict[int, list[ContactPointFacts]] = defaultdict(list)
    for q in queries:
        for point_id, adult_id, kind, value, sms_capable, position, opted_out, failed in _stream(session, q):
            by_adult[adult_id].append(ContactPointFacts(point_id, _intern(kind) or "", value, bool(sms_capable),
                                                        position, bool(opted_out), bool(failed),
                                                        blocked.get(address_key(value)) if blocked else None))
    return by_adult


def _stream(session: Session, query: AnySelect) -> Iterator[Any]:
    """Plain rows (Core, no ORM row processing) in batches; on PostgreSQL through a server-side cursor so the
    whole result never sits in the driver's memory at once."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Per statement: Connection.execution_options() would change the session's connection for good.
        query = query.execution_options(stream_results=True, max_row_buffer=_BATCH)
    result = connection.execute(query)
    while batch := result.fetchmany(_BATCH):
        yield from batch


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures (facts, plans): reference
    counting still frees everything, and full collections over a growing heap would dominate the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _intern(value: str | None) -> str | None:
    """Share one string object for values repeated across thousands of rows (codes, languages)."""
    return None if value is None else sys.intern(value)


def _as_text(column: Any) -> Any:
    """An enum column read as its stored text: facts hold plain strings, and skipping the enum conversion
    of every row is measurably faster at trust scale."""
    return type_coerce(column, String())
