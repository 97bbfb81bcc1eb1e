"""End to end in a real browser: sign in, start today's follow-up, reply as the parent on the sandbox phone
(through the real signed webhook), then see the reply and its suggested code on Today and in the Inbox.

Runs ``gateway serve --with-worker`` as a subprocess (sandbox channels, in-process worker and scheduler) on
a free port, and drives Debian's Chromium with Playwright. A screenshot of each page goes to
``var/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
DAY = date(2026, 11, 23)
PASSWORD = "correct horse battery"
WAIT_SECONDS = 60.0  # generous: two cores are shared with other test runs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(what: str, check: Any, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gateway serve exited early:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _seed(url: str) -> None:
    from gateway.models import Adult, ContactKind, ContactPoint, HalfTerm, Pupil, PupilContact, School, StaffRole
    from gateway.staff import create_staff

    engine = create_engine(url)
    with Session(engine) as db:
        school = School(name="Oakfield Primary School", phone="01632 960000", attendance_officer="Mrs Patel")
        db.add(school)
        db.flush()
        for username, role, name in (("office", StaffRole.OFFICE, "Sam Office"),
                                     ("admin", StaffRole.ADMIN, "Alex Admin")):
            create_staff(db, username=username, password=PASSWORD, role=role, display_name=name)
        families = [("Amira", "Nowak", "Anna", "pl", "+447700900123"),
                    ("Oliver", "Smith", "Grace", "en-GB", "+447700900234")]
        for index, (child, surname, parent, language, mobile) in enumerate(families):
            pupil = Pupil(school_id=school.id, upn=f"A12345678901{index}", forename=child, surname=surname,
                          year_group="4", home_language=language)
            adult = Adult(title="Mrs", forename=parent, surname=surname, language=language, channel_order="sms,email")
            db.add_all([pupil, adult])
            db.flush()
            db.add_all([PupilContact(pupil_id=pupil.id, adult_id=adult.id, relationship_code="PAM", priority=1,
                                     parental_responsibility=True),
                        ContactPoint(adult_id=adult.id, kind=ContactKind.MOBILE, value=mobile, sms_capable=True)])
        db.add(HalfTerm(name="Spring 1", start=date(2027, 1, 5), end=date(2027, 2, 12)))
        db.commit()
    engine.dispose()


def _mark_absent(url: str) -> None:
    from gateway.models import AttendanceMark, Pupil

    engine = create_engine(url)
    with Session(engine) as db:
        for pupil_id in db.scalars(select(Pupil.id)):
            db.add(AttendanceMark(pupil_id=pupil_id, date=DAY, session="AM", code="N"))
        db.commit()
    engine.dispose()


def _hold_scheduler_lease(url: str, hold: bool) -> None:
    """Take the scheduler's lease as another holder would (or give it back).

    While the test holds it, the in-process scheduler does not tick, so it cannot open today's cases before
    the test presses Start; once released, it ticks and hands over whatever has fallen due."""
    from gateway.models import Lease

    now = datetime.now(UTC)
    engine = create_engine(url)
    with Session(engine) as db:
        lease = db.get(Lease, "scheduler")
        expires = now + timedelta(days=1) if hold else now - timedelta(minutes=1)
        if lease is None:
            db.add(Lease(name="scheduler", holder="browser-test", expires_at=expires))
        else:
            lease.expires_at = expires
        db.commit()
    engine.dispose()


@pytest.fixture
def running_gateway(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``gateway serve --with-worker`` on a free port over a fresh SQLite database; yields its URL."""
    from gateway.db import dispose_engines
    from gateway.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    dispose_engines()
    _seed(url)
    _mark_absent(url)
    _hold_scheduler_lease(url, hold=True)
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env.update(GATEWAY_DATABASE_URL=url, GATEWAY_VAR_DIR=str(tmp_path / "var"), GATEWAY_CHANNELS="sandbox",
               GATEWAY_CLOCK="2026-11-23T09:30:00", GATEWAY_SECRET_KEY="browser-test-secret")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "serve", "--with-worker",
                                    "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for("the server", lambda: httpx.get(base + "/healthz", timeout=2).status_code == 200, process, log)
        yield base, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium, or set GATEWAY_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-GB",
                                    timezone_id="Europe/London")
            page.set_default_timeout(WAIT_SECONDS * 1000)
            yield page
        finally:
            browser.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def reload_until(page: Any, text: str) -> None:
    """Reload until ``text`` shows (the worker sends in the background)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while page.get_by_text(text).count() == 0:
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} never appeared on {page.url}")
        page.wait_for_timeout(500)
        page.reload()


def test_follow_up_reply_and_suggested_code_in_the_browser(running_gateway: tuple[str, str],
                                                            browser_page: Any) -> None:
    from playwright.sync_api import expect

    page, (base, database) = browser_page, running_gateway
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login?next=/")
    shot(page, "01-login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Unexplained absences")).to_be_visible()
    expect(page.get_by_text("Amira Nowak")).to_be_visible()
    shot(page, "02-today-before")

    page.get_by_role("button", name="Start follow-up for 2 families").click()
    expect(page.get_by_text("Follow-up started: 2 families")).to_be_visible()
    shot(page, "03-today-started")
    _hold_scheduler_lease(database, hold=False)  # from now on the scheduler ticks as in production
    # No reload from here: htmx polls the progress block until the sandbox's delivery callbacks show.
    expect(page.locator("li.family", has_text="Amira Nowak")).to_contain_text("delivered")

    page.goto(base + "/sandbox/phones")
    reload_until(page, "Anna Nowak")
    phone = page.locator("section.phone", has_text="Anna Nowak")
    expect(phone.locator(".bubble-received")).to_have_count(1)
    shot(page, "04-parent-phones")
    phone.get_by_label("Reply as Anna Nowak").fill("Amira jest chora, ma gorączkę")
    phone.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent through the webhook")).to_be_visible()
    reload_until(page, "Amira jest chora, ma gorączkę")
    shot(page, "05-parent-replied")

    page.goto(base + "/")
    reload_until(page, "suggested code")
    family = page.locator("li.family", has_text="Amira Nowak")
    expect(family.get_by_text("Replied", exact=True)).to_be_visible()
    expect(family.locator("strong.code")).to_have_text("I")
    expect(family.get_by_text("Amira jest chora")).to_be_visible()
    shot(page, "06-today-replied")

    page.get_by_role("navigation").get_by_role("link", name="Inbox", exact=True).click()
    card = page.locator("li.reply-card", has_text="Anna Nowak")
    expect(card.get_by_text("Amira jest chora")).to_be_visible()
    expect(card.locator("strong.code").first).to_have_text("I")
    shot(page, "07-inbox")
    card.get_by_role("button", name="Confirm reason").click()
    expect(page.get_by_text("Reason recorded: illness")).to_be_visible()

    page.goto(base + "/families/1")
    page.get_by_role("button", name="Preview").click()  # htmx, with the CSRF header, under the CSP
    expect(page.locator("#preview .message-text")).to_contain_text("Amira")
    shot(page, "08-family-preview")

    for path, name in (("/families/1", "08-family"), ("/milestones", "09-milestones"),
                       ("/templates?kind=absence_first_day&locale=en-GB&channel=sms", "10-templates"),
                       ("/settings", "11-settings"), ("/audit", "12-audit"), ("/sandbox/mailbox", "13-mailbox")):
        page.goto(base + path)
        expect(page.locator("h1")).to_be_visible()
        shot(page, name)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(base + "/")
    shot(page, "14-today-phone")
