"""What the parsers produce and the writer stores: plain records, the problem log and the summary.

Parsers (CTF, contacts CSV) turn a file into :class:`PupilRecord` and :class:`ContactEntry` values and
report every problem to a :class:`ProblemLog`; nothing touches the database until the whole file is known
to be good. One :class:`ContactEntry` is one pupil–adult link as the file lists it; the household step
merges entries for the same adult (siblings) before the writer runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache
from typing import Any

from gateway.errors import InputError, Problem
from gateway.models import ContactKind, Literacy, Restriction

UPN_PATTERN = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")
RELATIONSHIP_CODES = frozenset(
    {"PAM", "PAF", "CAR", "STP", "FAM", "GRM", "GRF", "REL", "SWR", "DOC", "FAF", "RLG", "OTH", "NOT"}
)


@dataclass(frozen=True)
class ContactPointRecord:
    kind: ContactKind
    value: str
    sms_capable: bool


@dataclass
class PupilRecord:
    upn: str
    forename: str
    surname: str
    where: str
    preferred_forename: str | None = None
    year_group: str | None = None
    home_language: str | None = None  # BCP 47; None = not given (keep what the database has)
    home_language_dfe: str | None = None

    def identity(self) -> tuple[str, str]:
        return (name_key(self.forename), name_key(self.surname))


@dataclass
class ContactEntry:
    """One adult as listed for one pupil. ``None`` in an optional field means "the file does not say"."""

    pupil_upn: str
    where: str
    forename: str
    surname: str
    title: str | None = None
    relationship: str = "NOT"
    priority: int = 1
    parental_responsibility: bool = False
    lives_with_pupil: bool | None = None
    address: str | None = None
    contact_points: list[ContactPointRecord] = field(default_factory=list)
    contact_ref: str | None = None
    language: str | None = None
    channels: str | None = None
    literacy: Literacy | None = None
    window: tuple[time, time] | None = None
    restriction: Restriction | None = None

    @property
    def name_key(self) -> str:
        return f"{name_key(self.forename)} {name_key(self.surname)}".strip()[:200]  # Adult.match_key size


class ProblemLog:
    """Collects every error and warning of one file, so the user sees them all at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, where: str, field_name: str | None, message: str) -> None:
        self.errors.append(Problem(self.source, where, field_name, message))

    def warn(self, where: str, field_name: str | None, message: str) -> None:
        self.warnings.append(Problem(self.source, where, field_name, message))

    def raise_if_errors(self) -> None:
        """Raise :class:`InputError` with every error found, so nothing gets written."""
        if self.errors:
            raise InputError(list(self.errors))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed}


@dataclass
class ImportSummary:
    """What an import of pupils and contacts did; ``to_json`` is the CONTRACT.md summary plus details."""

    source: str
    pupils: Counts = field(default_factory=Counts)
    contacts: Counts = field(default_factory=Counts)
    links: Counts = field(default_factory=Counts)
    contact_points: Counts = field(default_factory=Counts)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.removed
                   for c in (self.pupils, self.contacts, self.links, self.contact_points))

    def to_json(self) -> dict[str, Any]:
        return {
            "pupils": self.pupils.total,
            "contacts": self.contacts.total,
            "links": self.links.total,
            "warnings": [str(w) for w in self.warnings],
            "created": {"pupils": self.pupils.created, "contacts": self.contacts.created,
                        "links": self.links.created, "contact_points": self.contact_points.created},
            "updated": {"pupils": self.pupils.updated, "contacts": self.contacts.updated,
                        "links": self.links.updated, "contact_points": self.contact_points.updated},
            "unchanged": {"pupils": self.pupils.unchanged, "contacts": self.contacts.unchanged,
                          "links": self.links.unchanged, "contact_points": self.contact_points.unchanged},
            "removed": {"links": self.links.removed, "contact_points": self.contact_points.removed},
        }


@lru_cache(maxsize=65536)  # a trust repeats the same few thousand names; folding is costly
def name_key(name: str) -> str:
    """A name folded for matching: case, accents, punctuation and spacing do not tell two people apart."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", letters).split())


def clean(value: str | None) -> str | None:
    """Stripped text, or None for an empty value (an empty cell means unknown)."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
