"""The composition root: the production implementation of every pipeline port (``gateway.pipeline.ports``),
built in this one place and shared by the worker, the web app and the CLI (``ports.current()`` builds them on
first use; a test installs its own ``Ports`` instead).

Vendor SDKs load lazily: the channels are built on first send, the TwiML builder imports Twilio's helper
library on first call, and the actors (which need a broker) on first enqueue.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from channels.base import Channel
from channels.status import StatusUpdate, parse_status_callback
from gateway.models import HalfTerm
from gateway.pipeline.ports import (
    ChannelPort,
    Content,
    Ports,
    Recipient,
    RenderContext,
    channel_name,
)
from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.facts import Households
from gateway.routing.ladder import EscalationLadder
from gateway.routing.plan import Plan


# Rendering -------------------------------------------------------------------------------------------------
def render_template(kind: str, *, locale: str, channel: str, variant: str, context: RenderContext) -> Content:
    """Render one message through ``gateway.rendering.render_message`` into the snapshot a row keeps."""
    from gateway.rendering import render_message

    rendered = render_message(kind, locale=locale, channel=channel_name(channel),
                              variant="plain" if variant == "plain" else "standard", context=context)
    voice = rendered.voice
    return Content(text=rendered.text, subject=rendered.subject, html=rendered.html,
                   voice_language=voice.language if voice else None, voice_name=voice.voice if voice else None,
                   voice_prompt=voice.prompt if voice else None)


def keypad_codes() -> Mapping[str, str | None]:
    """Keypad digit -> suggested attendance code (``None``: "please call me")."""
    from gateway.rendering import KEYPAD_CODES

    return KEYPAD_CODES


# Routing ---------------------------------------------------------------------------------------------------
def ladder_from_settings() -> EscalationLadder:
    """The EscalationLadder from the configured file."""
    from gateway.config import get_settings

    return EscalationLadder.load(get_settings().escalation_path())


@functools.cache
def rendering_capabilities() -> LocaleCapabilities:
    """The catalogs and voices rendering has (built once per process)."""
    from gateway.routing.capabilities import capabilities_from_rendering

    return capabilities_from_rendering()


class DatabaseRouting:
    """Routing's pure planners fed from the database (``gateway.routing.loader``) and the settings."""

    def plan_absence(self, session: Session, *, pupil_ids: Sequence[int], on: date, step: int, now: datetime,
                     ladder: EscalationLadder, exclude_channels: Mapping[int, set[str]],
                     tried_channels: Mapping[int, set[str]], continuing_pupil_ids: set[int],
                     contacted_adult_ids: Collection[int] | None = None) -> Plan:
        from gateway.config import get_settings
        from gateway.routing import plan_absence
        from gateway.routing.loader import load_households

        households = load_households(session, pupil_ids=list(pupil_ids))
        return plan_absence(households, date=on, step=step, ladder=ladder, now=now, tz=get_settings().tz,
                            capabilities=rendering_capabilities(), exclude_channels=dict(exclude_channels),
                            tried_channels=dict(tried_channels), absent_pupil_ids=list(pupil_ids),
                            continuing_pupil_ids=continuing_pupil_ids, contacted_adult_ids=contacted_adult_ids)

    def plan_absence_steps(self, session: Session, *, pupil_ids: Sequence[int], on: date, steps: Sequence[int],
                           now: datetime, ladder: EscalationLadder,
                           exclude_channels: Mapping[int, set[str]]) -> tuple[Households, list[Plan]]:
        from gateway.config import get_settings
        from gateway.routing import plan_absence
        from gateway.routing.loader import load_households

        households = load_households(session, pupil_ids=list(pupil_ids))
        tz, capabilities = get_settings().tz, rendering_capabilities()
        plans = [plan_absence(households, date=on, step=step, ladder=ladder, now=now, tz=tz,
                              capabilities=capabilities, exclude_channels=dict(exclude_channels),
                              tried_channels={}, absent_pupil_ids=list(pupil_ids)) for step in steps]
        return households, plans

    def plan_fresh_start(self, session: Session, *, half_term: HalfTerm, now: datetime, ladder: EscalationLadder,
                         recent_counts: Mapping[int, int]) -> Plan:
        from gateway.config import get_settings
        from gateway.routing.school_plans import plan_fresh_start_for_school

        settings = get_settings()
        # Planned in batches of adults, so a large trust never holds every household in memory at once.
        return plan_fresh_start_for_school(
            session, on_or_after=half_term.start, now=now, tz=settings.tz, ladder=ladder,
            capabilities=rendering_capabilities(), recent_counts=dict(recent_counts),
            weekly_cap=settings.weekly_routine_cap)

    def recipient(self, session: Session, adult_id: int, pupil_ids: Sequence[int] = ()) -> Recipient | None:
        """Routing's facts for ``adult_id`` (all their links, so restrictions count everywhere) and the children
        of ``pupil_ids`` (all their linked children when empty); None when the adult does not exist or has no
        link. Pending changes are flushed first, so a failure recorded a moment ago is seen."""
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

    def inset_days(self, session: Session, start: date) -> frozenset[date]:
        from gateway.routing.loader import load_inset_days

        return load_inset_days(session, start)


