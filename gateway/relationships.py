"""Relationship codes on a pupil–adult link (DfE CBDS D00033 "Relationship v2.0") and their labels.

The CTF carries a three-letter code; staff must only ever see the label ("Step Father", never ``STF``).
v2.0 is the authority (``../shared/reference/cbds_codesets.json``); the v1 codes it replaced (``STP`` step
parent, ``FOS`` foster parent) and the few local codes MIS exports still carry (grandparents) are kept so
older files import without losing the link. ``NOT`` is the gateway's own "not recorded".
"""

from __future__ import annotations

from typing import Final

NOT_RECORDED: Final = "NOT"
OTHER: Final = "OTH"

# D00033 Relationship v2.0, as published.
RELATIONSHIPS_V2: Final[dict[str, str]] = {
    "CAR": "Carer",
    "CHM": "Childminder",
    "DOC": "Doctor",
    "FAM": "Other family member",
    "FOF": "Foster Father",
    "FOM": "Foster Mother",
    "HTC": "Head Teacher",
    "OTH": "Other Contact",
    "PAF": "Father",
    "PAM": "Mother",
    "REL": "Other Relative",
    "RLG": "Religious/Spiritual Contact",
    "STF": "Step Father",
    "STM": "Step Mother",
    "SWR": "Social Worker",
    "TCH": "Teacher",
}

# D00032 (v1) codes v2.0 dropped, and local codes MIS exports still use: accepted, labelled, kept as given.
RELATIONSHIPS_OLDER: Final[dict[str, str]] = {
    "STP": "Step Parent",
    "FOS": "Foster Parent",
    "GRM": "Grandmother",
    "GRF": "Grandfather",
    "FAF": "Family friend",
    NOT_RECORDED: "Relationship not recorded",
}

# Relationships of someone who takes care of the child at home. With ``lives_with_pupil`` such an adult is in
# the audience of attendance communication ("any adult who lives with and takes care of the child"). Not the
# professionals (doctor, social worker, teachers, religious contact), a childminder, or unknown/other.
CARING_RELATIONSHIPS: Final = frozenset({"PAM", "PAF", "STF", "STM", "STP", "FOF", "FOM", "FOS", "CAR", "FAM",
                                         "REL", "GRM", "GRF"})

RELATIONSHIP_LABELS: Final[dict[str, str]] = {**RELATIONSHIPS_V2, **RELATIONSHIPS_OLDER}
RELATIONSHIP_CODES: Final = frozenset(RELATIONSHIP_LABELS)


def cares_at_home(relationship: str, lives_with_pupil: bool | None, dsl_allows: bool = True) -> bool:
    """Whether an adult lives with the child and takes care of them (and the DSL has not said otherwise)."""
    return bool(lives_with_pupil) and dsl_allows and relationship.upper() in CARING_RELATIONSHIPS


def relationship_label(code: str | None) -> str:
    """The label staff see for a relationship code; an unknown code says so rather than showing bare."""
    text = (code or "").strip().upper()
    if not text:
        return RELATIONSHIP_LABELS[NOT_RECORDED]
    return RELATIONSHIP_LABELS.get(text, f"Other (code {text})")
