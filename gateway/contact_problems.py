"""Contacts to fix: every adult the gateway cannot reach as their preferences ask, and why.

The "keep contact details up to date" of the guidance made daily work for the office. Built on routing's
own reach rules (:func:`gateway.routing.reach.usable_points` over the facts ``routing.loader`` loads), so
this list and what the gateway would actually do never disagree. The reasons:

- no usable phone number or e-mail address at all (every channel says why);
- the preferred channel cannot work (a landline only, but texts are preferred; a bounced e-mail; ...);
- the adult texted STOP;
- a number or address that failed permanently;
- an address shared with an adult who may not be contacted (never used, whoever's record it is on);
- a number or address the import dropped as unusable (a mobile a digit short, no area code, ...);
- only a Minicom textphone (never called or texted: use a relay service).

Adults the DSL has restricted are not listed: nobody is meant to reach them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import DroppedContactPoint
from gateway.routing.facts import AdultFacts, Households
from gateway.routing.loader import load_households
from gateway.routing.reach import CHANNELS, is_opted_out, usable_points

_KIND_NAMES = {"mobile": "mobile", "landline": "landline", "work": "work phone", "email": "e-mail address",
               "minicom": "Minicom textphone"}


@dataclass(frozen=True)
class DroppedPoint:
    """A phone or e-mail an import could not use, as recorded (see ``DroppedContactPoint``)."""

    source: str
    location: str
    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class ContactProblem:
    """One adult the gateway cannot reach as their preferences ask."""

    adult_id: int
    name: str
    pupil_ids: tuple[int, ...]
    pupils: tuple[str, ...]  # UPNs
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"adult_id": self.adult_id, "name": self.name, "pupils": list(self.pupils),
                "reasons": list(self.reasons)}


def adult_problems(adult: AdultFacts, dropped: Sequence[DroppedPoint] = ()) -> list[str]:
    """Why ``adult`` cannot be reached as their preferences ask (empty: nothing to fix)."""
    usable, unusable = usable_points(adult, same_day=True)
    reasons: list[str] = []
    stopped = is_opted_out(adult)
    if not usable:
        detail = "; ".join(f"{channel}: {unusable[channel]}" for channel in CHANNELS if channel in unusable)
        reasons.append(f"no usable phone number or e-mail address ({detail})")
    else:
        preferred = next((c for c in adult.channel_order if c in CHANNELS), CHANNELS[0])
        phones = [p for p in adult.contact_points if p.is_phone]
        if preferred not in usable and not (preferred == "sms" and stopped):
            if preferred == "sms" and phones and not any(p.sms_capable for p in phones):
                reasons.append("landline only, but texts are preferred")
            else:
                reasons.append(f"prefers {preferred}, but {unusable.get(preferred, 'it cannot work')}")
    if stopped:
        reasons.append("texted STOP: no texts, and no routine messages at all")
    for point in sorted(adult.contact_points, key=lambda p: (p.position, p.id)):
        name = _KIND_NAMES.get(point.kind, point.kind)
        if point.permanently_failed:
            reasons.append(f"{name} {point.value} failed permanently")
        if point.blocked_by_restriction is not None:
            reasons.append(f"{name} {point.value} is shared with an adult who may not be contacted: never used")
    for item in dropped:
        why = item.reason if item.value in item.reason else f"{item.value!r}: {item.reason}"
        reasons.append(f"{item.field} dropped at import: {why} ({item.source}, {item.location})")
    if not usable and any(p.kind == "minicom" for p in adult.contact_points):
        reasons.append("only a Minicom textphone, which the gateway never calls or texts: use a relay service")
    return reasons


def _dropped_by_adult(session: Session) -> dict[int, list[DroppedPoint]]:
    found: dict[int, list[DroppedPoint]] = defaultdict(list)
    rows = session.execute(select(DroppedContactPoint.adult_id, DroppedContactPoint.source,
                                  DroppedContactPoint.location, DroppedContactPoint.field,
                                  DroppedContactPoint.value, DroppedContactPoint.reason)
                           .order_by(DroppedContactPoint.id))
    for adult_id, *values in rows:
        found[adult_id].append(DroppedPoint(*values))
    return found


def problems_in(households: Households, dropped: dict[int, list[DroppedPoint]]) -> list[ContactProblem]:
    """The contact problems of every adult in ``households`` the DSL has not restricted, by surname."""
    problems: list[ContactProblem] = []
    for adult in households.adults.values():
        if households.standing(adult.id).forbidden_reason is not None:
            continue  # restricted: not to be reached, so nothing to fix here
        reasons = adult_problems(adult, dropped.get(adult.id, ()))
        if not reasons:
            continue
        pupil_ids = tuple(sorted({link.pupil_id for link in households.links_of_adult(adult.id)
                                  if link.pupil_id in households.pupils}))
        problems.append(ContactProblem(adult.id, adult.full_name, pupil_ids,
                                       tuple(households.pupils[p].upn for p in pupil_ids), tuple(reasons)))
    problems.sort(key=lambda p: (p.name.split()[-1].casefold() if p.name else "", p.name.casefold(), p.adult_id))
    return problems


def find_contact_problems(session: Session) -> list[ContactProblem]:
    """Every adult the gateway cannot reach as their preferences ask, with the reasons."""
    return problems_in(load_households(session), _dropped_by_adult(session))
