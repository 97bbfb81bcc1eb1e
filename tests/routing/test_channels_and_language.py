"""Channel and language: each test is a sentence about one family."""

from __future__ import annotations

from typing import Any

from gateway.routing import AdultFacts, Households, PupilFacts
from tests.routing.families import (
    absence_plan,
    adult,
    email,
    family,
    fresh_start_plan,
    landline,
    link,
    missed,
    mobile,
    only_delivery,
    pupil,
    reasons,
)


def _one_parent(grown_up: AdultFacts, **pupil_kwargs: Any) -> tuple[Households, PupilFacts]:
    child = pupil("Ola", **pupil_kwargs)
    return family([link(child, grown_up)], [child], [grown_up]), child


def test_a_mother_with_a_mobile_gets_a_text_on_her_preferred_channel() -> None:
    households, child = _one_parent(adult("Anna", "Nowak", mobile("+447700900123")))
    delivery = only_delivery(absence_plan(households))
    assert (delivery.channel, delivery.to, delivery.pupils) == ("sms", "+447700900123", (child.upn,))
    assert delivery.why.startswith("preferred channel sms; mobile on file")


def test_a_landline_only_grandmother_gets_a_voice_call() -> None:
    grandmother = adult("Joan", "Smith", landline("+441632960123"), channels="sms")
    delivery = only_delivery(absence_plan(_one_parent(grandmother)[0]))
    assert (delivery.channel, delivery.to) == ("voice", "+441632960123")
    assert "sms no SMS-capable mobile" in delivery.why
    assert "not in their preferences" in delivery.why


def test_a_father_who_prefers_email_gets_an_email_and_sms_as_fallback() -> None:
    father = adult("Piotr", "Nowak", mobile(), email("piotr@example.org"), channels="email,sms")
    delivery = only_delivery(absence_plan(_one_parent(father)[0]))
    assert (delivery.channel, delivery.to) == ("email", "piotr@example.org")
    assert delivery.fallback_channels == ("sms", "voice")


def test_a_mother_whose_email_bounced_gets_a_text_instead() -> None:
    mother = adult("Anna", "Nowak", email(permanently_failed=True), mobile(), channels="email,sms")
    delivery = only_delivery(absence_plan(_one_parent(mother)[0]))
    assert delivery.channel == "sms"
    assert "email e-mail bounced" in delivery.why


def test_a_mother_whose_sms_failed_today_is_moved_to_her_next_channel() -> None:
    mother = adult("Anna", "Nowak", mobile(), email("anna@example.org"))
    plan = absence_plan(_one_parent(mother)[0], exclude_channels={mother.id: {"sms"}})
    delivery = only_delivery(plan)
    assert delivery.channel == "email"
    assert "sms failed today" in delivery.why


def test_a_parent_with_low_literacy_who_asked_for_voice_is_called_first() -> None:
    parent = adult("Dawn", "Hill", mobile(), literacy="voice")
    delivery = only_delivery(absence_plan(_one_parent(parent)[0]))
    assert delivery.channel == "voice"
    assert "literacy: voice first" in delivery.why


def test_a_parent_who_asked_for_plain_language_gets_the_plain_variant() -> None:
    parent = adult("Dawn", "Hill", mobile(), literacy="plain")
    assert only_delivery(absence_plan(_one_parent(parent)[0])).variant == "plain"


def test_a_mother_who_texted_stop_is_still_called_about_a_same_day_absence() -> None:
    mother = adult("Anna", "Nowak", mobile(opted_out=True))
    delivery = only_delivery(absence_plan(_one_parent(mother)[0]))
    assert delivery.channel == "voice"
    assert "sms texted STOP" in delivery.why


def test_a_mother_who_texted_stop_gets_no_routine_nudge() -> None:
    mother = adult("Anna", "Nowak", mobile(opted_out=True), email())
    households, child = _one_parent(mother)
    plan = fresh_start_plan(households, {child.id: missed(5)})
    assert plan.deliveries == ()
    assert reasons(plan) == {"Anna Nowak": "opted_out"}


def test_a_father_with_no_phone_and_no_email_is_suppressed_as_unreachable() -> None:
    plan = absence_plan(_one_parent(adult("Piotr", "Nowak"))[0])
    assert plan.deliveries == ()
    assert reasons(plan) == {"Piotr Nowak": "no_usable_contact"}
    assert plan.unreached != ()


