"""How one adult can be reached: channel, contact point, language and variant, each choice explained.

The adult's preference order comes first; channels they did not list are kept as last resorts (a
landline-only grandmother who only listed ``sms`` still gets a call). A channel is usable only when it can
work: SMS needs an SMS-capable number that has not failed permanently and an adult who has not texted
STOP; e-mail needs an address that has not bounced; voice needs any phone and is demoted behind a text
channel when text-to-speech cannot speak the adult's language. No address held by an adult who may not be
contacted is ever used, whoever's record it is on (a restriction binds the address, not only the adult).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.routing.capabilities import LocaleCapabilities, primary_subtag
from gateway.routing.facts import AdultFacts, ContactPointFacts
from gateway.routing.language import spoken_language, variant_for
from gateway.routing.plan import NO_USABLE_CONTACT, OPTED_OUT

CHANNELS = ("sms", "email", "voice")
# Why a channel is unusable when its only addresses are held by an adult who may not be contacted.
SHARED_WITH_RESTRICTED_DETAIL = "address shared with a restricted adult"
_POINT_NAMES = {"mobile": "mobile", "landline": "landline", "work": "work phone", "email": "e-mail address"}


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """The channel, address, locale and variant chosen for one adult, and every reason behind them."""

    channel: str
    point: ContactPointFacts
    locale: str
    variant: str
    why: str
    fallback_channels: tuple[str, ...]
    needs_interpreter: bool = False


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No channel can work for this adult: ``reason`` is opted_out or no_usable_contact."""

    reason: str
    detail: str


def is_opted_out(adult: AdultFacts) -> bool:
    """Whether the adult texted STOP (on any of their numbers)."""
    return any(point.opted_out for point in adult.contact_points)


def usable_points(adult: AdultFacts, *, same_day: bool) -> tuple[dict[str, ContactPointFacts], dict[str, str]]:
    """The best contact point per usable channel, and for each unusable channel the reason it cannot work.

    An adult who texted STOP gets no more SMS at all; for routine messages they get nothing (STOP means
    "stop sending me messages"), but a same-day absence still reaches them by voice or e-mail.
    """
    # A Minicom textphone (kind "minicom") is never called or texted: staff see it, routing never uses it.
    points = sorted((p for p in adult.contact_points if p.kind != "minicom"), key=lambda p: (p.position, p.id))
    opted_out = is_opted_out(adult)
    usable: dict[str, ContactPointFacts] = {}
    unusable: dict[str, str] = {}
    if opted_out and not same_day:
        for channel in CHANNELS:
            unusable[channel] = "texted STOP: no routine messages"
        return usable, unusable

    # An address also held by an adult who may not be contacted is never used, whoever's record it is on.
    shared = [p for p in points if p.blocked_by_restriction is not None]
    points = [p for p in points if p.blocked_by_restriction is None]

    sms = [p for p in points if p.sms_capable and p.is_phone]
    if opted_out:
        unusable["sms"] = "texted STOP"
    elif not sms:
        unusable["sms"] = (SHARED_WITH_RESTRICTED_DETAIL if any(p.sms_capable and p.is_phone for p in shared)
                           else "no SMS-capable mobile")
    else:
        working = [p for p in sms if not p.permanently_failed]
        if working:
            usable["sms"] = working[0]
        else:
            unusable["sms"] = "mobile failed permanently"

    emails = [p for p in points if p.kind == "email"]
    working_email = [p for p in emails if not p.permanently_failed]
    if working_email:
        usable["email"] = working_email[0]
    elif emails:
        unusable["email"] = "e-mail bounced"
    else:
        unusable["email"] = (SHARED_WITH_RESTRICTED_DETAIL if any(p.kind == "email" for p in shared)
                             else "no e-mail address")

    phones = [p for p in points if p.is_phone]
    # A call prefers a mobile (carried all day) over a landline or work phone, then the school's order.
    working_phones = sorted((p for p in phones if not p.permanently_failed), key=lambda p: p.kind != "mobile")
    if working_phones:
        usable["voice"] = working_phones[0]
    elif phones:
        unusable["voice"] = "phone failed permanently"
    else:
        unusable["voice"] = (SHARED_WITH_RESTRICTED_DETAIL if any(p.is_phone for p in shared)
                             else "no phone number")
    return usable, unusable


