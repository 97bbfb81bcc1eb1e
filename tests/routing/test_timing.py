"""When messages go: school hours for absences, contact windows and school days for routine messages."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from gateway.routing import Households, PupilFacts
from tests.routing.families import (
    LONDON,
    SPRING_1,
    absence_plan,
    adult,
    family,
    fresh_start_plan,
    link,
    local,
    missed,
    mobile,
    only_delivery,
    pupil,
    reasons,
)


def _mum_and_ola(**adult_kwargs: Any) -> tuple[Households, PupilFacts]:
    ola = pupil("Ola")
    mum = adult("Anna", "Nowak", mobile(), **adult_kwargs)
    return family([link(ola, mum)], [ola], [mum]), ola


def test_the_first_message_goes_when_registers_close() -> None:
    households, _ = _mum_and_ola()
    assert only_delivery(absence_plan(households)).send_at == datetime(2026, 11, 23, 9, 15, tzinfo=LONDON)


def test_a_follow_up_goes_forty_minutes_after_registers_close() -> None:
    households, _ = _mum_and_ola()
    assert local(only_delivery(absence_plan(households, 2)).send_at) == time(9, 55)


def test_an_absence_planned_late_in_the_morning_goes_now() -> None:
    households, _ = _mum_and_ola()
    now = datetime(2026, 11, 23, 11, 2, tzinfo=LONDON)
    assert only_delivery(absence_plan(households, now=now)).send_at == now


def test_an_absence_recorded_after_eight_in_the_evening_is_not_messaged_that_night() -> None:
    households, _ = _mum_and_ola()
    plan = absence_plan(households, now=datetime(2026, 11, 23, 20, 30, tzinfo=LONDON))
    assert plan.deliveries == ()
    assert reasons(plan) == {"Anna Nowak": "outside_hours"}


def test_send_times_carry_the_summer_time_offset_in_june() -> None:
    households, _ = _mum_and_ola()
    delivery = only_delivery(absence_plan(households, day=date(2027, 6, 14)))
    assert delivery.send_at.isoformat() == "2027-06-14T09:15:00+01:00"


def test_a_fresh_start_nudge_waits_for_the_default_contact_window_on_the_first_day() -> None:
    households, ola = _mum_and_ola()
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(4)}))
    assert delivery.send_at == datetime(2027, 1, 4, 8, 0, tzinfo=LONDON)
    assert "school contact window 08:00-19:00" in delivery.why


def test_a_shift_working_mother_gets_her_nudge_inside_her_own_evening_window() -> None:
    households, ola = _mum_and_ola(window_start=time(17, 30), window_end=time(19, 30))
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(4)}))
    assert delivery.send_at == datetime(2027, 1, 4, 17, 30, tzinfo=LONDON)


def test_a_window_running_late_into_the_night_is_cut_at_eight_pm() -> None:
    households, ola = _mum_and_ola(window_start=time(21, 0), window_end=time(23, 0))
    plan = fresh_start_plan(households, {ola.id: missed(4)})
    assert reasons(plan) == {"Anna Nowak": "outside_hours"}


def test_a_nudge_for_a_half_term_starting_on_an_inset_day_waits_for_the_next_school_day() -> None:
    households, ola = _mum_and_ola()
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(4)}, inset_days={SPRING_1.start}))
    assert delivery.send_at == datetime(2027, 1, 5, 8, 0, tzinfo=LONDON)
    assert "not on INSET day 2027-01-04" in delivery.why


def test_a_nudge_planned_on_friday_evening_waits_until_monday_morning() -> None:
    households, ola = _mum_and_ola()
    friday_evening = datetime(2027, 1, 8, 19, 30, tzinfo=LONDON)
    delivery = only_delivery(fresh_start_plan(households, {ola.id: missed(4)}, now=friday_evening))
    assert delivery.send_at == datetime(2027, 1, 11, 8, 0, tzinfo=LONDON)
    assert "not at weekends" in delivery.why
