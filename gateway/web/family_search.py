"""Family search: a pupil's full name, a parent's name, a phone number or a UPN, whatever the case or accents.

``zoe`` finds Zoë, ``nowak anna`` finds Anna Nowak's children, ``07700 900123`` finds the family holding
+447700900123. Names are compared folded (lower case, accents removed) in Python: a school's roll is small
enough, and it behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway.models import Adult, ContactPoint, Pupil

LIMIT = 50


@dataclass(frozen=True)
class Match:
    pupil: Pupil
    why: str  # "pupil", "parent: Anna Nowak", "phone of Anna Nowak", "UPN"


# Letters Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "ss", "æ": "ae",
                          "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "ħ": "h", "þ": "th", "ð": "d"})


def fold(text: str) -> str:
    """Lower case without accents or punctuation: "Zoë O'Brien" -> "zoe obrien", "Łukasz" -> "lukasz"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", "", stripped.casefold()).split())


def _words_match(query_words: list[str], *names: str) -> bool:
    haystack = fold(" ".join(n for n in names if n)).split()
    return all(any(word.startswith(q) for word in haystack) for q in query_words)


def _phone_variants(query: str) -> set[str]:
    from gateway.phones import normalise_phone

    digits = re.sub(r"\D", "", query)
    if len(digits) < 6:
        return set()
    try:
        return {normalise_phone(query).e164}
    except ValueError:
        return set()


def search_families(session: Session, query: str) -> list[Match]:
    """Pupils matching ``query`` (one row each, best reason first), by surname."""
    query = query.strip()
    if not query:
        return []
    found: dict[int, Match] = {}
    pupils = list(session.scalars(select(Pupil)))
    by_id = {p.id: p for p in pupils}
    upn = query.replace(" ", "").upper()
    for pupil in pupils:
        if pupil.upn and pupil.upn.upper() == upn:
            found[pupil.id] = Match(pupil, "UPN")
    words = fold(query).split()
    if words:
        for pupil in pupils:
            if pupil.id not in found and _words_match(words, pupil.forename, pupil.preferred_forename or "",
                                                      pupil.surname):
                found[pupil.id] = Match(pupil, "pupil")
    numbers = _phone_variants(query)
    adults = list(session.scalars(select(Adult).options(selectinload(Adult.links))))
    holders: set[int] = set()
    if numbers:
        holders = set(session.scalars(select(ContactPoint.adult_id).where(ContactPoint.value.in_(numbers))))
    for adult in adults:
        if adult.id in holders:
            why = f"phone of {adult.full_name}"
        elif words and _words_match(words, adult.forename, adult.surname, adult.title or ""):
            why = f"parent or contact: {adult.full_name}"
        else:
            continue
        for link in adult.links:
            linked = by_id.get(link.pupil_id)
            if linked is not None and linked.id not in found:
                found[linked.id] = Match(linked, why)
    ordered = sorted(found.values(), key=lambda m: (m.why != "UPN", m.why != "pupil", fold(m.pupil.surname),
                                                     fold(m.pupil.forename)))
    return ordered[:LIMIT]

