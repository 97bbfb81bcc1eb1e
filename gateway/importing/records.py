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

from gateway.errors import ERROR, WARNING, InputError, Problem
from gateway.models import ContactKind, Literacy, Restriction

UPN_PATTERN = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")


@dataclass(frozen=True)
class ContactPointRecord:
    kind: ContactKind
    value: str
    sms_capable: bool


PUPIL_FLAGS = ("bereaved", "long_term_ill", "support_plan")


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
    # The flags the guidance relies on (no attendance nudges; check-ins instead); None = the file does not say.
    bereaved: bool | None = None
    long_term_ill: bool | None = None
    support_plan: bool | None = None

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
    dropped: list[Problem] = field(default_factory=list)  # unusable phones / e-mails (kept for "contacts to fix")

    @property
    def name_key(self) -> str:
        return f"{name_key(self.forename)} {name_key(self.surname)}".strip()[:200]  # Adult.match_key size


class ProblemLog:
    """Collects every error and warning of one file, so the user sees them all at once.

    A problem with one contact's phone number or e-mail address (:meth:`contact_problem`) drops that one
    point and is a warning: the pupil and the adult are still imported, so one mistyped number in another
    school's export never holds back a whole file. With ``strict`` it is an error instead (all or nothing).
    Problems with the file's structure (broken XML, a missing UPN, two names for one UPN, an unreadable
    encoding) are always errors.
    """

    def __init__(self, source: str, *, strict: bool = False) -> None:
        self.source = source
        self.strict = strict
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.dropped: list[Problem] = []  # every contact point dropped, in file order
        self._once: set[str] = set()

    def error(self, where: str, field_name: str | None, message: str, value: str | None = None) -> None:
        self.errors.append(Problem(self.source, where, field_name, message, ERROR, value))

    def warn(self, where: str, field_name: str | None, message: str, value: str | None = None) -> None:
        self.warnings.append(Problem(self.source, where, field_name, message, WARNING, value))

    def warn_once(self, key: str, where: str, field_name: str | None, message: str) -> None:
        """A warning reported once per file however often it applies (the first place it applies)."""
        if key not in self._once:
            self._once.add(key)
            self.warn(where, field_name, message)

    def contact_problem(self, where: str, field_name: str, value: str, why: str) -> None:
        """An unusable phone number or e-mail address: dropped with a warning (an error when strict)."""
        if self.strict:
            self.error(where, field_name, why, value)
        else:
            self.warn(where, field_name, f"{why}: dropped, the contact is imported without it", value)
            self.dropped.append(Problem(self.source, where, field_name, why, WARNING, value))

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
            # The same warnings as records: file, element path or row, field, value and why.
            "problems": [w.as_dict() for w in self.warnings],
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
