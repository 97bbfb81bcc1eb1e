"""One adult at a time: the decisions every path that writes an outbox row asks routing for.

The planners (``absence``, ``routine``, ``fresh_start``) decide for a whole audience; the paths that write one
row for one adult (a fallback after a failure, a staff one-off, a thank-you, a HELP answer, the web preview)
ask the functions here, so that nothing outside routing ever decides a channel, an address, a locale, a
variant or a send time:

* ``language.language_for``: the adult's language and literacy -> the locale and variant of a message on a
  channel (the only place this is decided; ``reach.choose_channel`` uses it too), and
  ``language.language_explained``: the language the gateway will use and why ("Polish, from Ola's home
  language");
* ``next_point``: the next usable channel and address after a channel failed;
* ``one_off_choice``: the channel and address of a message staff send now;
* ``reply_point``: where a reply (thanks, HELP) goes: the address the adult wrote from, if routing may use it;
* ``reply_send_at`` / ``routine_fallback_send_at``: when a reply or a routine fallback may go.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.routing.capabilities import LocaleCapabilities
from gateway.routing.facts import AdultFacts, ContactPointFacts, PupilFacts
from gateway.routing.ladder import EscalationLadder, local_instant
from gateway.routing.language import LanguageChoice, language_for
from gateway.routing.reach import CHANNELS, ChannelChoice, Unreachable, choose_channel, usable_points
from gateway.routing.timing import routine_send_at, routine_window

# Routine messages: never at weekends or on INSET days, only inside the adult's window, under the weekly cap.
ROUTINE_KINDS = ("fresh_start", "positive_attendance", "fortnightly_checkin")


def next_point(
    adult: AdultFacts,
    *,
    channels: Sequence[str],
    tried: Collection[str],
    same_day: bool,
    routine: bool,
    pupils: Sequence[PupilFacts],
    capabilities: LocaleCapabilities,
) -> tuple[str, ContactPointFacts, LanguageChoice] | None:
    """The first of ``channels`` (a failed row's fallback order) not in ``tried`` that routing can use for
    ``adult`` now, its address and the message's language; None when none is left.

    A routine message is never moved onto a call the adult's language has no voice for."""
    usable, _unusable = usable_points(adult, same_day=same_day)
    for channel in channels:
        if channel in tried or channel not in usable:
            continue
        language = language_for(adult, pupils, capabilities, channel)
        if routine and language.needs_interpreter:
            continue
        return channel, usable[channel], language
    return None


def one_off_choice(
    adult: AdultFacts, pupils: Sequence[PupilFacts], capabilities: LocaleCapabilities, channel: str | None
) -> ChannelChoice | Unreachable:
    """How a message staff send now reaches ``adult``: on ``channel`` when given (never another), else on
    the adult's first usable channel, as the absence ladder would choose it (STOP stops only texts)."""
    from gateway.routing.delivery import wanted_locale

    others = [c for c in CHANNELS if c != channel] if channel else []
    return choose_channel(adult, wanted_locale=wanted_locale(adult, pupils), capabilities=capabilities,
                          same_day=True, exclude=others)


def reply_point(adult: AdultFacts, address: str, channel: str, *, exact: bool = False) -> ContactPointFacts | None:
    """Where a reply on ``channel`` to a message from ``address`` goes: that address when it is the adult's
    and routing may use it for ``channel``; otherwise (unless ``exact``) the adult's usable address for
    ``channel`` today; None when there is none. An opted-out, failed or restricted-held address is never used."""
    key = _address_key(address)
    usable, _unusable = usable_points(adult, same_day=True)
    for point in adult.contact_points:
        if _address_key(point.value) != key or point.blocked_by_restriction is not None or point.permanently_failed:
            continue
        if channel == "sms" and point.is_phone and point.sms_capable and not point.opted_out:
            return point
        if channel == "email" and point.kind == "email":
            return point
    return None if exact else usable.get(channel)


def _address_key(address: str) -> str:
    text = address.strip()
    return text.lower() if "@" in text else text


def reply_send_at(now: datetime, ladder: EscalationLadder, tz: ZoneInfo) -> datetime:
    """When a reply to the adult (a thank-you, a HELP answer) goes: at once within the school's hours
    (``earliest``..``latest``), else at ``earliest`` on the next morning."""
    local = now.astimezone(tz)
    opens = local_instant(datetime.combine(local.date(), ladder.earliest), tz)
    closes = local_instant(datetime.combine(local.date(), ladder.latest), tz)
    if local < opens:
        return opens
    if local < closes:
        return now
    return local_instant(datetime.combine(local.date() + timedelta(days=1), ladder.earliest), tz)


def routine_fallback_send_at(
    adult: AdultFacts, now: datetime, ladder: EscalationLadder, tz: ZoneInfo, inset_days: Collection[date]
) -> datetime | None:
    """When a routine message moved to another channel may go: inside the adult's window on a school day
    (None when their window lies wholly at night)."""
    window = routine_window(adult, ladder)
    if window is None:
        return None
    return routine_send_at(now, window, tz, inset_days)[0]


def is_school_day(day: date, inset_days: Collection[date]) -> bool:
    """A weekday that is not an INSET day (routine messages go only on these)."""
    return day.weekday() < 5 and day not in inset_days
