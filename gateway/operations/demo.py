"""``gateway demo``: the demo school served live, or its school day run and summarised (``--no-serve``).

The demo always uses the sandboxes and the in-process broker, whatever else is configured: it must never
reach a real parent.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.config import get_settings
from gateway.db import dispose_engines, session_scope


def _sandboxed(database_url: str | None = None, *, smtp_port: int | None = None) -> None:
    os.environ["GATEWAY_CHANNELS"] = "sandbox"
    os.environ["GATEWAY_BROKER_URL"] = "memory://"
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_URL", "SMTP_HOST", "SMTP_PORT"):
        os.environ.pop(name, None)
    if smtp_port is not None:  # a private SMTP sandbox: never collide with a served demo on 8025
        os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = "127.0.0.1", str(smtp_port)
    if database_url:
        os.environ["GATEWAY_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    dispose_engines()


def school_day(today: date) -> date:
    """Today, or the next Monday when today is a weekend (registers are not taken then)."""
    return today if today.weekday() < 5 else today + timedelta(days=7 - today.weekday())


def _seed_if_empty(day: date, pupils: int) -> bool:
    from sqlalchemy import func, select

    from gateway.migrate import upgrade
    from gateway.models import Pupil
    from gateway.operations.demo_school import seed_demo_school

    settings = get_settings()
    upgrade(settings.database_url)
    with session_scope() as session:
        if session.scalar(select(func.count()).select_from(Pupil)):
            return False
        seed_demo_school(session, settings.var_path / "demo", day, pupils=pupils)
    return True


def _login_lines() -> list[str]:
    from gateway.operations.demo_school import DEMO_PASSWORD, DEMO_STAFF

    return [f"  {username:<11} ({role.value}) password {DEMO_PASSWORD}" for username, role, _n, _e in DEMO_STAFF]


def serve_demo(*, host: str, port: int, pupils: int) -> None:
    """Seed var/gateway.db once, then serve the app with the worker, scheduler and sandboxes in-process."""
    from gateway.clock import now
    from gateway.web.server import serve

    _sandboxed()
    settings = get_settings()
    day = now().astimezone(settings.tz).date()
    seeded = _seed_if_empty(day, pupils)
    print("Demo school: Oakfield Primary School" + (" (seeded now)" if seeded else " (already seeded)"))
    print("Log in with:", *_login_lines(), sep="\\n")
    serve(host, port, with_worker=True)


def run_demo_day(*, pupils: int) -> bool:
    """Seed a fresh demo database, run one school day, print the summary; True when every check passed."""
    from gateway.clock import now
    from gateway.operations.demo_day import demo_checks, run_school_day

    var = Path(get_settings().var_dir)
    var.mkdir(parents=True, exist_ok=True)
    database = var / "demo-day.db"
    for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    from channels.sandbox.runner import free_port

    _sandboxed(f"sqlite:///{database}", smtp_port=free_port())
    console = Console()
    day = school_day(now().astimezone(get_settings().tz).date())
    console.print(f"Seeding the demo school ({pupils} pupils) for {day} …")
    _seed_if_empty(day, pupils)
    summary = run_school_day(day, announce=console.print)
    _print_summary(console, summary)
    checks = demo_checks(summary)
    for label, ok in checks:
        console.print(("[green]✓[/green] " if ok else "[red]✗[/red] ") + label)
    return all(ok for _label, ok in checks)


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title=f"Demo school day {summary['date']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row("cases opened", str(summary["cases_opened"]), _fmt(summary["cases_by_state"]))
    table.add_row("  of which siblings together", str(summary["siblings_cases"]), "")
    for channel, count in sorted(summary["messages_by_channel"].items()):
        table.add_row(f"messages by {channel}", str(count), "")
    table.add_row("languages used", str(len(summary["messages_by_language"])), _fmt(summary["messages_by_language"]))
    for key in ("messages_by_kind", "messages_by_state"):
        table.add_row(key.replace("_", " "), str(sum(summary[key].values())), _fmt(summary[key]))
    table.add_row("replies from parents", str(summary["replies"]), "codes " + _fmt(summary["replies_by_code"]))
    table.add_row("ladders stopped by a reply", str(summary["ladders_stopped_by_reply"]),
                  f"{summary['pending_cancelled_by_reply']} pending messages cancelled")
    table.add_row("cases escalated (step 2+)", str(summary["escalated_cases"]), "")
    table.add_row("DSL alerts", str(summary["dsl_alerts"]), "")
    table.add_row("e-mails in the sandbox mailbox", str(summary["mailbox"]), "")
    console.print(table)


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
