"""Every path that writes an outbox row obeys routing, on random households.

Households are drawn at random (restrictions and DSL approval, opt-outs, failed points, landlines, numbers shared
with a restricted adult, languages with and without a voice, literacy, contact windows, INSET days, weekends,
the days either side of the clocks changing). Every path in ``PATHS`` is run on them, and for each row it
wrote the same invariants hold:

* never an adult who may not be contacted, never an address a restricted adult holds, never a texted number
  that sent STOP (routine messages: never an adult who sent STOP at all);
* never a call in a language text-to-speech cannot speak;
* routine messages only on a school day (no weekend, no INSET day) inside the adult's window, at most the
  weekly cap in any seven days, a fortnightly check-in at most once a fortnight;
* the locale and variant ``gateway.routing.language.language_for`` gives (staff's own words and the English
  HELP text excepted).

``PATHS`` names every function in ``gateway`` that calls ``add_message``: a new one fails
``test_every_outbox_writer_is_a_named_path`` until it is added here and run by the property.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.clock import FixedClock
from gateway.models import (
    Adult,
    AttendanceMark,
    ContactKind,
    ContactPoint,
    HalfTerm,
    InboundMessage,
    InsetDay,
    Literacy,
    OutboxMessage,
    OutboxState,
    Pupil,
    PupilContact,
    Restriction,
    School,
    StaffRole,
    StaffUser,
)
from gateway.models.base import Base
from gateway.pipeline import milestones, ports
from gateway.routing.language import language_for
from gateway.routing.recipient import ROUTINE_KINDS
from gateway.routing.timing import routine_window
from gateway.safeguarding import blocked_address_reason, blocked_reason

LONDON = ZoneInfo("Europe/London")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class OutboxPath:
    """One way rows get into the outbox: the function that writes them, and how parent rows are checked."""

    writer: str  # module:function that calls add_message
    audience: str  # "parent" (every invariant) or "staff" (DSL e-mails: never a parent's address)
    language_checked: bool = True  # False: the text is not from a template (staff's words, the English HELP)


# Every function that writes an outbox row. A new one must be added here (and run by ``_run_paths``).
PATHS: dict[str, OutboxPath] = {
    "ladder": OutboxPath("gateway.pipeline.absence:advance_case", "parent"),
    "fallback": OutboxPath("gateway.pipeline.delivery:plan_fallback", "parent"),
    "one_off": OutboxPath("gateway.pipeline.absence:send_one_off", "parent"),
    "thanks": OutboxPath("gateway.pipeline.replies:_thank", "parent"),
    "help": OutboxPath("gateway.pipeline.replies:_help_reply", "parent", language_checked=False),
    "fresh_start": OutboxPath("gateway.pipeline.milestones:plan_fresh_start_batch", "parent"),
    "positive_attendance+fortnightly_checkin": OutboxPath("gateway.pipeline.milestones:_queue_plan", "parent"),
    "staff_answer": OutboxPath("gateway.pipeline.staff_answer:send_answer", "parent", language_checked=False),
    "dsl_email": OutboxPath("gateway.pipeline.dsl_mail:email_dsls", "staff"),  # every DSL alert e-mail
}
# Paths that decide a message without writing a row: checked against what routing gives.
PREVIEWS = ("gateway.web.pages.family:_preview",)


def _outbox_writers() -> set[str]:
    """module:function of every function in gateway/ whose body calls add_message (nested calls included)."""
    writers: set[str] = set()
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name == "add_message":
                continue
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            if any(isinstance(c.func, ast.Name) and c.func.id == "add_message" for c in calls):
                writers.add(f"{module}:{node.name}")
    return writers


def test_every_outbox_writer_is_a_named_path() -> None:
    assert _outbox_writers() == {p.writer for p in PATHS.values()}


# Random households ------------------------------------------------------------------------------------------
LANGUAGES = [None, "pl", "so", "ar", "ur", "en-GB", "pa"]  # so and ur: no Twilio voice
HOME_LANGUAGES = ["pl", "so", "ar", "en-GB", "ur"]
# Weekdays, a Saturday and a Sunday, and the school days either side of both clock changes.
DAYS = [date(2026, 11, 23), date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29), date(2027, 3, 26),
        date(2027, 3, 29), date(2026, 10, 23), date(2026, 10, 26)]


@dataclass(frozen=True)
class AdultSpec:
    language: str | None
    literacy: str
    channels: tuple[str, ...]
    window: tuple[int, int] | None
    mobile: bool
    landline: bool
    email: bool
    opted_out: bool
    failed: str | None
    restriction: str
    approved: bool
    responsible: bool
    shares_mobile_of: int | None


@dataclass(frozen=True)
class World:
    pupils: tuple[tuple[str, bool, str], ...]  # (home language, support plan, attendance pattern)
    adults: tuple[AdultSpec, ...]
    day: date
    hour: int
    inset: bool


@st.composite
def adults(draw: st.DrawFn, count: int) -> AdultSpec:
    order = draw(st.permutations(["sms", "email", "voice"]))
    return AdultSpec(
        language=draw(st.sampled_from(LANGUAGES)),
        literacy=draw(st.sampled_from(["standard", "plain", "voice"])),
        channels=tuple(order[: draw(st.integers(1, 3))]),
        window=draw(st.none() | st.tuples(st.integers(6, 12), st.integers(12, 22))),
        mobile=draw(st.booleans()), landline=draw(st.booleans()), email=draw(st.booleans()),
        opted_out=draw(st.booleans()), failed=draw(st.sampled_from([None, None, "mobile", "email", "landline"])),
        restriction=draw(st.sampled_from(["none", "none", "none", "no_contact", "dsl_approval"])),
        approved=draw(st.booleans()), responsible=draw(st.booleans()),
        shares_mobile_of=draw(st.none() | st.integers(0, count - 1)),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    pupils = tuple(draw(st.lists(st.tuples(st.sampled_from(HOME_LANGUAGES), st.booleans(),
                                           st.sampled_from(["improved", "absent_lately", "none"])),
                                 min_size=1, max_size=2)))
    count = draw(st.integers(1, 3))
    return World(pupils, tuple(draw(adults(count)) for _ in range(count)), draw(st.sampled_from(DAYS)),
                 draw(st.integers(6, 21)), draw(st.booleans()))


def _mobile(index: int) -> str:
    return f"+4477009001{index:02d}"


def _build(session: Session, world: World) -> tuple[list[int], list[int], int]:
    """Insert the world; (pupil ids, adult ids, the DSL's staff id)."""
    day = world.day
    school = School(name="Oakfield Primary", phone="01632 960000", attendance_officer="Mrs Khan")
    session.add(school)
    pupils = [Pupil(upn=f"A{index:012d}", forename=f"Child{index}", surname="Test", school=school,
                    home_language=home, support_plan=support)
              for index, (home, support, _pattern) in enumerate(world.pupils)]
    session.add_all(pupils)
    adult_rows: list[Adult] = []
    for index, spec in enumerate(world.adults):
        adult = Adult(forename=f"Adult{index}", surname="Test", language=spec.language,
                      literacy=Literacy(spec.literacy), channel_order=",".join(spec.channels),
                      window_start=time(spec.window[0]) if spec.window else None,
                      window_end=time(spec.window[1]) if spec.window else None)
        failed_at = datetime.combine(day - timedelta(days=3), time(12), LONDON)
        position = 0
        if spec.mobile or spec.shares_mobile_of is not None:
            number = _mobile(spec.shares_mobile_of if spec.shares_mobile_of is not None else index)
            adult.contact_points.append(ContactPoint(
                kind=ContactKind.MOBILE, value=number, sms_capable=True, position=position,
                opted_out_at=failed_at if spec.opted_out else None,
                last_permanent_failure_at=failed_at if spec.failed == "mobile" else None))
            position += 1
        if spec.landline:
            adult.contact_points.append(ContactPoint(
                kind=ContactKind.LANDLINE, value=f"+4416329601{index:02d}", position=position,
                last_permanent_failure_at=failed_at if spec.failed == "landline" else None))
            position += 1
        if spec.email:
            adult.contact_points.append(ContactPoint(
                kind=ContactKind.EMAIL, value=f"adult{index}@example.org", position=position,
                last_permanent_failure_at=failed_at if spec.failed == "email" else None))
        for priority, pupil in enumerate(pupils, start=1):
            pupil.links.append(PupilContact(
                adult=adult, relationship_code="PAM" if spec.responsible else "OTH", priority=index + priority,
                parental_responsibility=spec.responsible, lives_with_pupil=spec.responsible,
                restriction=Restriction(spec.restriction),
                dsl_approved_at=failed_at if spec.approved and spec.restriction == "dsl_approval" else None))
        adult_rows.append(adult)
    session.add_all(adult_rows)
    dsl = StaffUser(username="dsl", display_name="Ms Patel", email="dsl@school.invalid", role=StaffRole.DSL,
                    password_hash="x")
    session.add(dsl)
    # Half-terms: the one before (for positive attendance), the current one, and the next (fresh start).
    session.add_all([HalfTerm(name="Before", start=day - timedelta(days=70), end=day - timedelta(days=30)),
                     HalfTerm(name="Now", start=day - timedelta(days=29), end=day),
                     HalfTerm(name="Next", start=day + timedelta(days=1), end=day + timedelta(days=40))])
    if world.inset:
        session.add(InsetDay(date=day + timedelta(days=1)))
        session.add(InsetDay(date=day))
    session.flush()
    for pupil, (_home, _support, pattern) in zip(pupils, world.pupils, strict=True):
        for offset in range(1, 70):
            mark_day = day - timedelta(days=offset)
            if mark_day.weekday() >= 5 or pattern == "none":
                continue
            before = offset >= 30
            absent = (pattern == "improved" and before and offset % 4 == 0) or (
                pattern == "absent_lately" and not before and offset % 3 == 0)
            session.add(AttendanceMark(pupil_id=pupil.id, date=mark_day, session="AM", code="N" if absent else "/"))
        session.add(AttendanceMark(pupil_id=pupil.id, date=day, session="AM", code="N"))
    session.commit()
    return [p.id for p in pupils], [a.id for a in adult_rows], dsl.id


# The paths ----------------------------------------------------------------------------------------------------
def _run_paths(session: Session, world: World, pupil_ids: list[int], adult_ids: list[int],
               dsl_id: int, clock: FixedClock) -> dict[str, set[int]]:
    """Run every path; the ids of the rows each one wrote."""
    from gateway.pipeline.absence import run_due_steps, send_one_off, start_followup
    from gateway.pipeline.delivery import record_permanent_failure
    from gateway.pipeline.replies import process_inbound_message, record_inbound
    from gateway.safeguarding import ContactRestricted

    written: dict[str, set[int]] = {}

    def ids() -> set[int]:
        session.expire_all()
        return set(session.scalars(select(OutboxMessage.id)))

    def run(name: str, action: Callable[[], object]) -> None:
        before = ids()
        action()
        session.commit()
        written[name] = written.get(name, set()) | (ids() - before)

    day = world.day
    clock.current = datetime.combine(day, time(world.hour, 5), LONDON)
    milestones._last_daily_run = None
    run("routine", lambda: milestones.plan_and_release(session, clock.now()))

    def ladder() -> None:
        clock.current = datetime.combine(day, time(9, 30), LONDON)
        start_followup(session, day)
        for hour in range(10, 18):
            clock.current = datetime.combine(day, time(hour, 0), LONDON)
            run_due_steps(session, clock.now(), on=day)
            session.commit()
    run("ladder", ladder)

    def one_offs() -> None:
        for adult_id in adult_ids:
            for channel in (None, "sms", "email", "voice"):
                clock.current += timedelta(seconds=1)
                try:
                    send_one_off(session, adult_id=adult_id, kind="absence_followup", pupil_ids=pupil_ids, on=day,
                                 staff_id=dsl_id, channel=channel)
                except ContactRestricted:
                    session.rollback()
    run("one_off", one_offs)

    def replies(body: str, tag: str) -> Callable[[], None]:
        def reply() -> None:
            clock.current = datetime.combine(day, time(world.hour, 30), LONDON)
            for adult_id in adult_ids:
                for point in session.scalars(select(ContactPoint).where(ContactPoint.adult_id == adult_id)):
                    source = "email" if point.kind is ContactKind.EMAIL else "sms"
                    if source == "sms" and point.kind is not ContactKind.MOBILE:
                        continue
                    inbound_id, _ = record_inbound(session, provider_sid=f"{tag}{adult_id}-{point.id}",
                                                   from_number=point.value, to_number=None, body=body, source=source)
                    session.commit()
                    process_inbound_message(inbound_id)
        return reply
    run("replies", replies("Child is ill today, sorry", "R"))
    run("help", replies("HELP", "H"))

    def staff_answers() -> None:
        from gateway.pipeline.staff_answer import CannotAnswer, send_answer

        for inbound in session.scalars(select(InboundMessage).where(InboundMessage.adult_id.is_not(None),
                                                                    InboundMessage.keyword.is_(None))).all():
            clock.current += timedelta(seconds=1)
            try:
                send_answer(session, inbound, "Thank you, we hope they feel better.", dsl_id)
            except (ContactRestricted, CannotAnswer):
                session.rollback()
    run("staff_answer", staff_answers)

    def fallbacks() -> None:
        clock.current = datetime.combine(day, time(world.hour, 45), LONDON)
        rows = session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.adult_id.is_not(None),
            OutboxMessage.state.in_((OutboxState.QUEUED, OutboxState.PLANNED)))).all()
        for outbox_id in rows:
            record_permanent_failure(session, outbox_id, "invalid_number", None)
            session.commit()
    run("fallback", fallbacks)
    return written


