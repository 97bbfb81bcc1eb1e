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


def _seed_if_empty(day: date, pupils: int, progress: Any = None) -> bool:
    from sqlalchemy import func, select

    from gateway.migrate import upgrade
    from gateway.models import Pupil
    from gateway.operations.demo_school import seed_demo_school

    settings = get_settings()
    upgrade(settings.database_url)
    with session_scope() as session:
        if session.scalar(select(func.count()).select_from(Pupil)):
            return False
        seed_demo_school(session, settings.var_path / "demo", day, pupils=pupils, progress=progress)
    return True


def _login_lines() -> list[str]:
    from gateway.operations.demo_school import DEMO_PASSWORD, DEMO_STAFF

    return [f"  {username:<11} ({role.value}) password {DEMO_PASSWORD}" for username, role, _n, _e in DEMO_STAFF]


def serve_demo(*, host: str, port: int, pupils: int, smtp_port: int | None = None) -> None:
    """Seed var/gateway.db once, then serve the app with the worker, scheduler and sandboxes in-process.
    ``smtp_port`` moves the SMTP sandbox off its default port (8025) when something else holds it."""
    from gateway.clock import now
    from gateway.web.server import serve

    _sandboxed(smtp_port=smtp_port)
    settings = get_settings()
    day = school_day(now().astimezone(settings.tz).date())  # a weekend start seeds the next Monday
    print(f"Seeding the demo school ({pupils} pupils) for {day:%A %-d %B %Y} if it is not there yet …", flush=True)
    seeded = _seed_if_empty(day, pupils, progress=lambda stage: print(f"  {stage} …", flush=True))
    print("Demo school: Oakfield Primary School" + (" (seeded now)" if seeded else " (already seeded)"))
    print("Log in with:", *_login_lines(), sep="\n", flush=True)
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


CASE_STATE_WORDS = {"open": "still open", "replied": "the family replied", "closed": "closed",
                    "escalated": "reached the emergency contacts", "dsl_alerted": "the DSL was alerted"}


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The scripted day in an office's words: no internal names, language names, register codes explained."""
    from gateway.web.labels import KIND_WORDS, delivery_state, language_name, register_code

    table = Table(title=f"Demo school day {summary['date']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    states = {CASE_STATE_WORDS.get(k, k): v for k, v in summary["cases_by_state"].items()}
    table.add_row("families followed up", str(summary["cases_opened"]), _fmt(states))
    table.add_row("  of which brothers and sisters together", str(summary["siblings_cases"]), "")
    for channel, count in sorted(summary["messages_by_channel"].items()):
        name = {"sms": "texts", "email": "e-mails", "voice": "phone calls"}.get(channel, channel)
        table.add_row(f"{name} sent", str(count), "")
    languages = {language_name(k): v for k, v in summary["messages_by_language"].items()}
    table.add_row("languages used", str(len(languages)), _fmt(languages))
    kinds = {KIND_WORDS.get(k, k.replace("_", " ")): v for k, v in summary["messages_by_kind"].items()}
    table.add_row("messages, by what they said", str(sum(kinds.values())), _fmt(kinds))
    states = {delivery_state(k): v for k, v in summary["messages_by_state"].items()}
    table.add_row("messages, by where they got to", str(sum(states.values())), _fmt(states))
    codes = {f"{code} ({register_code(code)})": v for code, v in summary["replies_by_code"].items()}
    table.add_row("replies from parents", str(summary["replies"]), _fmt(codes))
    table.add_row("follow-ups stopped by a reply", str(summary["ladders_stopped_by_reply"]),
                  f"{summary['pending_cancelled_by_reply']} messages no longer needed were not sent")
    table.add_row("families followed up beyond the first message", str(summary["escalated_cases"]), "")
    table.add_row("DSL alerts (nobody could be reached)", str(summary["dsl_alerts"]), "")
    table.add_row("e-mails in the sandbox mailbox", str(summary["mailbox"]), "")
    console.print(table)
    console.print("Replies and thank-yous differ: each family is thanked once, for its first reply, so a family "
                  "that writes twice (or two parents who both reply) gets one thank-you.")


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