def test_a_polish_speaking_mother_gets_her_text_in_polish() -> None:
    mother = adult("Anna", "Nowak", mobile(), language="pl")
    assert only_delivery(absence_plan(_one_parent(mother)[0])).locale == "pl"


def test_without_a_language_of_her_own_a_mother_is_written_to_in_the_childs_home_language() -> None:
    households, _ = _one_parent(adult("Anna", "Nowak", mobile()), home_language="ro")
    assert only_delivery(absence_plan(households)).locale == "ro"


def test_a_family_with_no_language_on_file_gets_british_english() -> None:
    assert only_delivery(absence_plan(_one_parent(adult("Anna", "Nowak", mobile()))[0])).locale == "en-GB"


def test_a_lithuanian_speaker_without_lithuanian_templates_gets_english_and_the_plan_says_so() -> None:
    delivery = only_delivery(absence_plan(_one_parent(adult("Rasa", "Kazlauskas", mobile(), language="lt"))[0]))
    assert delivery.locale == "en-GB"
    assert "no lt templates, en-GB instead" in delivery.why


def test_an_urdu_speaker_who_prefers_calls_gets_a_text_in_urdu_because_there_is_no_urdu_voice() -> None:
    mother = adult("Ayesha", "Khan", landline(), mobile(), language="ur", channels="voice,sms")
    delivery = only_delivery(absence_plan(_one_parent(mother)[0]))
    assert (delivery.channel, delivery.locale, delivery.needs_interpreter) == ("sms", "ur", False)
    assert "no ur voice, so sms in ur instead of a call" in delivery.why
    assert delivery.fallback_channels == ("voice",)


def test_a_somali_speaking_grandfather_with_only_a_landline_is_called_in_english_and_flagged_for_an_interpreter(
) -> None:
    grandfather = adult("Abdi", "Hassan", landline(), language="so")
    delivery = only_delivery(absence_plan(_one_parent(grandfather)[0]))
    assert (delivery.channel, delivery.locale, delivery.needs_interpreter) == ("voice", "en-GB", True)
    assert "interpreter" in delivery.why


def test_a_mother_whose_only_mobile_failed_permanently_and_who_texted_stop_is_suppressed_as_opted_out() -> None:
    mother = adult("Anna", "Nowak", mobile(opted_out=True, permanently_failed=True))
    assert reasons(absence_plan(_one_parent(mother)[0])) == {"Anna Nowak": "opted_out"}


def test_the_follow_up_step_tries_the_next_channel_after_the_text_of_step_one() -> None:
    mother = adult("Anna", "Nowak", mobile(), email("anna@example.org"))
    households, _ = _one_parent(mother)
    first, second = absence_plan(households, 1), absence_plan(households, 2)
    assert only_delivery(first).channel == "sms"
    assert only_delivery(second).channel == "email"
    assert only_delivery(second).message_kind == "absence_followup"
    assert "sms tried at an earlier step" in only_delivery(second).why


def test_a_mother_with_only_a_mobile_gets_a_call_at_the_follow_up_step() -> None:
    households, _ = _one_parent(adult("Anna", "Nowak", mobile()))
    assert only_delivery(absence_plan(households, 2)).channel == "voice"


def test_a_mother_with_a_mobile_and_nothing_else_tried_is_texted_again_when_the_pipeline_says_voice_was_tried(
) -> None:
    mother = adult("Anna", "Nowak", mobile())
    households, _ = _one_parent(mother)
    plan = absence_plan(households, 2, tried_channels={mother.id: {"sms", "voice"}})
    assert only_delivery(plan).channel == "sms"
    assert "no untried channel left" in only_delivery(plan).why


def test_a_somali_speaker_who_prefers_calls_keeps_her_call_when_there_are_no_somali_templates_either() -> None:
    from gateway.routing import LocaleCapabilities

    english_only = LocaleCapabilities.of(catalogs=("en-GB",), voices=("en-GB",))
    mother = adult("Hodan", "Warsame", mobile(), language="so", channels="voice,sms")
    delivery = only_delivery(absence_plan(_one_parent(mother)[0], capabilities=english_only))
    assert (delivery.channel, delivery.locale, delivery.needs_interpreter) == ("voice", "en-GB", True)
