"""Who is contacted at each ladder step, restrictions, and households: sentences about families."""

from __future__ import annotations

from gateway.routing import AdultFacts, Households, PupilFacts
from tests.routing.families import absence_plan, adult, family, link, mobile, only_delivery, pupil, reasons


def _separated_parents() -> tuple[Households, PupilFacts, AdultFacts, AdultFacts, AdultFacts]:
    """Ola lives with her mother (priority 1); her father lives elsewhere (priority 2); both have PR;
    her grandmother is the emergency contact."""
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile("+447700900001"))
    dad = adult("Piotr", "Nowak", mobile("+447700900002"))
    gran = adult("Zofia", "Nowak", mobile("+447700900003"))
    links = [link(ola, mum, "PAM", 1, lives_with_pupil=True), link(ola, dad, "PAF", 2, lives_with_pupil=False),
             link(ola, gran, "GRM", 3, responsibility=False)]
    return family(links, [ola], [mum, dad, gran]), ola, mum, dad, gran


def test_step_one_contacts_only_the_primary_carer_and_says_why_the_others_wait() -> None:
    households, *_ = _separated_parents()
    plan = absence_plan(households, 1)
    assert only_delivery(plan).contact_name == "Anna Nowak"
    assert "primary carer" in only_delivery(plan).why
    assert reasons(plan) == {"Piotr Nowak": "not_in_audience", "Zofia Nowak": "not_in_audience"}


def test_step_two_contacts_both_parents_including_the_father_who_lives_elsewhere() -> None:
    households, *_ = _separated_parents()
    plan = absence_plan(households, 2)
    assert {d.contact_name for d in plan.deliveries} == {"Anna Nowak", "Piotr Nowak"}
    # Step 1 texted the mother: she is told "we have still not heard"; the father hears of it for the first time.
    assert {d.contact_name: d.message_kind for d in plan.deliveries} == {
        "Anna Nowak": "absence_followup", "Piotr Nowak": "absence_first_day"}
    assert reasons(plan) == {"Zofia Nowak": "not_in_audience"}


def test_still_not_heard_goes_only_to_the_adults_the_pipeline_says_were_reached_today() -> None:
    households, _ola, mum, dad, _gran = _separated_parents()
    plan = absence_plan(households, 2, contacted_adult_ids={mum.id})
    assert {d.adult_id: d.message_kind for d in plan.deliveries} == {
        mum.id: "absence_followup", dad.id: "absence_first_day"}


def test_a_mother_whose_first_text_never_arrived_gets_the_first_day_wording_at_step_two() -> None:
    households, _ola, mum, dad, _gran = _separated_parents()
    plan = absence_plan(households, 2, contacted_adult_ids=set())
    assert {d.adult_id: d.message_kind for d in plan.deliveries} == {
        mum.id: "absence_first_day", dad.id: "absence_first_day"}


def test_a_father_first_contacted_at_step_two_on_a_continuing_absence_gets_the_continuing_wording() -> None:
    households, ola, mum, dad, _gran = _separated_parents()
    plan = absence_plan(households, 2, contacted_adult_ids={mum.id}, continuing_pupil_ids={ola.id})
    assert {d.adult_id: d.message_kind for d in plan.deliveries} == {
        mum.id: "absence_followup", dad.id: "absence_continuing"}


def test_step_three_contacts_the_grandmother_as_an_emergency_contact_only() -> None:
    households, *_ = _separated_parents()
    plan = absence_plan(households, 3)
    delivery = only_delivery(plan)
    assert (delivery.contact_name, delivery.message_kind) == ("Zofia Nowak", "absence_emergency_contact")


def test_the_last_step_sends_nothing_and_alerts_the_dsl() -> None:
    households, ola, *_ = _separated_parents()
    plan = absence_plan(households, 4)
    assert plan.deliveries == () and plan.alert_dsl
    assert plan.unreached == (ola.upn,)


def test_a_father_under_a_no_contact_order_is_never_contacted_even_at_the_step_for_all_parents() -> None:
    ola = pupil("Ola")
    mum, dad = adult("Anna", "Nowak", mobile()), adult("Piotr", "Nowak", mobile("+447700900002"))
    households = family([link(ola, mum), link(ola, dad, "PAF", 2, restriction="no_contact")], [ola], [mum, dad])
    for step in (1, 2, 3):
        plan = absence_plan(households, step)
        assert "Piotr Nowak" not in {d.contact_name for d in plan.deliveries}
        assert reasons(plan)["Piotr Nowak"] == "restricted"


def test_a_restricted_priority_one_mother_is_passed_over_and_the_father_is_contacted_at_step_one() -> None:
    ola = pupil("Ola")
    mum, dad = adult("Anna", "Nowak", mobile()), adult("Piotr", "Nowak", mobile("+447700900002"))
    households = family([link(ola, mum, restriction="no_contact"), link(ola, dad, "PAF", 2)], [ola], [mum, dad])
    plan = absence_plan(households, 1)
    assert only_delivery(plan).contact_name == "Piotr Nowak"
    assert "first contactable adult with parental responsibility" in only_delivery(plan).why
    assert reasons(plan) == {"Anna Nowak": "restricted"}


