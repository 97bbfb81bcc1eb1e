"""A restriction binds the address, not only the adult row.

The office typed the barred father's mobile (and his e-mail in other capitals) onto the mother's record:
nothing may go to either, whoever's record it is on, however the number was typed.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import (
    ContactKind,
    ContactPoint,
    MilestoneBatch,
    OutboxMessage,
    OutboxState,
    PupilContact,
    Restriction,
    utcnow,
)
from gateway.pipeline.absence import send_one_off, start_followup
from gateway.routing.loader import load_households
from gateway.routing.reach import SHARED_WITH_RESTRICTED_DETAIL, usable_points
from gateway.safeguarding import (
    SHARED_WITH_RESTRICTED,
    ContactRestricted,
    address_key,
    blocked_address_reason,
    blocked_addresses,
)
from tests.pipeline.conftest import DAD_MOBILE, DAY, GRAN_PHONE, MUM_MOBILE, Pipeline, add_family, at
from tests.security.support import DAD_EMAIL, add_point, remove_point, restrict, sent_to


def test_blocked_addresses_lists_every_contact_point_of_a_restricted_adult(session: Session) -> None:
    family = add_family(session)
    session.add(ContactPoint(adult_id=family.dad, kind=ContactKind.EMAIL, value=DAD_EMAIL, position=1))
    session.commit()
    assert blocked_addresses(session) == {}
    restrict(session, family.dad, Restriction.NO_CONTACT)
    assert blocked_addresses(session) == {DAD_MOBILE: "restricted", DAD_EMAIL.lower(): "restricted"}


def test_blocked_address_matches_email_in_other_capitals_and_phone_typed_differently(session: Session) -> None:
    family = add_family(session)
    session.add(ContactPoint(adult_id=family.dad, kind=ContactKind.EMAIL, value=DAD_EMAIL, position=1))
    session.commit()
    restrict(session, family.dad, Restriction.NO_CONTACT)
    assert blocked_address_reason(session, "piotr.nowak@EXAMPLE.ORG") == "restricted"
    assert blocked_address_reason(session, "07700 900456") == "restricted"
    assert blocked_address_reason(session, "0044 7700-900456") == "restricted"
    assert blocked_address_reason(session, MUM_MOBILE) is None
    found = blocked_addresses(session, ["07700 900456", " PIOTR.nowak@example.ORG ", MUM_MOBILE, GRAN_PHONE])
    assert found == {address_key("07700 900456"): "restricted", DAD_EMAIL.lower(): "restricted"}


def test_address_of_adult_awaiting_dsl_approval_is_blocked_until_approved(session: Session) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.DSL_APPROVAL)
    assert blocked_addresses(session, [DAD_MOBILE]) == {DAD_MOBILE: "awaiting_dsl_approval"}
    session.execute(update(PupilContact).where(PupilContact.adult_id == family.dad).values(dsl_approved_at=utcnow()))
    session.commit()
    assert blocked_addresses(session, [DAD_MOBILE]) == {}


def test_shared_family_phone_held_by_barred_father_and_mother_is_blocked(session: Session) -> None:
    family = add_family(session)
    # The mother has the father's number on her own record too (a shared family phone).
    session.add(ContactPoint(adult_id=family.mum, kind=ContactKind.MOBILE, value=DAD_MOBILE, sms_capable=True,
                             position=2))
    session.commit()
    assert blocked_addresses(session, [DAD_MOBILE]) == {}  # nobody restricted yet
    restrict(session, family.dad, Restriction.NO_CONTACT)
    assert blocked_addresses(session, [DAD_MOBILE]) == {DAD_MOBILE: "restricted"}
    assert blocked_addresses(session, [MUM_MOBILE]) == {}


def test_no_contact_beats_awaiting_approval_when_two_adults_hold_an_address(session: Session) -> None:
    family = add_family(session)
    session.add(ContactPoint(adult_id=family.gran, kind=ContactKind.MOBILE, value=DAD_MOBILE, position=1))
    session.commit()
    restrict(session, family.gran, Restriction.DSL_APPROVAL)
    assert blocked_addresses(session, [DAD_MOBILE]) == {DAD_MOBILE: "awaiting_dsl_approval"}
    restrict(session, family.dad, Restriction.NO_CONTACT)
    assert blocked_addresses(session, [DAD_MOBILE]) == {DAD_MOBILE: "restricted"}


# --- On the real pipeline: routing, the last-line check, staff sends, fresh-start batches ------------------

def _rows_to(session: Session, address: str) -> list[OutboxMessage]:
    session.expire_all()
    return [r for r in session.scalars(select(OutboxMessage)) if r.to_address.lower() == address.lower()]


def test_address_of_restricted_adult_blocked_on_mothers_record(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    # The office typed the barred father's mobile onto the mother's record and removed her own number.
    add_point(session, family.mum, DAD_MOBILE)
    remove_point(session, family.mum, MUM_MOBILE)
    start_followup(session, DAY)
    pipeline.drain()
    for minutes in (45, 60, 60):
        pipeline.clock.advance(minutes=minutes)
        pipeline.tick()
    assert sent_to(pipeline, DAD_MOBILE) == []
    assert _rows_to(session, DAD_MOBILE) == []  # routing never even planned it
    assert sent_to(pipeline, "anna@example.org")  # the mother is still reached, at her own address


def test_routing_marks_an_address_held_by_a_restricted_adult_unusable(session: Session) -> None:
    family = add_family(session)
    add_point(session, family.mum, DAD_MOBILE)
    remove_point(session, family.mum, MUM_MOBILE)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    households = load_households(session, family.pupils)
    point = next(p for p in households.adults[family.mum].contact_points if p.value == DAD_MOBILE)
    assert point.blocked_by_restriction == "restricted"
    usable, unusable = usable_points(households.adults[family.mum], same_day=True)
    assert "sms" not in usable and "voice" not in usable
    assert unusable["sms"] == unusable["voice"] == SHARED_WITH_RESTRICTED_DETAIL
    assert usable["email"].value == "anna@example.org"


def test_email_of_restricted_adult_in_other_capitals_blocked_on_mothers_record(session: Session,
                                                                             pipeline: Pipeline) -> None:
    family = add_family(session)
    add_point(session, family.dad, DAD_EMAIL, position=1)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    remove_point(session, family.mum, "anna@example.org")
    remove_point(session, family.mum, MUM_MOBILE)
    add_point(session, family.mum, "piotr.NOWAK@example.ORG")
    start_followup(session, DAY)
    pipeline.drain()
    pipeline.clock.advance(minutes=45)
    pipeline.tick()
    assert sent_to(pipeline, DAD_EMAIL) == []
    assert _rows_to(session, DAD_EMAIL) == []
    with pytest.raises(ContactRestricted) as refused:
        send_one_off(session, adult_id=family.mum, kind="fortnightly_checkin", pupil_ids=family.pupils, on=DAY,
                     staff_id=family.dsl, channel="email")
    assert refused.value.reason == SHARED_WITH_RESTRICTED
    pipeline.drain()
    assert sent_to(pipeline, DAD_EMAIL) == []


def test_one_off_to_restricted_fathers_number_on_mothers_record_is_refused(session: Session,
                                                                         pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    add_point(session, family.mum, DAD_MOBILE)
    remove_point(session, family.mum, MUM_MOBILE)
    with pytest.raises(ContactRestricted) as refused:
        send_one_off(session, adult_id=family.mum, kind="fortnightly_checkin", pupil_ids=family.pupils, on=DAY,
                     staff_id=family.dsl, channel="sms")
    assert refused.value.reason == SHARED_WITH_RESTRICTED
    pipeline.drain()
    assert sent_to(pipeline, DAD_MOBILE) == [] and _rows_to(session, DAD_MOBILE) == []
    # Without a channel named, the mother's own e-mail is used instead of the barred number.
    outbox_id = send_one_off(session, adult_id=family.mum, kind="fortnightly_checkin", pupil_ids=family.pupils,
                             on=DAY, staff_id=family.dsl)
    pipeline.drain()
    assert outbox_id is not None and sent_to(pipeline, "anna@example.org")
    assert sent_to(pipeline, DAD_MOBILE) == []


def test_number_typed_differently_is_the_same_restricted_number(session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    # Whatever the office typed, the web form and the importers store E.164: the same number as his.
    typed = address_key("07700 900456")
    assert typed == DAD_MOBILE
    add_point(session, family.mum, typed)
    remove_point(session, family.mum, MUM_MOBILE)
    start_followup(session, DAY)
    pipeline.drain()
    assert sent_to(pipeline, DAD_MOBILE) == []


def test_restriction_set_after_the_message_was_queued_suppresses_the_shared_address(
        session: Session, pipeline: Pipeline) -> None:
    family = add_family(session)
    add_point(session, family.mum, DAD_MOBILE)  # a shared family phone, her first number
    remove_point(session, family.mum, MUM_MOBILE)
    with pipeline.broker_paused():
        start_followup(session, DAY)  # queues the first text to the shared phone, for the mother
        queued = _rows_to(session, DAD_MOBILE)
        assert [r.adult_id for r in queued] == [family.mum]
        restrict(session, family.dad, Restriction.NO_CONTACT)  # the DSL acts before a worker picks it up
    pipeline.drain()
    assert sent_to(pipeline, DAD_MOBILE) == []
    session.expire_all()
    row = session.get(OutboxMessage, queued[0].id)
    assert row is not None and row.state is OutboxState.SUPPRESSED and row.error_reason == SHARED_WITH_RESTRICTED
    assert sent_to(pipeline, "anna@example.org")  # her next channel, at once


def test_fresh_start_batch_never_goes_to_restricted_fathers_number_on_mothers_record(
        session: Session, pipeline: Pipeline) -> None:
    from gateway.pipeline import milestones
    from gateway.pipeline.milestones import approve_batch, plan_and_release
    from tests.pipeline.test_milestones import _school_year

    milestones._last_daily_run = None
    family = add_family(session, marks=False)
    _school_year(session, family, missed_autumn=5)
    restrict(session, family.dad, Restriction.NO_CONTACT)
    add_point(session, family.mum, DAD_MOBILE)
    remove_point(session, family.mum, MUM_MOBILE)
    pipeline.clock.current = at(17, 0, date(2027, 1, 3))
    plan_and_release(session, pipeline.clock.now())
    session.commit()
    batch = session.scalars(select(MilestoneBatch)).one()
    assert _rows_to(session, DAD_MOBILE) == []
    approve_batch(session, batch.id, family.dsl)
    session.commit()
    pipeline.clock.current = at(18, 0, date(2027, 1, 4))
    pipeline.tick()
    assert sent_to(pipeline, DAD_MOBILE) == []
    assert sent_to(pipeline, "anna@example.org")  # the mother's nudge went to her own e-mail


def test_restricted_number_stored_in_a_legacy_form_still_blocks_it(session: Session) -> None:
    family = add_family(session)
    # An old row typed before numbers were normalised on entry: still the same number as E.164.
    session.add(ContactPoint(adult_id=family.dad, kind=ContactKind.LANDLINE, value="01632 960 111", position=3))
    session.commit()
    restrict(session, family.dad, Restriction.NO_CONTACT)
    assert blocked_address_reason(session, "+441632960111") == "restricted"
    assert blocked_address_reason(session, "(01632) 960111") == "restricted"
