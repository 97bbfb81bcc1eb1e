"""Safeguarding checks shared by every path that sends: a restriction is absolute.

Routing already leaves restricted adults out of every plan; this module is the last line, checked again
right before a message leaves (a restriction set by the DSL after the message was queued still stops it),
and by staff-initiated sends. An adult's restriction is the strictest across all of their links.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.models import PupilContact, Restriction

RESTRICTED = "restricted"
AWAITING_DSL_APPROVAL = "awaiting_dsl_approval"


class ContactRestricted(GatewayError):
    """A send to an adult the DSL has restricted was refused."""

    def __init__(self, adult_id: int, reason: str) -> None:
        self.adult_id = adult_id
        self.reason = reason
        super().__init__(f"adult {adult_id} may not be contacted ({reason})")


def blocked_reasons(session: Session, adult_ids: Iterable[int]) -> dict[int, str]:
    """For each of ``adult_ids`` that may not be contacted now, why: ``restricted`` (no_contact on any link)
    or ``awaiting_dsl_approval`` (a dsl_approval link without a recorded approval)."""
    ids = list(set(adult_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(PupilContact.adult_id, PupilContact.restriction, PupilContact.dsl_approved_at)
        .where(PupilContact.adult_id.in_(ids), PupilContact.restriction != Restriction.NONE)
    ).all()
    blocked: dict[int, str] = {}
    for adult_id, restriction, approved_at in rows:
        if restriction is Restriction.DSL_APPROVAL and approved_at is not None:
            continue
        reason = AWAITING_DSL_APPROVAL if restriction is Restriction.DSL_APPROVAL else RESTRICTED
        if blocked.get(adult_id) != RESTRICTED:  # no_contact is the stricter of the two
            blocked[adult_id] = reason
    return blocked


def blocked_reason(session: Session, adult_id: int) -> str | None:
    """Why ``adult_id`` may not be contacted now, or None when they may."""
    return blocked_reasons(session, [adult_id]).get(adult_id)


def ensure_contactable(session: Session, adult_id: int) -> None:
    """Raise :class:`ContactRestricted` unless ``adult_id`` may be contacted now."""
    reason = blocked_reason(session, adult_id)
    if reason is not None:
        raise ContactRestricted(adult_id, reason)