# The invariants -------------------------------------------------------------------------------------------------
def _check_row(session: Session, row: OutboxMessage, path: str, weekly_cap: int) -> None:
    where = f"{path}: row {row.id} ({row.kind}, {row.channel})"
    if row.adult_id is None:
        assert row.kind in ("dsl_alert", "help_reply"), where
        if row.kind == "dsl_alert":
            assert row.to_address == "dsl@school.invalid", where
        else:
            assert blocked_address_reason(session, row.to_address) is None, where
        return
    assert blocked_reason(session, row.adult_id) is None, f"{where}: sent to a restricted adult"
    assert blocked_address_reason(session, row.to_address) is None, f"{where}: an address a restricted adult holds"
    points = session.scalars(select(ContactPoint).where(ContactPoint.adult_id == row.adult_id)).all()
    if row.channel == "sms":
        assert not any(p.value == row.to_address and p.opted_out_at for p in points), f"{where}: texted after STOP"
    used = ports.current()
    recipient = used.routing.recipient(session, row.adult_id, row.pupil_ids or [])
    assert recipient is not None
    capabilities = used.capabilities()
    if row.channel == "voice":
        assert capabilities.has_voice(row.locale), f"{where}: a call in {row.locale}, which has no voice"
    if row.kind in ROUTINE_KINDS and row.staff_id is None:
        assert not any(p.opted_out_at for p in points), f"{where}: routine message after STOP"
        assert row.send_after is not None, where
        local = row.send_after.astimezone(LONDON)
        insets = set(session.scalars(select(InsetDay.date)))
        assert local.weekday() < 5 and local.date() not in insets, f"{where}: routine message on {local:%A %F}"
        window = routine_window(recipient.adult, used.ladder())
        assert window is not None and window.start <= local.time() < window.end, f"{where}: outside the window"
    if PATHS[path].language_checked and row.kind in KINDS_FROM_TEMPLATES:
        language = language_for(recipient.adult, recipient.pupils, capabilities, row.channel)
        assert (row.locale, row.variant) == (language.locale, language.variant), where