def test_a_restriction_about_one_child_stops_messages_about_his_other_child_too() -> None:
    ola, kuba = pupil("Ola"), pupil("Kuba")
    dad = adult("Piotr", "Nowak", mobile())
    households = family([link(ola, dad, "PAF"), link(kuba, dad, "PAF", restriction="no_contact")], [ola, kuba],
                        [dad])
    plan = absence_plan(households, 1, absent_pupil_ids=[ola.id])
    assert plan.deliveries == ()
    assert reasons(plan) == {"Piotr Nowak": "restricted"}
    assert plan.unreached == (ola.upn,)


def test_a_father_needing_dsl_approval_waits_until_it_is_recorded() -> None:
    ola = pupil("Ola")
    dad = adult("Piotr", "Nowak", mobile())
    waiting = family([link(ola, dad, "PAF", restriction="dsl_approval")], [ola], [dad])
    approved = family([link(ola, dad, "PAF", restriction="dsl_approval", dsl_approved=True)], [ola], [dad])
    assert reasons(absence_plan(waiting)) == {"Piotr Nowak": "awaiting_dsl_approval"}
    assert only_delivery(absence_plan(approved)).contact_name == "Piotr Nowak"


def test_siblings_in_different_year_groups_absent_together_give_their_mother_one_message() -> None:
    ola, kuba = pupil("Ola", year_group="3"), pupil("Kuba", year_group="9")
    mum = adult("Anna", "Nowak", mobile())
    households = family([link(ola, mum), link(kuba, mum)], [ola, kuba], [mum])
    for step in (1, 2):
        delivery = only_delivery(absence_plan(households, step))
        assert sorted(delivery.pupils) == sorted([ola.upn, kuba.upn])


def test_half_siblings_with_different_fathers_give_each_father_one_message_about_his_own_child() -> None:
    ola, kuba = pupil("Ola"), pupil("Kuba", "Kowalski")
    mum = adult("Anna", "Nowak", mobile("+447700900001"))
    piotr, jan = adult("Piotr", "Nowak", mobile("+447700900002")), adult("Jan", "Kowalski", mobile("+447700900003"))
    households = family([link(ola, mum), link(kuba, mum), link(ola, piotr, "PAF", 2), link(kuba, jan, "PAF", 2)],
                        [ola, kuba], [mum, piotr, jan])
    by_name = {d.contact_name: d.pupils for d in absence_plan(households, 2).deliveries}
    assert by_name == {"Anna Nowak": tuple(sorted([ola.upn, kuba.upn])), "Piotr Nowak": (ola.upn,),
                       "Jan Kowalski": (kuba.upn,)}


def test_a_child_whose_only_carer_lacks_parental_responsibility_is_reported_unreached_at_step_one() -> None:
    ola = pupil("Ola")
    aunt = adult("Ewa", "Nowak", mobile())
    plan = absence_plan(family([link(ola, aunt, "REL", responsibility=False)], [ola], [aunt]), 1)
    assert plan.deliveries == () and plan.unreached == (ola.upn,)
    assert reasons(plan) == {"Ewa Nowak": "not_in_audience"}


def test_a_second_day_of_absence_uses_the_continuing_message() -> None:
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile())
    plan = absence_plan(family([link(ola, mum)], [ola], [mum]), continuing_pupil_ids={ola.id})
    assert only_delivery(plan).message_kind == "absence_continuing"


def test_the_plan_document_has_the_contract_shape() -> None:
    households, ola, *_ = _separated_parents()
    document = absence_plan(households, 1).to_json()
    assert {"kind", "date", "step", "deliveries", "suppressed"} <= set(document)
    assert (document["kind"], document["date"], document["step"]) == ("absence", "2026-11-23", 1)
    delivery = document["deliveries"][0]
    assert {"contact_name", "relationship", "pupils", "channel", "to", "locale", "variant", "send_at",
            "why"} <= set(delivery)
    assert delivery["pupils"] == [ola.upn] and delivery["relationship"] == "PAM"
    assert delivery["send_at"] == "2026-11-23T09:15:00+00:00"
    assert {"contact_name", "pupils", "reason"} <= set(document["suppressed"][0])


def test_the_streamed_plan_document_is_the_same_json_as_the_plan() -> None:
    import io
    import json

    from gateway.routing.plan import write_plan_json

    households, *_ = _separated_parents()
    for step in (1, 4):
        plan = absence_plan(households, step)
        out = io.StringIO()
        write_plan_json(plan, out.write)
        assert json.loads(out.getvalue()) == plan.to_json()
