"""The command line says what is wrong in one line, never a traceback: an unreachable PostgreSQL, a malformed
database URL, an unsupported database, a SQLite folder that does not exist, a database without tables, a bad
GATEWAY_CLOCK, an unknown locale for ``render``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def gateway(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    clean.update(GATEWAY_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], cwd=tmp_path, env=clean,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://nobody@127.0.0.1:1/gateway", "cannot reach the database"),
    ("not a url", "is not a database URL"),
    ("mysql://user@host/db", "'mysql' databases are not supported"),
    ("sqlite:////no/such/folder/gateway.db", "the folder /no/such/folder does not exist"),
])
def test_database_problems_are_one_line(tmp_path: Path, url: str, says: str) -> None:
    result = gateway(["db", "upgrade"], tmp_path, GATEWAY_DATABASE_URL=url)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not Path("/no/such/folder").exists()


def test_a_fresh_database_and_a_bad_clock_say_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = gateway(["absences", "start"], tmp_path, GATEWAY_DATABASE_URL=url, GATEWAY_CLOCK="2026-11-23T09:30")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "run `gateway db upgrade` first" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = gateway(["absences", "start"], tmp_path, GATEWAY_DATABASE_URL=url, GATEWAY_CLOCK="half past nine")
    assert result.returncode == 2 and "GATEWAY_CLOCK 'half past nine' is not a date and time" in result.stderr


def test_render_refuses_an_unknown_locale(tmp_path: Path) -> None:
    result = gateway(["render", "absence_first_day", "--channel", "sms", "--locale", "xx"], tmp_path)
    assert result.returncode == 2 and "'xx' is not a language tag" in result.stderr
    assert result.stdout == ""
