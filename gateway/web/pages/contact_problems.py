"""Contacts to fix: the office's daily list of adults the gateway cannot reach as their preferences ask."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.contact_problems import find_contact_problems
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession
from gateway.web.templating import render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)


@router.get("/contacts/problems")
def contact_problems_page(request: Request, db: DbSession) -> Response:
    """Every adult who cannot be reached as their preferences ask, with the reasons and a link to the family."""
    return render(request, "contact_problems.html", {"problems": find_contact_problems(db)})