KINDS_FROM_TEMPLATES = ("absence_first_day", "absence_followup", "absence_emergency_contact", "absence_continuing",
                        "reply_thanks", "fresh_start", "positive_attendance", "fortnightly_checkin")


def _check_caps(session: Session, weekly_cap: int) -> None:
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind.in_(ROUTINE_KINDS), OutboxMessage.staff_id.is_(None), OutboxMessage.adult_id.is_not(None),
        OutboxMessage.state.not_in((OutboxState.CANCELLED, OutboxState.SUPPRESSED)),
        ~OutboxMessage.idempotency_key.contains("|"))).all()  # a fallback is the same message again
    by_adult: dict[int, list[OutboxMessage]] = {}
    for row in rows:
        assert row.adult_id is not None
        by_adult.setdefault(row.adult_id, []).append(row)
    for adult_rows in by_adult.values():
        times = sorted(r.send_after for r in adult_rows if r.send_after is not None)
        for index, start in enumerate(times):
            within = [t for t in times[index:] if t - start < timedelta(days=7)]
            assert len(within) <= weekly_cap, f"{len(within)} routine messages within 7 days"
        checkins = sorted(r.send_after for r in adult_rows if r.kind == "fortnightly_checkin" and r.send_after)
        assert all(b - a >= timedelta(days=14) for a, b in pairwise(checkins))


