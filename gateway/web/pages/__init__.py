"""The staff pages, one module per page; every router needs a signed-in member of staff and CSRF tokens."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web.pages import family, inbox, message_templates, milestones, sandbox, school_settings, today

ROUTERS: tuple[APIRouter, ...] = (
    today.router,
    family.router,
    inbox.router,
    milestones.router,
    message_templates.router,
    school_settings.router,
    sandbox.router,
)
