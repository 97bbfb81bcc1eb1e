"""Safeguarding checks shared by every path that sends: a restriction is absolute.

Routing already leaves restricted adults out of every plan; this module is the last line, checked again
right before a message leaves (a restriction set by the DSL after the message was queued still stops it),
and by staff-initiated sends. An adult's restriction is the strictest across all of their links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.models import ContactPoint, PupilContact, Restriction
from gateway.phones import normalise_phone

_K = TypeVar("_K")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

RESTRICTED = "restricted"
AWAITING_DSL_APPROVAL = "awaiting_dsl_approval"
# An address (phone or e-mail) is held by an adult who may not be contacted: blocked for every adult.
SHARED_WITH_RESTRICTED = "shared_with_restricted"


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
        _merge(blocked, adult_id, _link_reason(restriction, approved_at))
    return blocked


def _link_reason(restriction: Restriction, approved_at: datetime | None) -> str | None:
    """Why one link bars contact now, or None when it does not."""
    if restriction is Restriction.NONE:
        return None
    if restriction is Restriction.DSL_APPROVAL:
        return None if approved_at is not None else AWAITING_DSL_APPROVAL
    return RESTRICTED


def _merge(blocked: dict[_K, str], key: _K, reason: str | None) -> None:
    """Record ``reason`` for ``key``, keeping the stricter one (no_contact beats awaiting approval)."""
    if reason is not None and blocked.get(key) != RESTRICTED:
        blocked[key] = reason


def address_key(address: str) -> str:
    """The form under which a contact address is compared: an e-mail lower-cased (as a whole: schools type
    capitals freely), a phone number as E.164 (``07700 900123`` and ``+447700900123`` are one number).
    Text that is neither is compared as typed, stripped and lower-cased."""
    text = address.strip()
    if "@" in text:
        return text.lower()
    if _E164.match(text) and not text.startswith("+440"):
        return text  # already E.164 (as every stored number is): skip the slow parse
    try:
        return normalise_phone(text).e164
    except ValueError:
        return text.lower()


def blocked_addresses(session: Session, addresses: Iterable[str] | None = None) -> dict[str, str]:
    """Every contact address held by an adult who may not be contacted now, as :func:`address_key` -> reason
    (``restricted`` or ``awaiting_dsl_approval``; the stricter when several adults hold it).

    A restriction binds the address, not only the adult row: the barred father's mobile typed onto the
    mother's record is still his. With ``addresses``, only those are looked up (keys in :func:`address_key`
    form, whatever form they were given in)."""
    keys: set[str] | None = None
    query = (
        select(ContactPoint.value, PupilContact.adult_id, PupilContact.restriction, PupilContact.dsl_approved_at)
        .join(PupilContact, PupilContact.adult_id == ContactPoint.adult_id)
        .where(PupilContact.restriction != Restriction.NONE,  # only the links that bar contact now
               or_(PupilContact.restriction != Restriction.DSL_APPROVAL, PupilContact.dsl_approved_at.is_(None)))
    )
    if addresses is not None:
        keys = {address_key(address) for address in addresses if address and address.strip()}
        if not keys:
            return {}
    # Every contact point of every adult with a restricted link (few), compared in Python under address_key,
    # so that a value stored in another form (a legacy "07700 900456") still matches.
    by_adult: dict[int, str] = {}
    held: dict[int, set[str]] = {}
    for value, adult_id, restriction, approved_at in session.execute(query).all():
        _merge(by_adult, adult_id, _link_reason(restriction, approved_at))
        held.setdefault(adult_id, set()).add(address_key(value))
    blocked: dict[str, str] = {}
    for adult_id, reason in by_adult.items():
        for key in held[adult_id]:
            if keys is None or key in keys:
                _merge(blocked, key, reason)
    return blocked


def blocked_address_reason(session: Session, address: str) -> str | None:
    """Why ``address`` may not be sent to now (it is held by an adult who may not be contacted), or None."""
    return blocked_addresses(session, [address]).get(address_key(address))


def blocked_reason(session: Session, adult_id: int) -> str | None:
    """Why ``adult_id`` may not be contacted now, or None when they may."""
    return blocked_reasons(session, [adult_id]).get(adult_id)


def ensure_contactable(session: Session, adult_id: int) -> None:
    """Raise :class:`ContactRestricted` unless ``adult_id`` may be contacted now."""
    reason = blocked_reason(session, adult_id)
    if reason is not None:
        raise ContactRestricted(adult_id, reason)


def restriction_change(current: Restriction | None, new: Restriction) -> dict[str, Any]:
    """The column values that set a link's restriction to ``new``: the one rule every path uses (web, CSV,
    CTF, demo). Any *change* of restriction clears a recorded DSL approval, so an approval given under one
    restriction never comes back after the link was restricted differently in between. Setting the same
    restriction again changes nothing (an unchanged import keeps an approval). Approving is a separate,
    explicit DSL act, recorded after this change."""
    if current is not None and Restriction(current) is new:
        return {}
    return {"restriction": new, "dsl_approved_at": None, "dsl_approved_by": None}
