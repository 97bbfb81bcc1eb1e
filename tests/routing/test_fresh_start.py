"""Fresh-start nudges: who gets one, about which children, and who never does."""

from __future__ import annotations

from datetime import date

from gateway.routing import AttendanceSummary, RoutineSettings, plan_fortnightly_checkin, plan_positive_attendance
from tests.routing.families import (
    CAPABILITIES,
    LADDER,
    LONDON,
    adult,
    family,
    fresh_start_plan,
    link,
    missed,
    mobile,
    only_delivery,
    pupil,
    reasons,
)


def test_a_mother_whose_daughter_missed_four_days_is_told_the_number_of_days() -> None:
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile())
    delivery = only_delivery(fresh_start_plan(family([link(ola, mum)], [ola], [mum]), {ola.id: missed(4)}))
    assert delivery.message_kind == "fresh_start"
    assert delivery.to_json()["days_missed"] == {ola.upn: 4}


def test_a_boy_who_missed_one_day_in_thirty_is_above_threshold_and_not_nudged() -> None:
    kuba = pupil("Kuba")
    mum = adult("Anna", "Nowak", mobile())
    plan = fresh_start_plan(family([link(kuba, mum)], [kuba], [mum]), {kuba.id: missed(1)})
    assert plan.deliveries == () and reasons(plan) == {"Anna Nowak": "above_threshold"}


def test_exactly_ninety_five_percent_is_not_below_the_threshold() -> None:
    kuba = pupil("Kuba")
    mum = adult("Anna", "Nowak", mobile())
    plan = fresh_start_plan(family([link(kuba, mum)], [kuba], [mum]), {kuba.id: AttendanceSummary(100, 5)})
    assert reasons(plan) == {"Anna Nowak": "above_threshold"}


def test_one_nudge_lists_both_siblings_with_their_own_days_missed_and_leaves_out_the_good_attender() -> None:
    ola, kuba, zosia = pupil("Ola"), pupil("Kuba"), pupil("Zosia")
    mum = adult("Anna", "Nowak", mobile())
    households = family([link(ola, mum), link(kuba, mum), link(zosia, mum)], [ola, kuba, zosia], [mum])
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(4), kuba.id: missed(2.5),
                                                           zosia.id: missed(0)}))
    assert delivery.to_json()["days_missed"] == {ola.upn: 4, kuba.upn: 2.5}


def test_a_bereaved_family_receives_no_nudge_about_any_child() -> None:
    ola, kuba = pupil("Ola", bereaved=True), pupil("Kuba")
    mum = adult("Anna", "Nowak", mobile())
    plan = fresh_start_plan(family([link(ola, mum), link(kuba, mum)], [ola, kuba], [mum]),
                            {ola.id: missed(6), kuba.id: missed(6)})
    assert plan.deliveries == () and reasons(plan) == {"Anna Nowak": "excluded"}


def test_a_long_term_ill_child_is_left_out_but_her_brother_is_still_mentioned() -> None:
    ola, kuba = pupil("Ola", long_term_ill=True), pupil("Kuba")
    mum = adult("Anna", "Nowak", mobile())
    households = family([link(ola, mum), link(kuba, mum)], [ola, kuba], [mum])
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(12), kuba.id: missed(3)}))
    assert delivery.pupils == (kuba.upn,)
    only_ill = fresh_start_plan(family([link(ola, mum)], [ola], [mum]), {ola.id: missed(12)})
    assert reasons(only_ill) == {"Anna Nowak": "excluded"}


def test_both_separated_parents_with_responsibility_get_a_nudge_but_the_grandmother_does_not() -> None:
    ola = pupil("Ola")
    mum, dad = adult("Anna", "Nowak", mobile()), adult("Piotr", "Nowak", mobile("+447700900002"))
    gran = adult("Zofia", "Nowak", mobile("+447700900003"))
    households = family([link(ola, mum), link(ola, dad, "PAF", 2, lives_with_pupil=False),
                         link(ola, gran, "GRM", 3, responsibility=False)], [ola], [mum, dad, gran])
    plan = fresh_start_plan(households, {ola.id: missed(5)})
    assert {d.contact_name for d in plan.deliveries} == {"Anna Nowak", "Piotr Nowak"}
    assert reasons(plan) == {"Zofia Nowak": "not_in_audience"}


def test_a_mother_who_already_had_two_routine_messages_this_week_is_capped() -> None:
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile())
    plan = fresh_start_plan(family([link(ola, mum)], [ola], [mum]), {ola.id: missed(5)},
                            recent_counts={mum.id: 2}, weekly_cap=2)
    assert reasons(plan) == {"Anna Nowak": "frequency_cap"}


def test_a_restricted_father_gets_no_nudge_whatever_his_sons_attendance() -> None:
    kuba = pupil("Kuba")
    dad = adult("Piotr", "Nowak", mobile())
    plan = fresh_start_plan(family([link(kuba, dad, "PAF", restriction="no_contact")], [kuba], [dad]),
                            {kuba.id: missed(9)})
    assert plan.deliveries == () and reasons(plan) == {"Piotr Nowak": "restricted"}


def test_a_new_pupil_with_no_register_marks_is_not_nudged() -> None:
    kuba = pupil("Kuba")
    mum = adult("Anna", "Nowak", mobile())
    assert reasons(fresh_start_plan(family([link(kuba, mum)], [kuba], [mum]), {})) == {
        "Anna Nowak": "no_attendance_data"}


def _routine_settings(**overrides: object) -> RoutineSettings:
    values: dict[str, object] = {"now": None, "tz": LONDON, "capabilities": CAPABILITIES, "recent_counts": {},
                                 "ladder": LADDER}
    values.update(overrides)
    return RoutineSettings(**values)  # type: ignore[arg-type]


def test_only_the_parents_of_a_child_on_a_support_plan_get_the_fortnightly_check_in() -> None:
    ola, kuba = pupil("Ola", support_plan=True), pupil("Kuba", "Kowalski")
    anna, jan = adult("Anna", "Nowak", mobile()), adult("Jan", "Kowalski", mobile("+447700900002"))
    households = family([link(ola, anna), link(kuba, jan, "PAF")], [ola, kuba], [anna, jan])
    plan = plan_fortnightly_checkin(households, day=date(2027, 1, 6), settings=_routine_settings())
    assert only_delivery(plan).contact_name == "Anna Nowak"
    assert only_delivery(plan).message_kind == "fortnightly_checkin"
    assert reasons(plan) == {"Jan Kowalski": "not_in_audience"}


def test_a_positive_message_about_an_improved_son_respects_the_weekly_cap() -> None:
    kuba = pupil("Kuba")
    mum, dad = adult("Anna", "Nowak", mobile()), adult("Piotr", "Nowak", mobile("+447700900002"))
    households = family([link(kuba, mum), link(kuba, dad, "PAF", 2)], [kuba], [mum, dad])
    plan = plan_positive_attendance(households, day=date(2027, 1, 6), improved_pupil_ids={kuba.id},
                                    settings=_routine_settings(recent_counts={dad.id: 2}))
    assert only_delivery(plan).contact_name == "Anna Nowak"
    assert reasons(plan) == {"Piotr Nowak": "frequency_cap"}
