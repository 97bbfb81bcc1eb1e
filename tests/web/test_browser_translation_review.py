"""Translation review in a real browser: the pages pass axe-core at desk (1366 px) and phone (390 px) widths without
sideways scrolling, the placeholder check (and the server's SMS length check) answers while typing, an
approved text shows at once, and the main navigation leads there.

Uses the office-day gateway of ``test_browser_office_day`` (``gateway serve`` over a fresh SQLite database).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser_office_day import check_page, office_gateway, page, sign_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_translation_review_pages_at_desk_and_phone_width(office_gateway: tuple[str, str, dict[str, int], Path],  # noqa: F811
                                                          page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from gateway.translation_review import catalog_messages

    base, _url, _ids, _var = office_gateway
    number = next(m.number for m in catalog_messages() if m.msgid == "Dear %(recipient)s,")
    sign_in(page, base, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Translations").click()
    expect(page.get_by_role("heading", name="Reviewers")).to_be_visible()
    check_page(page, "translations")
    page.goto(base + "/translations/ar")
    expect(page.locator("h1")).to_contain_text("Arabic")
    check_page(page, "translations-arabic")
    page.goto(base + f"/translations/ar/{number}")
    text = page.get_by_role("textbox", name="Translation")
    expect(text).to_have_attribute("dir", "rtl")
    text.fill("عزيزي %(name)s،")
    expect(page.locator("#check-1")).to_contain_text("Missing: %(recipient)s")
    expect(page.locator("#check-1")).to_contain_text("Not in the English text: %(name)s")
    check_page(page, "translation-message-arabic")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("leaves out %(recipient)s")
    check_page(page, "translation-message-refused")
    page.get_by_role("textbox", name="Translation").fill("عزيزي %(recipient)s،")
    expect(page.locator("#check-1")).to_contain_text("Placeholders OK")
    expect(page.locator("#sms-check")).to_contain_text("No text message uses this text")  # asked the server
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".notice-good")).to_contain_text(f"Message {number} approved")
    page.goto(base + f"/translations/ar/{number}")
    expect(page.locator("main")).to_contain_text("Approved by Alex Admin")
    page.goto(base + "/templates?kind=absence_first_day&locale=ar&channel=email")
    expect(page.locator("main")).to_contain_text("partly reviewed: 1 of")
    check_page(page, "templates-review-status")
