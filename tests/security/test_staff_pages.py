"""Staff pages are never cached, and an id no row can have answers 404 (PostgreSQL refuses such a number
outright: without the check the page failed with a 500)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from gateway.models import StaffRole
from tests.web.conftest import SeededFamily, TestClient, sign_in

HUGE_IDS = ("99999999999999999999", str(2**31), str(2**63))


def routes_with_ids(method: str) -> list[str]:
    """Every staff route for ``method`` that takes an id in its path."""
    from gateway.web.pages import ROUTERS

    return [route.path for router in ROUTERS for route in router.routes
            if isinstance(route, APIRoute) and method in (route.methods or ()) and "{" in route.path]


def test_staff_pages_no_store(client: TestClient, staff_accounts: dict[StaffRole, str],
                              family: SeededFamily) -> None:
    assert "no-store" in client.get("/login").headers["cache-control"]
    sign_in(client, staff_accounts[StaffRole.ADMIN])
    for path in ("/", "/inbox", "/families", f"/families/{family.pupil_id}", "/milestones", "/templates",
                 "/settings", "/audit", "/sandbox/phones", "/no-such-page"):
        response = client.get(path)
        assert response.headers.get("cache-control") == "no-store", path
    static = client.get("/static/style.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")  # the style sheet may be cached


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_huge_id_answers_404(client: TestClient, web_app: FastAPI, staff_accounts: dict[StaffRole, str],
                             family: SeededFamily, method: str) -> None:
    csrf = sign_in(client, staff_accounts[StaffRole.DSL])
    paths = routes_with_ids(method)
    assert paths, f"no {method} route with an id"
    for template in paths:
        for huge in HUGE_IDS:
            path = re.sub(r"\{[^}]+\}", huge, template)
            if method == "GET":
                response = client.get(path, follow_redirects=False)
            else:
                response = client.post(path, data={"csrf_token": csrf}, follow_redirects=False)
            assert response.status_code == 404, (path, response.status_code)
        # One real id and one huge id in the same path: still 404, never a database error.
        if template.count("{") > 1:
            path = re.sub(r"\{[^}]+\}", str(family.pupil_id), template, count=1)
            path = re.sub(r"\{[^}]+\}", HUGE_IDS[0], path)
            response = (client.get(path, follow_redirects=False) if method == "GET"
                        else client.post(path, data={"csrf_token": csrf}, follow_redirects=False))
            assert response.status_code == 404, (path, response.status_code)
