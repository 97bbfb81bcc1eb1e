"""Adults who live with the child and take care of them (the guidance's "any adult who lives with and takes care
of the child") are in the audience of the parental-responsibility steps and routine messages, unless the DSL
says otherwise for that link."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.models import Adult, Pupil, PupilContact
from gateway.relationships import cares_at_home
from gateway.routing import Households
from gateway.routing.loader import load_households
from tests.routing.families import absence_plan, adult, family, fresh_start_plan, link, missed, mobile, pupil, reasons


def _step_family(*, dsl_allows: bool = True) -> tuple[Households, str]:
    """Ola lives with her mother and her step-father (no parental responsibility); the childminder is listed."""
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile("+447700900001"))
    step = adult("Steven", "Clarke", mobile("+447700900002"))
    minder = adult("Razia", "Bibi", mobile("+447700900003"))
    links = [link(ola, mum, "PAM", 1, lives_with_pupil=True),
             link(ola, step, "STF", 2, responsibility=False, lives_with_pupil=True,
                  carer_at_home=cares_at_home("STF", True, dsl_allows)),
             link(ola, minder, "CHM", 3, responsibility=False, lives_with_pupil=None,
                  carer_at_home=cares_at_home("CHM", None))]
    return family(links, [ola], [mum, step, minder]), "Steven Clarke"


def test_step_father_living_with_the_child_is_contacted_at_the_parental_responsibility_step() -> None:
    households, step = _step_family()
    plan = absence_plan(households, 2)
    deliveries = {d.contact_name: d for d in plan.deliveries}
    assert set(deliveries) == {"Anna Nowak", step}
    assert "lives with and cares for the pupil" in deliveries[step].why
    assert reasons(plan) == {"Razia Bibi": "not_in_audience"}


def test_step_father_living_with_the_child_is_not_also_messaged_as_an_emergency_contact() -> None:
    households, step = _step_family()
    plan = absence_plan(households, 3)
    assert step not in {d.contact_name for d in plan.deliveries}
    assert {d.contact_name for d in plan.deliveries} == {"Razia Bibi"}


def test_dsl_can_leave_a_live_in_carer_out_of_the_parental_step() -> None:
    households, step = _step_family(dsl_allows=False)
    assert step not in {d.contact_name for d in absence_plan(households, 2).deliveries}
    assert step in {d.contact_name for d in absence_plan(households, 3).deliveries}


def test_live_in_carer_gets_routine_messages_but_a_professional_does_not() -> None:
    ola = pupil("Ola")
    gran = adult("Zofia", "Nowak", mobile("+447700900004"))
    doctor = adult("Anil", "Patel", mobile("+447700900005"))
    households = family([link(ola, gran, "CAR", 1, responsibility=False, lives_with_pupil=True,
                              carer_at_home=cares_at_home("CAR", True)),
                         link(ola, doctor, "DOC", 2, responsibility=False, lives_with_pupil=True,
                              carer_at_home=cares_at_home("DOC", True))], [ola], [gran, doctor])
    plan = fresh_start_plan(households, {ola.id: missed(4)})
    assert {d.contact_name for d in plan.deliveries} == {"Zofia Nowak"}
    assert reasons(plan) == {"Anil Patel": "not_in_audience"}


def test_loader_marks_live_in_carers_and_honours_the_dsls_setting(session: Session) -> None:
    ola = Pupil(upn="A123456789012", forename="Ola", surname="Nowak")
    steven = Adult(forename="Steven", surname="Clarke")
    lodger = Adult(forename="Lodger", surname="Smith")
    session.add_all([ola, steven, lodger])
    session.flush()
    step_link = PupilContact(pupil_id=ola.id, adult_id=steven.id, relationship_code="STF", lives_with_pupil=True)
    other_link = PupilContact(pupil_id=ola.id, adult_id=lodger.id, relationship_code="OTH", lives_with_pupil=True)
    session.add_all([step_link, other_link])
    session.commit()
    facts = {link.adult_id: link for link in load_households(session).links}
    assert facts[steven.id].carer_at_home and not facts[lodger.id].carer_at_home
    step_link.household_carer_in_audience = False  # the DSL says otherwise
    session.commit()
    assert not {link.adult_id: link for link in load_households(session).links}[steven.id].carer_at_home
