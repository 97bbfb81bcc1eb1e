"""The plain, frozen facts routing decides from: pupils, adults, the links between them, contact points.

``routing.loader`` builds them from the database in a few bulk queries; tests build them by hand. Nothing
here touches the database, so every routing rule can be tested exhaustively on generated families.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from functools import cached_property

# Strictness order: a stricter restriction on any one link wins for the adult as a whole.
RESTRICTION_NONE = "none"
RESTRICTION_DSL_APPROVAL = "dsl_approval"
RESTRICTION_NO_CONTACT = "no_contact"
_STRICTNESS = {RESTRICTION_NONE: 0, RESTRICTION_DSL_APPROVAL: 1, RESTRICTION_NO_CONTACT: 2}

PHONE_KINDS = frozenset({"mobile", "landline", "work"})


@dataclass(frozen=True, slots=True)
class ContactPointFacts:
    """One way to reach an adult: a phone number (E.164) or an e-mail address."""

    id: int
    kind: str  # "mobile" | "landline" | "work" | "email"
    value: str
    sms_capable: bool = False
    position: int = 0
    opted_out: bool = False  # the adult texted STOP from this number
    permanently_failed: bool = False  # a hard bounce or permanent SMS/voice failure is on record
    # Why this address may not be used although its adult may be contacted: the same number or e-mail is held
    # by an adult who may not be contacted ("restricted" / "awaiting_dsl_approval"); None when it is free.
    # A restriction binds the address, not only the adult row (a barred father's mobile on the mother's record).
    blocked_by_restriction: str | None = None

    @property
    def is_phone(self) -> bool:
        return self.kind in PHONE_KINDS


@dataclass(frozen=True, slots=True)
class AdultFacts:
    """A parent, carer or emergency contact and their preferences."""

    id: int
    forename: str
    surname: str
    title: str | None = None
    language: str | None = None  # BCP 47, None when unknown
    literacy: str = "standard"  # "standard" | "plain" | "voice"
    channel_order: tuple[str, ...] = ("sms", "email", "voice")
    window_start: time | None = None
    window_end: time | None = None
    contact_points: tuple[ContactPointFacts, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.forename} {self.surname}".strip()


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """The link between one pupil and one adult, as the school's MIS records it."""

    pupil_id: int
    adult_id: int
    relationship: str = "NOT"
    priority: int = 1
    parental_responsibility: bool = False
    lives_with_pupil: bool | None = None
    restriction: str = RESTRICTION_NONE
    dsl_approved: bool = False  # the DSL has recorded approval for this link (dsl_approved_at set)
    # Lives with the pupil and cares for them (gateway.relationships.cares_at_home), and the DSL has not said
    # otherwise: in the audience of the parental-responsibility steps and routine messages.
    carer_at_home: bool = False


@dataclass(frozen=True, slots=True)
class PupilFacts:
    """A pupil and the flags that change what may be sent about them."""

    id: int
    upn: str
    forename: str
    surname: str
    year_group: str | None = None
    home_language: str | None = None
    bereaved: bool = False
    long_term_ill: bool = False
    support_plan: bool = False


def _by_priority(link: LinkFacts) -> tuple[int, int]:
    return link.priority, link.adult_id


@dataclass(frozen=True, slots=True)
class AdultStanding:
    """What the adult's links together say: the strictest restriction and whether approval is recorded."""

    restriction: str
    approved: bool

    @property
    def forbidden_reason(self) -> str | None:
        """``restricted`` / ``awaiting_dsl_approval`` when nothing may be sent, else None."""
        if self.restriction == RESTRICTION_NO_CONTACT:
            return "restricted"
        if self.restriction == RESTRICTION_DSL_APPROVAL and not self.approved:
            return "awaiting_dsl_approval"
        return None


@dataclass(frozen=True)
class Households:
    """Pupils and the adults around them, with the links indexed both ways.

    Pupils who share an adult form one household; planners work per adult so that siblings always give one
    delivery. ``links`` may name pupils missing from ``pupils`` (an adult's links to children not loaded):
    they still count for the adult's restriction but never for an audience.
    """

    pupils: Mapping[int, PupilFacts]
    adults: Mapping[int, AdultFacts]
    links: tuple[LinkFacts, ...]
    _by_pupil: dict[int, tuple[LinkFacts, ...]] = field(init=False, repr=False, compare=False)
    _by_adult: dict[int, tuple[LinkFacts, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_pupil: dict[int, list[LinkFacts]] = defaultdict(list)
        by_adult: dict[int, list[LinkFacts]] = defaultdict(list)
        for link in self.links:
            by_pupil[link.pupil_id].append(link)
            by_adult[link.adult_id].append(link)
        # Exact-size tuples, not over-allocated lists: at trust scale these indexes are a large share of memory.
        pupil_index = {pid: tuple(sorted(links, key=_by_priority)) for pid, links in by_pupil.items()}
        by_pupil.clear()
        adult_index = {aid: tuple(links) for aid, links in by_adult.items()}
        by_adult.clear()
        object.__setattr__(self, "_by_pupil", pupil_index)
        object.__setattr__(self, "_by_adult", adult_index)

    @classmethod
    def build(
        cls, pupils: Iterable[PupilFacts], adults: Iterable[AdultFacts], links: Iterable[LinkFacts]
    ) -> Households:
        """Households from plain iterables (tests and the loader)."""
        return cls({p.id: p for p in pupils}, {a.id: a for a in adults}, tuple(links))

    def links_of_pupil(self, pupil_id: int) -> tuple[LinkFacts, ...]:
        """The pupil's links, highest priority (lowest number) first."""
        return self._by_pupil.get(pupil_id, ())

    def links_of_adult(self, adult_id: int) -> tuple[LinkFacts, ...]:
        return self._by_adult.get(adult_id, ())

    def standing(self, adult_id: int) -> AdultStanding:
        """The adult's strictest restriction across ALL their links (restrictions are absolute)."""
        strictest = RESTRICTION_NONE
        approved = True
        for link in self._by_adult.get(adult_id, ()):
            if _STRICTNESS.get(link.restriction, 2) > _STRICTNESS[strictest]:
                # An unknown restriction value is treated as no_contact: never guess in favour of sending.
                strictest = link.restriction if link.restriction in _STRICTNESS else RESTRICTION_NO_CONTACT
            if link.restriction == RESTRICTION_DSL_APPROVAL and not link.dsl_approved:
                approved = False
        return AdultStanding(strictest, approved)

    @cached_property
    def household_groups(self) -> list[frozenset[int]]:
        """Pupil ids grouped into households: pupils connected through any shared adult."""
        parent: dict[int, int] = {pid: pid for pid in self.pupils}

        def root(pid: int) -> int:
            while parent[pid] != pid:
                parent[pid] = parent[parent[pid]]
                pid = parent[pid]
            return pid

        for links in self._by_adult.values():
            loaded = [link.pupil_id for link in links if link.pupil_id in parent]
            for other in loaded[1:]:
                parent[root(other)] = root(loaded[0])
        groups: dict[int, set[int]] = defaultdict(set)
        for pid in self.pupils:
            groups[root(pid)].add(pid)
        return [frozenset(group) for group in groups.values()]