def _check_previews(session: Session, pupil_ids: list[int], adult_ids: list[int]) -> int:
    """The "Send a message" preview shows what routing would send; returns how many previews rendered."""
    from fastapi import HTTPException

    from gateway.web.pages.family import _preview

    shown = 0
    used = ports.current()
    capabilities = used.capabilities()
    for adult_id in adult_ids:
        for channel in (None, "sms", "email", "voice"):
            try:
                preview = _preview(session, pupil_ids[0], adult_id, "absence_followup", channel)
            except HTTPException:
                continue
            if preview["content"] is None:
                continue
            shown += 1
            recipient = used.routing.recipient(session, adult_id, preview["pupil_ids"])
            assert recipient is not None
            language = language_for(recipient.adult, recipient.pupils, capabilities, preview["channel"])
            assert preview["locale"] == language.locale, f"preview for adult {adult_id} on {channel}"
            if preview["channel"] == "voice":
                assert capabilities.has_voice(preview["locale"])
    return shown


# The test -------------------------------------------------------------------------------------------------------
def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "alembic_version":
                connection.execute(table.delete())


@pytest.fixture
def stub_broker() -> Iterator[None]:
    """A broker nobody consumes: rows stay as the paths wrote them."""
    from gateway.pipeline.broker import reset_broker, setup_broker

    reset_broker()
    setup_broker("memory://")
    yield
    reset_broker()


