"""The pipeline's one seam onto the parts it drives: rendering, routing, channels and the ladder file.

Everything the pipeline needs from another package goes through a function here, imported lazily, so the
workflows can be tested with stand-ins (``override(...)``) and so importing the pipeline never drags in a
vendor SDK. Production code never overrides anything.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from channels.base import Channel, OutgoingMessage
from channels.status import StatusUpdate
from gateway.models import HalfTerm
from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.facts import AdultFacts, Households, PupilFacts
from gateway.routing.ladder import EscalationLadder
from gateway.routing.plan import Plan

_overrides: dict[str, Any] = {}
_channels_lock = threading.Lock()
_channel_set: ChannelPort | None = None


@contextmanager
def override(**stand_ins: Any) -> Iterator[None]:
    """Replace collaborators (``render``, ``channels``, ``plan_absence``, ``ladder``, ...) for a test."""
    global _channel_set
    saved = dict(_overrides)
    _overrides.update(stand_ins)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)
        _channel_set = None


def _module(name: str) -> Any:
    return importlib.import_module(name)


# Rendering -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Content:
    """The rendered snapshot an outbox row keeps."""

    text: str
    subject: str | None = None
    html: str | None = None
    voice_language: str | None = None
    voice_name: str | None = None
    voice_prompt: str | None = None


def render(kind: str, *, locale: str, channel: str, variant: str, context: Mapping[str, Any]) -> Content:
    """Render one message through ``gateway.rendering.render_message``."""
    if "render" in _overrides:
        result: Content = _overrides["render"](kind, locale=locale, channel=channel, variant=variant,
                                                context=context)
        return result
    rendered = _module("gateway.rendering").render_message(kind, locale=locale, channel=channel, variant=variant,
                                                            context=context)
    voice = rendered.voice
    return Content(
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html,
        voice_language=getattr(voice, "language", None) if voice else None,
        voice_name=getattr(voice, "voice", None) or getattr(voice, "name", None) if voice else None,
        voice_prompt=getattr(voice, "prompt", None) if voice else None,
    )


def keypad_codes() -> Mapping[str, str | None]:
    """Keypad digit -> suggested attendance code (``None``: "please call me")."""
    if "keypad_codes" in _overrides:
        codes: Mapping[str, str | None] = _overrides["keypad_codes"]
        return codes
    try:
        codes = _module("gateway.rendering").KEYPAD_CODES
    except (ImportError, AttributeError):
        codes = {"1": "I", "2": "M", "3": None}
    return codes


# Routing ---------------------------------------------------------------------------------------------------
def load_ladder() -> EscalationLadder:
    """The EscalationLadder from the configured file (routing's object, passed back into plan_absence)."""
    if "ladder" in _overrides:
        ladder: EscalationLadder = _overrides["ladder"]
        return ladder
    from gateway.config import get_settings

    return EscalationLadder.load(get_settings().escalation_path())


def plan_absence(session: Session, *, pupil_ids: list[int], on: date, step: int, now: datetime,
                 exclude_channels: Mapping[int, set[str]], tried_channels: Mapping[int, set[str]],
                 continuing_pupil_ids: set[int]) -> Plan:
    """routing.plan_absence for ``pupil_ids`` (one case's pupils); returns routing's ``Plan``."""
    if "plan_absence" in _overrides:
        overridden: Plan = _overrides["plan_absence"](session, pupil_ids=pupil_ids, on=on, step=step, now=now,
                                          exclude_channels=exclude_channels, tried_channels=tried_channels,
                                          continuing_pupil_ids=continuing_pupil_ids)
        return overridden
    from gateway.config import get_settings
    from gateway.routing import plan_absence as plan
    from gateway.routing.loader import load_households

    households = load_households(session, pupil_ids=pupil_ids)
    return plan(households, date=on, step=step, ladder=load_ladder(), now=now,
                                tz=get_settings().tz, capabilities=locale_capabilities(),
                                exclude_channels=dict(exclude_channels), tried_channels=dict(tried_channels),
                                absent_pupil_ids=pupil_ids, continuing_pupil_ids=continuing_pupil_ids)


def plan_absence_steps(session: Session, *, pupil_ids: list[int], on: date, steps: Sequence[int], now: datetime,
                       exclude_channels: Mapping[int, set[str]]) -> tuple[Households, list[Plan]]:
    """(routing's ``Households`` for ``pupil_ids``, one routing ``Plan`` per ladder step of ``steps``), from one
    load: whether anyone can still be reached is routing's decision (``gateway.pipeline.reachability``)."""
    if "plan_absence_steps" in _overrides:
        result: tuple[Households, list[Plan]] = _overrides["plan_absence_steps"](
            session, pupil_ids=pupil_ids, on=on, steps=steps, now=now, exclude_channels=exclude_channels)
        return result
    from gateway.config import get_settings
    from gateway.routing import plan_absence as plan
    from gateway.routing.loader import load_households

    households = load_households(session, pupil_ids=pupil_ids)
    ladder, tz, capabilities = load_ladder(), get_settings().tz, locale_capabilities()
    plans = [plan(households, date=on, step=step, ladder=ladder, now=now, tz=tz,
                                  capabilities=capabilities, exclude_channels=dict(exclude_channels),
                                  tried_channels={}, absent_pupil_ids=pupil_ids) for step in steps]
    return households, plans


def plan_fresh_start(session: Session, *, half_term: HalfTerm, now: datetime,
                     recent_counts: Mapping[int, int]) -> Plan:
    """routing.plan_fresh_start for the ``HalfTerm`` row ``half_term``; returns routing's ``Plan``."""
    if "plan_fresh_start" in _overrides:
        overridden: Plan = _overrides["plan_fresh_start"](session, half_term=half_term, now=now,
                                                          recent_counts=recent_counts)
        return overridden
    from gateway.config import get_settings
    from gateway.routing.school_plans import plan_fresh_start_for_school

    settings = get_settings()
    # Planned in batches of adults, so a large trust never holds every household in memory at once.
    return plan_fresh_start_for_school(
        session, on_or_after=half_term.start, now=now, tz=settings.tz, ladder=load_ladder(),
        capabilities=locale_capabilities(), recent_counts=dict(recent_counts),
        weekly_cap=settings.weekly_routine_cap)


def locale_capabilities() -> LocaleCapabilities:
    """The catalogs and voices routing decides languages from (built once per process)."""
    if "capabilities" in _overrides:
        capabilities: LocaleCapabilities = _overrides["capabilities"]
        return capabilities
    return _rendering_capabilities()


@functools.cache
def _rendering_capabilities() -> LocaleCapabilities:
    from gateway.routing.capabilities import capabilities_from_rendering

    return capabilities_from_rendering()


@dataclass(frozen=True)
class Recipient:
    """One adult as routing sees them (facts, the children a message concerns) and whether they may be
    contacted at all: what routing's one-adult decisions (``gateway.routing.recipient``) are asked with."""

    adult: AdultFacts
    pupils: tuple[PupilFacts, ...]
    forbidden: str | None  # restricted / awaiting_dsl_approval, else None


def load_recipient(session: Session, adult_id: int, pupil_ids: Sequence[int] = ()) -> Recipient | None:
    """Routing's facts for ``adult_id`` (all their links, so restrictions count everywhere) and the children
    of ``pupil_ids`` (all their linked children when empty); None when the adult does not exist or has no link.
    Pending changes are flushed first, so a failure recorded a moment ago is seen."""
    from gateway.routing.delivery import ordered_pupils
    from gateway.routing.loader import load_households_for_adults

    session.flush()
    households = load_households_for_adults(session, adult_id, adult_id)
    adult = households.adults.get(adult_id)
    if adult is None:
        return None
    wanted = [pid for pid in pupil_ids if pid in households.pupils] or [
        link.pupil_id for link in households.links_of_adult(adult_id) if link.pupil_id in households.pupils]
    pupils = tuple(ordered_pupils(households, wanted))  # by UPN, as the planners order them
    return Recipient(adult, pupils, households.standing(adult_id).forbidden_reason)


def load_inset_days(session: Session, start: date) -> frozenset[date]:
    """INSET days from ``start`` on (routing never times a routine message on one)."""
    from gateway.routing.loader import load_inset_days as load

    return load(session, start)


# Channels --------------------------------------------------------------------------------------------------
class ChannelPort(Protocol):
    """What the pipeline needs of the channels: one adapter per channel, and close() (a ``ChannelSet``, or a
    test's in-memory stand-ins)."""

    sms: Channel
    email: Channel
    voice: Channel

    def close(self) -> None: ...


def channels() -> ChannelPort:
    """The process's ChannelSet (``.sms``, ``.email``, ``.voice``), built once from settings."""
    global _channel_set
    if "channels" in _overrides:
        stand_in: ChannelPort = _overrides["channels"]
        return stand_in
    with _channels_lock:
        if _channel_set is None:
            from channels.factory import build_channels  # lazily: the vendor SDKs load only when sending
            from gateway.channel_config import channel_config_from_settings
            from gateway.config import get_settings

            _channel_set = build_channels(channel_config_from_settings(get_settings()))
        return _channel_set


def close_channels() -> None:
    """Close the process's channels (worker shutdown)."""
    global _channel_set
    with _channels_lock:
        if _channel_set is not None:
            _channel_set.close()
        _channel_set = None


def outgoing_message(**fields: Any) -> OutgoingMessage:
    """A ``channels.base.OutgoingMessage`` with the given fields."""
    return OutgoingMessage(**fields)


def parse_status_callback(params: Mapping[str, str]) -> StatusUpdate:
    """channels.status.parse_status_callback (provider_id, status, error_code, permanent_reason, answered_by)."""
    if "parse_status_callback" in _overrides:
        update: StatusUpdate = _overrides["parse_status_callback"](params)
        return update
    from channels.status import parse_status_callback as parse

    return parse(params)


def voice_twiml(kind: str, **fields: Any) -> str:
    """TwiML from channels.twilio_voice (``call``, ``voicemail`` or ``gather_reply``)."""
    if "voice_twiml" in _overrides:
        result: str = _overrides["voice_twiml"](kind, **fields)
        return result
    function = getattr(_module("channels.twilio_voice"), f"{kind}_twiml")
    text: str = function(**fields)
    return text