# Channels and Twilio ---------------------------------------------------------------------------------------
class LazyChannels:
    """The process's ``ChannelSet``, built from the settings on first use (the vendor SDKs load only when
    something is sent); close() closes it, and the next use builds a fresh one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: ChannelPort | None = None

    def _set(self) -> ChannelPort:
        with self._lock:
            if self._built is None:
                from channels.factory import build_channels
                from gateway.channel_config import channel_config_from_settings
                from gateway.config import get_settings

                self._built = build_channels(channel_config_from_settings(get_settings()))
            return self._built

    @property
    def sms(self) -> Channel:
        return self._set().sms

    @property
    def email(self) -> Channel:
        return self._set().email

    @property
    def voice(self) -> Channel:
        return self._set().voice

    def close(self) -> None:
        with self._lock:
            built, self._built = self._built, None
        if built is not None:
            built.close()


def parse_status(params: Mapping[str, str]) -> StatusUpdate:
    """channels.status.parse_status_callback."""
    return parse_status_callback(params)


class TwilioTwiml:
    """TwiML from ``channels.twilio_voice`` (Twilio's helper library, imported on first use)."""

    def call(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None,
             gather_action_url: str, prompt: str) -> str:
        from channels.twilio_voice import call_twiml

        return call_twiml(spoken_text, voice_language, voice_name, gather_action_url, prompt)

    def voicemail(self, *, spoken_text: str, voice_language: str | None, voice_name: str | None) -> str:
        from channels.twilio_voice import voicemail_twiml

        return voicemail_twiml(spoken_text, voice_language, voice_name)

    def gather_reply(self, *, thanks_text: str, voice_language: str | None, voice_name: str | None) -> str:
        from channels.twilio_voice import gather_reply_twiml

        return gather_reply_twiml(thanks_text, voice_language, voice_name)


# The work queue --------------------------------------------------------------------------------------------
class DramatiqQueue:
    """The Dramatiq actors (``gateway.pipeline.actors``, declared on the process's broker on first use)."""

    def send(self, outbox_ids: Sequence[int]) -> int:
        from gateway.pipeline.actors import enqueue_sends

        return enqueue_sends(outbox_ids)

    def process_inbound(self, inbound_id: int) -> None:
        from gateway.pipeline.actors import enqueue_inbound

        enqueue_inbound(inbound_id)

    def reconcile(self, outbox_ids: Sequence[int]) -> None:
        from gateway.pipeline.actors import enqueue_reconcile

        enqueue_reconcile(outbox_ids)


def production_ports() -> Ports:
    """Every port's production implementation."""
    return Ports(render=render_template, channels=LazyChannels(), routing=DatabaseRouting(),
                 ladder=ladder_from_settings, capabilities=rendering_capabilities, parse_status=parse_status,
                 twiml=TwilioTwiml(), keypad_codes=keypad_codes(), queue=DramatiqQueue())
