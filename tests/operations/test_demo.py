"""`make demo`: the scripted school day shows what a school would want to see, and the served demo answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from channels.sandbox.runner import free_port
from gateway.operations.demo import school_day
from gateway.operations.demo_school import school_year_terms

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env["GATEWAY_VAR_DIR"] = str(tmp_path / "var")
    env["GATEWAY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    return env


def test_the_scripted_school_day_shows_every_channel_languages_replies_and_a_dsl_alert(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "demo", "--no-serve"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for line in ("✓ messages on every channel", "✓ at least 10 languages", "✓ a reply stopped a ladder",
                 "✓ a DSL alert"):
        assert line in run.stdout
    assert "families followed up" in run.stdout  # the summary speaks to an office: words, not internal names
    for internal in ("dsl_alerted", "absence_first_day", "accepted"):
        assert internal not in run.stdout


def test_the_served_demo_seeds_once_and_answers(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "demo", "--port", str(port), "--pupils", "60",
         "--smtp-port", str(free_port())],  # the SMTP sandbox moves off 8025 when asked
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the demo server exited"
            assert time.monotonic() < deadline, "the demo server did not answer within 120 s"
            time.sleep(0.5)
        login = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=5)
        assert login.status_code == 200
        assert "password" in login.text.lower()
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert "oakfield-demo" in out
    assert f"127.0.0.1:{port}" in out
    assert "importing contacts" in out  # seeding says what it is doing
    assert "\\n" not in out and "\n  office " in out  # one login per line, no literal backslash-n


def test_weekend_demo_day_moves_to_monday() -> None:
    from datetime import date

    assert school_day(date(2026, 11, 28)) == date(2026, 11, 30)
    assert school_day(date(2026, 11, 23)) == date(2026, 11, 23)


def test_term_calendar_has_six_half_terms() -> None:
    import tomllib
    from datetime import date

    terms = tomllib.loads(school_year_terms(date(2026, 11, 23)))
    assert [h["name"] for h in terms["half_term"]] == ["Autumn 1", "Autumn 2", "Spring 1", "Spring 2",
                                                       "Summer 1", "Summer 2"]
    assert all(h["start"] < h["end"] for h in terms["half_term"])
