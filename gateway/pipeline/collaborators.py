"""The pipeline's one seam onto the parts it drives: rendering, routing, channels and the ladder file.

Everything the pipeline needs from another package goes through a function here, imported lazily, so the
workflows can be tested with stand-ins (``override(...)``) and so importing the pipeline never drags in a
vendor SDK. Production code never overrides anything.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

_overrides: dict[str, Any] = {}
_channels_lock = threading.Lock()
_channel_set: Any = None


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
def load_ladder() -> Any:
    """The EscalationLadder from the configured file (routing's object, passed back into plan_absence)."""
    if "ladder" in _overrides:
        return _overrides["ladder"]
    from gateway.config import get_settings

    return _module("gateway.routing.ladder").EscalationLadder.load(get_settings().escalation_path())


def plan_absence(session: Session, *, pupil_ids: list[int], on: date, step: int, now: datetime,
                 exclude_channels: Mapping[int, set[str]], tried_channels: Mapping[int, set[str]],
                 continuing_pupil_ids: set[int]) -> Any:
    """routing.plan_absence for ``pupil_ids`` (one case's pupils); returns routing's ``Plan``."""
    if "plan_absence" in _overrides:
        return _overrides["plan_absence"](session, pupil_ids=pupil_ids, on=on, step=step, now=now,
                                          exclude_channels=exclude_channels, tried_channels=tried_channels,
                                          continuing_pupil_ids=continuing_pupil_ids)
    from gateway.config import get_settings

    routing = _module("gateway.routing")
    households = _module("gateway.routing.loader").load_households(session, pupil_ids=pupil_ids)
    return routing.plan_absence(households, date=on, step=step, ladder=load_ladder(), now=now,
                                tz=get_settings().tz, capabilities=routing.capabilities_from_rendering(),
                                exclude_channels=dict(exclude_channels), tried_channels=dict(tried_channels),
                                absent_pupil_ids=pupil_ids, continuing_pupil_ids=continuing_pupil_ids)


def plan_fresh_start(session: Session, *, half_term: Any, now: datetime, recent_counts: Mapping[int, int]) -> Any:
    """routing.plan_fresh_start for the ``HalfTerm`` row ``half_term``; returns routing's ``Plan``."""
    if "plan_fresh_start" in _overrides:
        return _overrides["plan_fresh_start"](session, half_term=half_term, now=now, recent_counts=recent_counts)
    from gateway.config import get_settings

    settings = get_settings()
    routing = _module("gateway.routing")
    school_plans = _module("gateway.routing.school_plans")
    # Planned in batches of adults, so a large trust never holds every household in memory at once.
    return school_plans.plan_fresh_start_for_school(
        session, on_or_after=half_term.start, now=now, tz=settings.tz, ladder=load_ladder(),
        capabilities=routing.capabilities_from_rendering(), recent_counts=dict(recent_counts),
        weekly_cap=settings.weekly_routine_cap)


# Channels --------------------------------------------------------------------------------------------------
def channels() -> Any:
    """The process's ChannelSet (``.sms``, ``.email``, ``.voice``), built once from settings."""
    global _channel_set
    if "channels" in _overrides:
        return _overrides["channels"]
    with _channels_lock:
        if _channel_set is None:
            from gateway.config import get_settings

            config = _module("gateway.channel_config").channel_config_from_settings(get_settings())
            _channel_set = _module("channels.factory").build_channels(config)
        return _channel_set


def close_channels() -> None:
    """Close the process's channels (worker shutdown)."""
    global _channel_set
    with _channels_lock:
        if _channel_set is not None:
            _channel_set.close()
        _channel_set = None


def outgoing_message(**fields: Any) -> Any:
    """A ``channels.base.OutgoingMessage`` with the given fields."""
    return _module("channels.base").OutgoingMessage(**fields)


def parse_status_callback(params: Mapping[str, str]) -> Any:
    """channels.status.parse_status_callback (provider_id, status, error_code, permanent_reason, answered_by)."""
    if "parse_status_callback" in _overrides:
        return _overrides["parse_status_callback"](params)
    return _module("channels.status").parse_status_callback(params)


def voice_twiml(kind: str, **fields: Any) -> str:
    """TwiML from channels.twilio_voice (``call``, ``voicemail`` or ``gather_reply``)."""
    if "voice_twiml" in _overrides:
        result: str = _overrides["voice_twiml"](kind, **fields)
        return result
    function = getattr(_module("channels.twilio_voice"), f"{kind}_twiml")
    text: str = function(**fields)
    return text
