"""Awaiting DSL approval: every adult whose contact waits for the DSL, with each child they are linked to.

One approval per adult: it records the DSL's approval on every pending link of that adult at once (a father
of George and Jack is approved once, not once per child). The links keep their restriction (``dsl_approval``,
through ``gateway.safeguarding.restriction_change``, which changes nothing when the restriction is the
same); the approval is the separate, explicit act recorded after it, and audited. DSL only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import Response

from gateway import clock
from gateway.models import Adult, PupilContact, Restriction, StaffRole, StaffUser
from gateway.relationships import relationship_label
from gateway.safeguarding import restriction_change
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
DslOnly = Annotated[StaffUser, Depends(require_role(StaffRole.DSL))]


@dataclass
class PendingAdult:
    """One adult awaiting approval and their pending links (one per child)."""

    adult: Adult
    links: list[PupilContact]

    @property
    def children(self) -> str:
        """"George and Jack"."""
        return join_names([link.pupil.display_forename for link in self.links])

    def describe(self, link: PupilContact) -> str:
        """"Father of George Smith (Year 3), parental responsibility, contact priority 2"."""
        pupil = link.pupil
        year = f" (Year {pupil.year_group})" if pupil.year_group else ""
        responsibility = "has parental responsibility" if link.parental_responsibility else \
            "no parental responsibility"
        return (f"{relationship_label(link.relationship_code)} of {pupil.display_forename} {pupil.surname}{year}: "
                f"{responsibility}, contact priority {link.priority}")


def join_names(names: list[str]) -> str:
    """["George", "Jack", "Ann"] -> "George, Jack and Ann"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def pending_links(session: Session, adult_id: int | None = None) -> list[PupilContact]:
    """Links whose contact waits for the DSL's approval."""
    query = (select(PupilContact).where(PupilContact.restriction == Restriction.DSL_APPROVAL,
                                        PupilContact.dsl_approved_at.is_(None))
             .options(selectinload(PupilContact.pupil), selectinload(PupilContact.adult)))
    if adult_id is not None:
        query = query.where(PupilContact.adult_id == adult_id)
    return list(session.scalars(query.order_by(PupilContact.adult_id, PupilContact.pupil_id)))


def pending_adults(session: Session) -> list[PendingAdult]:
    """Every adult awaiting approval, by surname."""
    grouped: dict[int, list[PupilContact]] = defaultdict(list)
    for link in pending_links(session):
        grouped[link.adult_id].append(link)
    found = [PendingAdult(links[0].adult, links) for links in grouped.values()]
    return sorted(found, key=lambda p: (p.adult.surname, p.adult.forename, p.adult.id))


def approve_adult(session: Session, adult_id: int, staff: StaffUser) -> list[PupilContact]:
    """Record the DSL's approval on every pending link of ``adult_id``; audited once. Returns the links."""
    links = pending_links(session, adult_id)
    now = clock.now()
    for link in links:
        for column, value in restriction_change(link.restriction, Restriction.DSL_APPROVAL).items():
            setattr(link, column, value)  # nothing: the restriction stays; the approval comes after it
        link.dsl_approved_at, link.dsl_approved_by = now, staff.id
    if links:
        record_audit(session, staff, "approve_contact", "adult", adult_id,
                     {"pupil_ids": [link.pupil_id for link in links], "link_ids": [link.id for link in links]})
    return links


@router.get("/dsl/approvals")
def approvals_page(request: Request, db: DbSession, staff: DslOnly) -> Response:
    """The queue: every adult awaiting the DSL's approval."""
    return render(request, "dsl_approvals.html", {"pending": pending_adults(db)})


@router.post("/dsl/approvals/{adult_id}")
def approve(request: Request, adult_id: int, db: DbSession, staff: DslOnly) -> Response:
    """Approve contact with one adult for every child they are awaiting approval for."""
    adult = get_or_404(db, Adult, adult_id, "adult")
    links = approve_adult(db, adult_id, staff)
    if links:
        children = join_names([link.pupil.display_forename for link in links])
        flash(request, f"Contact with {adult.full_name} approved for {children}.", "good")
    else:
        flash(request, f"{adult.full_name} was not awaiting approval.", "info")
    return RedirectResponse("/dsl/approvals", status_code=303)
