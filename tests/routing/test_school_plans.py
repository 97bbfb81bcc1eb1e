"""Planning a whole school batch by batch gives exactly the plan made in one go."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from gateway.models import Adult, ContactKind, ContactPoint, Pupil, PupilContact
from gateway.routing import plan_fresh_start
from gateway.routing.loader import load_attendance_summaries, load_half_terms, load_households, load_inset_days
from gateway.routing.school_plans import merge_plans, plan_fresh_start_for_school
from tests.routing.families import CAPABILITIES, LADDER, LONDON
from tests.routing.seed import seed_school


def _more_families(session: Session, count: int) -> None:
    """Families whose adults share children across what would be batch boundaries."""
    for n in range(count):
        mum = Adult(forename="Mum", surname=f"F{n}")
        mum.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value=f"+4477009{n:05d}", sms_capable=True))
        dad = Adult(forename="Dad", surname=f"F{n}", channel_order="email")
        dad.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value=f"dad{n}@example.org"))
        for child in range(1 + n % 3):
            pupil = Pupil(upn=f"C{n:08d}{child:04d}", forename=f"Child{child}", surname=f"F{n}")
            session.add_all([PupilContact(pupil=pupil, adult=mum, parental_responsibility=True, priority=1),
                             PupilContact(pupil=pupil, adult=dad, parental_responsibility=True, priority=2,
                                          relationship_code="PAF")])
    session.commit()


def test_a_school_planned_three_adults_at_a_time_gets_the_same_nudges_as_in_one_go(session: Session) -> None:
    seed_school(session)
    _more_families(session, 12)
    on = date(2026, 12, 20)
    batched = plan_fresh_start_for_school(session, on_or_after=on, now=None, tz=LONDON, ladder=LADDER,
                                          capabilities=CAPABILITIES, recent_counts={}, weekly_cap=2,
                                          adults_per_batch=3)
    half_term, previous = load_half_terms(session, on)
    assert previous is not None
    whole = plan_fresh_start(load_households(session), half_term=half_term,
                             attendance=load_attendance_summaries(session, previous.start, previous.end),
                             now=None, tz=LONDON, capabilities=CAPABILITIES, recent_counts={}, ladder=LADDER,
                             inset_days=load_inset_days(session, half_term.start))
    assert batched.to_json() == whole.to_json()
    assert len(batched.deliveries) + len(batched.suppressed) == 4 + 24


def test_merging_keeps_every_entry_once_in_order() -> None:
    from tests.routing.families import adult, family, fresh_start_plan, link, missed, mobile, pupil

    ola, kuba = pupil("Ola"), pupil("Kuba")
    anna, zofia = adult("Anna", "Nowak", mobile()), adult("Zofia", "Adamska", mobile())
    first = fresh_start_plan(family([link(ola, anna)], [ola], [anna]), {ola.id: missed(4)})
    second = fresh_start_plan(family([link(kuba, zofia)], [kuba], [zofia]), {kuba.id: missed(0)})
    merged = merge_plans([first, second])
    assert [d.contact_name for d in merged.deliveries] == ["Anna Nowak"]
    assert [s.contact_name for s in merged.suppressed] == ["Zofia Adamska"]
