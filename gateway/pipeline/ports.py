"""The pipeline's ports: what it needs of rendering, routing, the channels, Twilio's webhooks and the work
queue, each a small typed ``Protocol``, and ``Ports``, one of each: the set a process runs with.

The production implementations are built in one place, :mod:`gateway.wiring` (``production_ports()``), which
the worker, the web app and the CLI share: :func:`current` builds them on first use in a process that installed
nothing else. A test installs its own set for a while (``with using(replace(current(), render=fake)):``) or
passes a fake to the function under test. Importing this module loads no vendor SDK and no other part.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from channels.base import Channel
from channels.status import StatusUpdate
from gateway.models import HalfTerm
from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.facts import AdultFacts, Households, PupilFacts
from gateway.routing.ladder import EscalationLadder
from gateway.routing.plan import Plan

ChannelName = Literal["sms", "email", "voice"]
CHANNEL_NAMES: tuple[ChannelName, ...] = ("sms", "email", "voice")
# A render context: the plain mapping gateway/rendering/context.py documents (names, dates, numbers, lists).
RenderContext = Mapping[str, object]


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


class Renderer(Protocol):
    """One message of ``kind`` in ``locale`` on ``channel`` (``gateway.rendering.render_message``)."""

    def __call__(self, kind: str, *, locale: str, channel: str, variant: str, context: RenderContext) -> Content: ...


# Routing ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipient:
    """One adult as routing sees them (facts, the children a message concerns) and whether they may be
    contacted at all: what routing's one-adult decisions (``gateway.routing.recipient``) are asked with."""

    adult: AdultFacts
    pupils: tuple[PupilFacts, ...]
    forbidden: str | None  # restricted / awaiting_dsl_approval, else None


class LadderSource(Protocol):
    """The escalation ladder in force (``config/escalation.toml`` in production)."""

    def __call__(self) -> EscalationLadder: ...


class CapabilitiesSource(Protocol):
    """The catalogs and voices routing decides languages from."""

    def __call__(self) -> LocaleCapabilities: ...


class RoutingPort(Protocol):
    """Routing's decisions over the database's facts: the planners for an audience, one adult's facts for the
    one-adult decisions, and the INSET days routine messages avoid. The ladder is passed in by the caller."""

    def plan_absence(self, session: Session, *, pupil_ids: Sequence[int], on: date, step: int, now: datetime,
                     ladder: EscalationLadder, exclude_channels: Mapping[int, set[str]],
                     tried_channels: Mapping[int, set[str]], continuing_pupil_ids: set[int],
                     contacted_adult_ids: Collection[int] | None = None) -> Plan: ...

    def plan_absence_steps(self, session: Session, *, pupil_ids: Sequence[int], on: date, steps: Sequence[int],
                           now: datetime, ladder: EscalationLadder,
                           exclude_channels: Mapping[int, set[str]]) -> tuple[Households, list[Plan]]: ...

    def plan_fresh_start(self, session: Session, *, half_term: HalfTerm, now: datetime, ladder: EscalationLadder,
                         recent_counts: Mapping[int, int]) -> Plan: ...

    def recipient(self, session: Session, adult_id: int, pupil_ids: Sequence[int] = ()) -> Recipient | None: ...

    def inset_days(self, session: Session, start: date) -> frozenset[date]: ...


# Channels and Twilio ---------------------------------------------------------------------------------------
class ChannelPort(Protocol):
    """One adapter per channel, and close(): a ``channels.factory.ChannelSet`` or a test's stand-ins."""

    @property
    def sms(self) -> Channel: ...

    @property
    def email(self) -> Channel: ...

    @property
    def voice(self) -> Channel: ...

    def close(self) -> None: ...


def channel_of(channels: ChannelPort, name: str) -> Channel:
    """The adapter for channel ``name`` (an outbox row's ``channel``)."""
    if name == "sms":
        return channels.sms
    if name == "email":
        return channels.email
    if name == "voice":
        return channels.voice
    raise ValueError(f"unknown channel {name!r}")


def channel_name(name: str) -> ChannelName:
    """``name`` as a channel name (an outbox row's ``channel`` is text in the database)."""
    for known in CHANNEL_NAMES:
        if name == known:
            return known
    raise ValueError(f"unknown channel {name!r}")


class StatusParser(Protocol):
    """A provider's status callback parameters -> ``channels.status.StatusUpdate`` (ValueError when invalid)."""

    def __call__(self, params: Mapping[str, str]) -> StatusUpdate: ...


class TwimlBuilder(Protocol):
    """The TwiML a call's webhooks answer with (``channels.twilio_voice``)."""

    def call(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None,
             gather_action_url: str, prompt: str) -> str: ...

    def voicemail(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None) -> str: ...

    def gather_reply(self, *, thanks_text: str, voice_language: str | None, voice_name: str | None) -> str: ...


# The work queue --------------------------------------------------------------------------------------------
class WorkQueue(Protocol):
    """Hands committed ids to the workers (the Dramatiq actors in production). Handing an id over twice is
    harmless: every actor is idempotent."""

    def send(self, outbox_ids: Sequence[int]) -> int: ...

    def process_inbound(self, inbound_id: int) -> None: ...

    def reconcile(self, outbox_ids: Sequence[int]) -> None: ...


# The set ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ports:
    """One implementation of each port: what the pipeline, the webhooks and the pages run with."""

    render: Renderer
    channels: ChannelPort
    routing: RoutingPort
    ladder: LadderSource
    capabilities: CapabilitiesSource
    parse_status: StatusParser
    twiml: TwimlBuilder
    keypad_codes: Mapping[str, str | None]  # keypad digit -> suggested attendance code (None: "call me")
    queue: WorkQueue


_lock = threading.Lock()
_installed: Ports | None = None


def current() -> Ports:
    """The ports this process runs with: the installed set, else production's (built once, on first use)."""
    global _installed
    ports = _installed
    if ports is not None:
        return ports
    from gateway.wiring import production_ports  # the composition root; imported only when nothing was installed

    with _lock:
        if _installed is None:
            _installed = production_ports()
        return _installed


def install(ports: Ports | None) -> Ports | None:
    """Make ``ports`` this process's set (None: production's again on next use); returns the set it replaced."""
    global _installed
    with _lock:
        previous, _installed = _installed, ports
    return previous


@contextmanager
def using(ports: Ports) -> Iterator[Ports]:
    """Run with ``ports`` inside the block (a test's fakes), then with the set that was there before."""
    previous = install(ports)
    try:
        yield ports
    finally:
        install(previous)