def channel_order(adult: AdultFacts) -> tuple[list[str], list[str]]:
    """(the adult's order with unlisted channels appended as last resorts, notes about it)."""
    notes: list[str] = []
    listed = [c for c in dict.fromkeys(adult.channel_order) if c in CHANNELS]
    order = listed + [c for c in CHANNELS if c not in listed]
    if adult.literacy == "voice" and order[0] != "voice":
        order.remove("voice")
        order.insert(0, "voice")
        notes.append("literacy: voice first")
    return order, notes


def choose_channel(
    adult: AdultFacts,
    *,
    wanted_locale: str | None,
    capabilities: LocaleCapabilities,
    same_day: bool,
    exclude: Iterable[str] = (),
    tried: Iterable[str] = (),
) -> ChannelChoice | Unreachable:
    """Choose how to reach ``adult``; ``exclude`` = channels failed permanently today, ``tried`` = channels
    earlier ladder steps used (a ``next`` step prefers a channel not yet tried)."""
    usable, unusable = usable_points(adult, same_day=same_day)
    order, notes = channel_order(adult)
    excluded = set(exclude)
    for channel in excluded & set(usable):
        unusable[channel] = "failed today"
    candidates = [c for c in order if c in usable and c not in excluded]
    if not candidates:
        detail = "; ".join(f"{c}: {unusable.get(c, 'unusable')}" for c in order)
        only_sms_stopped = is_opted_out(adult) and not usable
        return Unreachable(OPTED_OUT if only_sms_stopped else NO_USABLE_CONTACT, detail)

    already = set(tried)
    if already:
        untried = [c for c in candidates if c not in already]
        if untried:
            notes.append(f"{', '.join(c for c in order if c in already)} tried at an earlier step")
            candidates = untried + [c for c in candidates if c in already]
        else:
            notes.append(f"no untried channel left, {candidates[0]} again")

    locale, locale_note = capabilities.resolve(wanted_locale)
    wanted = wanted_locale or capabilities.default_locale
    writes_their_language = primary_subtag(locale) == primary_subtag(wanted)
    speaks_their_language = not spoken_language(wanted_locale, capabilities).needs_interpreter
    # A text in their own language beats a call in English; without templates in their language either,
    # their preference stands (and a call is flagged for an interpreter below).
    if candidates[0] == "voice" and not speaks_their_language and writes_their_language and len(candidates) > 1:
        candidates = [*candidates[1:], "voice"]
        notes.append(f"no {wanted} voice, so {candidates[0]} in {locale} instead of a call")
    chosen = candidates[0]
    if chosen in already and any(c not in already for c in candidates):
        notes.append(f"{chosen} again")
    language = spoken_language(wanted_locale, capabilities) if chosen == "voice" else None
    needs_interpreter = language is not None and language.needs_interpreter
    if needs_interpreter:
        notes.append(f"no {wanted} voice and no other channel: the call speaks {capabilities.default_locale}; "
                     "staff flagged to call with an interpreter")
        locale, locale_note = capabilities.default_locale, None

    skipped = [f"{c} {unusable[c]}" for c in order[: order.index(chosen)] if c in unusable]
    point = usable[chosen]
    lead = f"preferred channel {chosen}" if chosen == order[0] and not notes else f"{chosen} chosen"
    why = [f"{lead}; {_POINT_NAMES.get(point.kind, point.kind)} on file", *skipped, *notes]
    if chosen not in listed_channels(adult):
        why.append(f"{chosen} is not in their preferences, none of which can work")
    if locale_note:
        why.append(locale_note)
    variant = variant_for(adult, chosen)
    if variant == "plain":
        why.append("plain-language variant")
    fallbacks = tuple(c for c in candidates[1:] if c != chosen)
    return ChannelChoice(chosen, point, locale, variant, "; ".join(why), fallbacks, needs_interpreter)


def listed_channels(adult: AdultFacts) -> set[str]:
    """The channels the adult (or the school for them) listed, plus voice when literacy asks for it."""
    listed = set(adult.channel_order)
    if adult.literacy == "voice":
        listed.add("voice")
    return listed
