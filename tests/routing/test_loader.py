"""The bulk loader: facts match the rows, a handful of queries whatever the size, SQL-side attendance sums."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from gateway.models import Adult, ContactKind, ContactPoint, Pupil, PupilContact, Restriction
from gateway.routing.loader import (
    load_attendance_summaries,
    load_continuing_absences,
    load_half_terms,
    load_households,
    load_inset_days,
    load_unexplained_absences,
    pupil_ids_for_upns,
)
from tests.routing.seed import ABSENCE_DAY, AMIRA, KUBA, OLA, approve, seed_school


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _ids(session: Session) -> dict[str, int]:
    return {upn: pid for upn, pid in session.execute(select(Pupil.upn, Pupil.id))}


def test_households_carry_every_fact_routing_needs(session: Session) -> None:
    seed_school(session)
    households = load_households(session)
    ids = _ids(session)
    assert {p.upn for p in households.pupils.values()} == {OLA, KUBA, AMIRA}
    anna = next(a for a in households.adults.values() if a.forename == "Anna")
    assert (anna.language, anna.literacy, anna.channel_order) == ("pl", "standard", ("sms", "email", "voice"))
    assert [(p.kind, p.value, p.sms_capable) for p in anna.contact_points] == [("mobile", "+447700900123", True)]
    assert {households.pupils[link.pupil_id].upn for link in households.links_of_adult(anna.id)} == {OLA, KUBA}
    piotr = next(a for a in households.adults.values() if a.forename == "Piotr")
    assert households.standing(piotr.id).forbidden_reason == "restricted"
    assert households.pupils[ids[AMIRA]].home_language == "ur"
    ayesha = next(a for a in households.adults.values() if a.forename == "Ayesha")
    assert (ayesha.literacy, str(ayesha.window_start)) == ("plain", "17:00:00")
    assert sorted(map(sorted, households.household_groups)) == sorted([sorted([ids[OLA], ids[KUBA]]),
                                                                       [ids[AMIRA]]])


def test_loading_some_pupils_still_sees_a_restriction_on_a_link_to_another_child(session: Session) -> None:
    seed_school(session)
    ids = _ids(session)
    households = load_households(session, [ids[OLA]])
    assert set(households.pupils) == {ids[OLA]}
    piotr = next(a for a in households.adults.values() if a.forename == "Piotr")
    assert households.standing(piotr.id).forbidden_reason == "restricted"


def test_a_recorded_dsl_approval_reaches_the_facts(session: Session) -> None:
    seed_school(session)
    link = session.scalars(select(PupilContact).join(Pupil).where(Pupil.upn == AMIRA,
                                                                  PupilContact.relationship_code == "GRF")).one()
    link.restriction = Restriction.DSL_APPROVAL
    session.commit()
    abdi_id = link.adult_id
    assert load_households(session).standing(abdi_id).forbidden_reason == "awaiting_dsl_approval"
    approve(session, AMIRA)
    assert load_households(session).standing(abdi_id).forbidden_reason is None


def test_the_loader_uses_the_same_handful_of_queries_for_three_pupils_or_three_hundred(
    session: Session, engine: Engine
) -> None:
    seed_school(session)
    with counted_queries(engine) as few:
        load_households(session)
    for n in range(300):
        pupil = Pupil(upn=f"B{n:012d}", forename="P", surname=str(n))
        adult = Adult(forename="A", surname=str(n))
        adult.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=f"+4477009{n:05d}", sms_capable=True))
        session.add(PupilContact(pupil=pupil, adult=adult, parental_responsibility=True))
    session.commit()
    with counted_queries(engine) as many:
        households = load_households(session)
    assert len(households.pupils) == 303
    assert len(many) == len(few) <= 5
    some = list(households.pupils)[:250]
    with counted_queries(engine) as subset:
        load_households(session, some)
    assert len(subset) <= 6


def test_attendance_is_summed_in_sql_with_non_possible_sessions_left_out(session: Session) -> None:
    seed_school(session)
    ids = _ids(session)
    summaries = load_attendance_summaries(session, date(2026, 11, 2), date(2026, 12, 18))
    assert (summaries[ids[OLA]].possible_sessions, summaries[ids[OLA]].missed_sessions) == (32, 8)
    assert summaries[ids[OLA]].days_missed == 4
    assert (summaries[ids[KUBA]].possible_sessions, summaries[ids[KUBA]].missed_sessions) == (31, 1)
    assert summaries[ids[AMIRA]].days_missed == 3
    only_ola = load_attendance_summaries(session, date(2026, 11, 2), date(2026, 12, 18), [ids[OLA]])
    assert set(only_ola) == {ids[OLA]}


def test_the_days_unexplained_absences_terms_and_inset_days(session: Session) -> None:
    seed_school(session)
    ids = _ids(session)
    absent = load_unexplained_absences(session, ABSENCE_DAY)
    assert set(absent) == {ids[OLA], ids[KUBA], ids[AMIRA]}
    assert load_continuing_absences(session, ABSENCE_DAY, absent) == set()
    assert load_continuing_absences(session, date(2026, 11, 24), absent) == {ids[OLA], ids[KUBA], ids[AMIRA]}
    upcoming, previous = load_half_terms(session, date(2026, 12, 20))
    assert (upcoming.name, previous and previous.name) == ("Spring 1", "Autumn 2")
    assert load_inset_days(session, upcoming.start) == {date(2027, 1, 4)}
    assert pupil_ids_for_upns(session, [OLA]) == {OLA: ids[OLA]}