# A household every path writes for, so each run checks every path at least once whatever hypothesis draws:
# a Polish mother with no language of her own (the children's), a Somali father on a landline only (no voice).
EVERY_PATH = World(
    pupils=(("pl", True, "improved"), ("pl", True, "absent_lately")),
    adults=(AdultSpec(None, "standard", ("sms", "email"), (9, 18), True, False, True, False, None, "none", False,
                      True, None),
            AdultSpec("so", "plain", ("voice",), None, False, True, True, False, None, "none", False, True, None),
            AdultSpec("ar", "standard", ("sms",), None, True, False, False, False, None, "no_contact", False, True,
                      None)),
    day=date(2026, 11, 23), hour=16, inset=False)


@example(world=EVERY_PATH)
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_every_path_obeys_routing(world: World, engine: Engine, stub_broker: None) -> None:
    from gateway.config import get_settings

    _empty(engine)
    clock = FixedClock(datetime.combine(world.day, time(8), LONDON))
    gateway_clock.set_clock(clock)
    try:
        with Session(engine, expire_on_commit=False) as session:
            pupil_ids, adult_ids, dsl_id = _build(session, world)
            written = _run_paths(session, world, pupil_ids, adult_ids, dsl_id, clock)
            session.expire_all()
            cap = get_settings().weekly_routine_cap
            checked: dict[str, int] = {}
            named = {"routine": "positive_attendance+fortnightly_checkin", "replies": "thanks"}
            for run_name, row_ids in written.items():
                for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(sorted(row_ids)))):
                    path = _path_of(row, named.get(run_name, run_name))
                    checked[path] = checked.get(path, 0) + 1
                    _check_row(session, row, path, cap)
            _check_caps(session, cap)
            _check_previews(session, pupil_ids, adult_ids)
            if world == EVERY_PATH:  # the household every path writes for: each one was checked
                assert set(checked) >= set(PATHS) - {"dsl_message_alert", "dsl_email"}, checked
            # The daily routine job plans nothing on a weekend or an INSET day.
            if world.day.weekday() >= 5 or world.inset:
                daily = session.scalars(select(OutboxMessage.kind).where(
                    OutboxMessage.id.in_(sorted(written["routine"])))).all()
                assert not set(daily) & {"positive_attendance", "fortnightly_checkin"}
    finally:
        gateway_clock.set_clock(None)


def _path_of(row: OutboxMessage, run_name: str) -> str:
    """Which named path wrote ``row`` (a run can call several: the ladder alerts the DSL, a reply is thanked)."""
    if "|" in row.idempotency_key:
        return "fallback"
    if row.kind == "dsl_alert":
        return "dsl_alert"
    if row.kind == "help_reply":
        return "help"
    if row.kind == "reply_thanks":
        return "thanks"
    if row.kind == "staff_answer":
        return "staff_answer"
    if row.kind == "fresh_start":
        return "fresh_start"
    if row.idempotency_key.startswith("oneoff:"):
        return "one_off"
    return run_name
