"""Turn a file's rows into distinct pupils and distinct adults (the same parent listed under siblings).

CTF contacts carry no id, so an adult is recognised by their folded name plus any phone number or e-mail
address in common; in the CSV ``contact_ref`` decides, and rows without one fall back to the CTF rule.
Entries for the same name with no phone or e-mail at all cannot be told apart safely: each pupil's entry
then becomes its own adult (better two records than one stranger merged into a family).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from gateway.errors import Problem
from gateway.importing.records import PUPIL_FLAGS, ContactEntry, ContactPointRecord, ProblemLog, PupilRecord
from gateway.models import Literacy


@dataclass
class AdultGroup:
    """One adult of the file, with every link the file gives them."""

    name_key: str
    contact_ref: str | None
    entries: list[ContactEntry]
    contact_points: list[ContactPointRecord] = field(default_factory=list)
    title: str | None = None
    forename: str = ""
    surname: str = ""
    address: str | None = None
    language: str | None = None
    channels: str | None = None
    literacy: Literacy | None = None
    window: tuple[time, time] | None = None
    dropped: list[Problem] = field(default_factory=list)

    @property
    def pupil_upns(self) -> list[str]:
        return [e.pupil_upn for e in self.entries]


def distinct_pupils(pupils: list[PupilRecord], log: ProblemLog) -> list[PupilRecord]:
    """One record per UPN; a UPN listed with two different names is an error naming both places."""
    seen: dict[str, PupilRecord] = {}
    for pupil in pupils:
        first = seen.get(pupil.upn)
        if first is None:
            seen[pupil.upn] = pupil
            continue
        if first.identity() != pupil.identity():
            log.error(pupil.where, "UPN", f"UPN {pupil.upn} is also {first.where} with a different name "
                      f"({first.forename} {first.surname} / {pupil.forename} {pupil.surname})")
            continue
        for attribute in ("year_group", "home_language", "preferred_forename"):
            mine, theirs = getattr(pupil, attribute), getattr(first, attribute)
            if mine and theirs and mine != theirs:
                log.error(pupil.where, attribute, f"UPN {pupil.upn}: {mine!r} here but {theirs!r} at {first.where}")
            elif mine and not theirs:
                setattr(first, attribute, mine)
                if attribute == "home_language":
                    first.home_language_dfe = pupil.home_language_dfe
        for flag in PUPIL_FLAGS:  # set on any row counts (a flag is never cleared by a sibling row's silence)
            mine, theirs = getattr(pupil, flag), getattr(first, flag)
            if mine is not None and (theirs is None or mine):
                setattr(first, flag, mine)
    return list(seen.values())


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def group_adults(entries: list[ContactEntry], log: ProblemLog) -> list[AdultGroup]:
    """Merge the entries that are the same adult; conflicts between merged entries are reported."""
    union = _UnionFind(len(entries))
    by_ref: dict[str, int] = {}
    by_name_and_point: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        if entry.contact_ref:
            first = by_ref.setdefault(entry.contact_ref, index)
            union.union(first, index)
            continue
        for point in entry.contact_points:
            first = by_name_and_point.setdefault((entry.name_key, point.value), index)
            union.union(first, index)
    members: dict[int, list[int]] = {}
    for index in range(len(entries)):
        members.setdefault(union.find(index), []).append(index)
    groups = [_merge([entries[i] for i in indexes], log) for _, indexes in sorted(members.items())]
    return groups


def _merge(entries: list[ContactEntry], log: ProblemLog) -> AdultGroup:
    first = entries[0]
    group = AdultGroup(name_key=first.name_key, contact_ref=first.contact_ref, entries=[], title=first.title,
                       forename=first.forename, surname=first.surname)
    seen_values: set[str] = set()
    seen_pupils: dict[str, ContactEntry] = {}
    for entry in entries:
        if entry.contact_ref and entry.name_key != first.name_key:
            log.error(entry.where, "contact_ref", f"contact_ref {entry.contact_ref!r} is also {first.where}, "
                      f"a different person ({first.forename} {first.surname} / {entry.forename} {entry.surname})")
        for attribute in ("address", "language", "channels", "literacy", "window", "title"):
            value, current = getattr(entry, attribute), getattr(group, attribute)
            if value is not None and current is None:
                setattr(group, attribute, value)
            elif value is not None and value != current and attribute in ("language", "channels", "literacy"):
                log.warn(entry.where, attribute, f"differs from the same contact at {first.where}: kept {current}")
        for point in entry.contact_points:
            if point.value not in seen_values:
                seen_values.add(point.value)
                group.contact_points.append(point)
        for problem in entry.dropped:
            if (problem.field, problem.value) not in {(d.field, d.value) for d in group.dropped}:
                group.dropped.append(problem)
        duplicate = seen_pupils.get(entry.pupil_upn)
        if duplicate is not None:
            log.warn(entry.where, None, f"the same contact is listed twice for pupil {entry.pupil_upn} "
                     f"(also {duplicate.where}): kept the first")
            continue
        seen_pupils[entry.pupil_upn] = entry
        group.entries.append(entry)
    return group
