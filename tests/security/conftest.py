"""Security tests reuse the pipeline's fixtures (a family in the database, a fixed clock, in-process workers)
and the web app's (an app on the test database, staff of each role, a seeded family)."""

from __future__ import annotations

from tests.pipeline.conftest import pipeline
from tests.web.conftest import client, family, quick_password_hashing, staff_accounts, web_app

__all__ = ["client", "family", "pipeline", "quick_password_hashing", "staff_accounts", "web_app"]
