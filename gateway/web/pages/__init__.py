"""The staff pages, one module per page; every router needs a signed-in member of staff and CSRF tokens."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web.pages import (
    contact_problems,
    dsl_approvals,
    dsl_messages,
    family,
    inbox,
    message_templates,
    milestones,
    reports,
    sandbox,
    school_settings,
    tasks,
    today,
    translation_review,
)

ROUTERS: tuple[APIRouter, ...] = (
    today.router,
    tasks.router,
    family.router,
    contact_problems.router,
    inbox.router,
    dsl_approvals.router,
    dsl_messages.router,
    milestones.router,
    reports.router,
    message_templates.router,
    translation_review.router,
    school_settings.router,
    sandbox.router,
)
