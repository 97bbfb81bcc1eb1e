"""Shared steps of every planner: the language an adult wants, and turning decisions into plan entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from gateway.routing.facts import AdultFacts, Households, PupilFacts
from gateway.routing.language import wanted_language
from gateway.routing.plan import Delivery, Suppression
from gateway.routing.reach import ChannelChoice

T = TypeVar("T")
_UPN = attrgetter("upn")
_DELIVERY_ORDER = attrgetter("send_at", "contact_name", "adult_id")
_SUPPRESSION_ORDER = attrgetter("contact_name", "adult_id")


def wanted_locale(adult: AdultFacts, pupils: Sequence[PupilFacts]) -> str | None:
    """The adult's own language, else the first of their pupils' home languages, else None (en-GB)."""
    return wanted_language(adult, pupils)[0]


def relationship_to(households: Households, adult_id: int, pupil_ids: Iterable[int]) -> str:
    """The adult's relationship code to the first of ``pupil_ids`` they are linked to."""
    wanted = set(pupil_ids)
    for link in households.links_of_adult(adult_id):
        if link.pupil_id in wanted:
            return link.relationship
    return "NOT"


class SharedValues:
    """One object per distinct value across a plan's deliveries: thousands of nudges share a few hundred
    distinct ``why`` texts, send times and fallback lists, and a 100,000-pupil plan must stay small."""

    def __init__(self) -> None:
        self._values: dict[object, Any] = {}

    def __call__(self, value: T) -> T:
        return self._values.setdefault(value, value)  # type: ignore[no-any-return]


def build_delivery(
    households: Households,
    adult: AdultFacts,
    pupils: Sequence[PupilFacts],
    choice: ChannelChoice,
    *,
    send_at: datetime,
    message_kind: str,
    extra_why: Sequence[str] = (),
    days_missed: tuple[float, ...] = (),
    shared: SharedValues | None = None,
) -> Delivery:
    """One Delivery to ``adult`` covering ``pupils`` (already ordered), as ``choice`` decided."""
    share = shared or SharedValues()
    pupil_ids = tuple(p.id for p in pupils)
    why = share("; ".join([choice.why, *(part for part in extra_why if part)]))
    return Delivery(
        adult_id=adult.id,
        contact_name=adult.full_name,
        relationship=relationship_to(households, adult.id, pupil_ids),
        pupil_ids=pupil_ids,
        pupils=tuple(p.upn for p in pupils),
        channel=choice.channel,
        to=choice.point.value,
        contact_point_id=choice.point.id,
        locale=choice.locale,
        variant=choice.variant,
        send_at=share(send_at),
        why=why,
        fallback_channels=share(choice.fallback_channels),
        message_kind=message_kind,
        needs_interpreter=choice.needs_interpreter,
        days_missed=share(days_missed),
    )


def suppression(adult: AdultFacts, pupils: Iterable[PupilFacts], reason: str, detail: str = "") -> Suppression:
    """A Suppression of ``adult`` for ``pupils`` (listed by UPN, sorted)."""
    return Suppression(adult.id, adult.full_name, tuple(sorted(p.upn for p in pupils)), reason, detail)


def ordered_pupils(households: Households, pupil_ids: Iterable[int]) -> list[PupilFacts]:
    """The loaded pupils among ``pupil_ids``, once each, ordered by UPN (stable output for staff)."""
    known = households.pupils
    pupils = {pid: known[pid] for pid in pupil_ids if pid in known}
    if len(pupils) <= 1:  # most adults have one child: no sort needed
        return list(pupils.values())
    return sorted(pupils.values(), key=_UPN)


def sort_entries(
    deliveries: Iterable[Delivery], suppressed: Iterable[Suppression]
) -> tuple[tuple[Delivery, ...], tuple[Suppression, ...]]:
    """Deliveries by send time then name; suppressions by name (ids break ties between namesakes)."""
    return (
        tuple(sorted(deliveries, key=_DELIVERY_ORDER)),
        tuple(sorted(suppressed, key=_SUPPRESSION_ORDER)),
    )
