"""Operations: ``gateway purge``, ``gateway export adult``, ``gateway demo``."""

from __future__ import annotations

import json

import click

from gateway.cli.common import emit_json, parse_date


@click.command("purge")
@click.option("--before", "before_text", required=True, help="Delete history dated before this day (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--include-audit", is_flag=True, help="Also delete staff audit entries before the date.")
@click.option("--json", "as_json", is_flag=True)
def purge_command(before_text: str, dry_run: bool, include_audit: bool, as_json: bool) -> None:
    """Retention purge: message history, replies, cases and register copies before a date."""
    from gateway.clock import now
    from gateway.config import get_settings
    from gateway.db import session_scope
    from gateway.operations.retention import purge_before

    before = parse_date(before_text, "--before")
    today = now().astimezone(get_settings().tz).date()
    with session_scope() as session:
        summary = purge_before(session, before, today=today, dry_run=dry_run, include_audit=include_audit)
    if as_json:
        emit_json(summary.as_dict())
    else:
        verb = "would delete" if dry_run else "deleted"
        counts = {k: v for k, v in summary.as_dict().items() if isinstance(v, int) and not isinstance(v, bool)}
        click.echo(f"{verb} before {before}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))


@click.command("adult")
@click.option("--id", "adult_id", type=int)
@click.option("--ref", help="The MIS contact reference.")
@click.option("--phone")
@click.option("--email")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout.")
def export_adult_command(adult_id: int | None, ref: str | None, phone: str | None, email: str | None,
                         output: str | None) -> None:
    """Subject-access export: everything held about one adult, as JSON."""
    from gateway.db import session_scope
    from gateway.operations.subject_access import export_adult, find_adult

    with session_scope() as session:
        adult = find_adult(session, adult_id=adult_id, ref=ref, phone=phone, email=email)
        document = export_adult(session, adult)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
        click.echo(f"written to {output}")
    else:
        emit_json(document)


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Run a scripted school day on an accelerated clock, print a summary.")
@click.option("--pupils", default=600, show_default=True, help="Size of the demo school.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--smtp-port", "smtp_port", type=int, default=None,
              help="Port for the demo's SMTP sandbox (default 8025), when something else holds it.")
@click.pass_context
def demo_command(ctx: click.Context, no_serve: bool, pupils: int, host: str, port: int,
                 smtp_port: int | None) -> None:
    """What `make demo` runs: seed the demo school and serve it, or run its school day (--no-serve)."""
    import logging

    from gateway.operations.demo import run_demo_day, serve_demo

    if no_serve:
        if not (ctx.parent and ctx.parent.params.get("verbose")):
            logging.getLogger().setLevel(logging.WARNING)  # the summary table is the output; -v shows the logs
        if not run_demo_day(pupils=pupils):
            raise SystemExit(1)
    else:
        serve_demo(host=host, port=port, pupils=pupils, smtp_port=smtp_port)


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    cli.add_command(purge_command)
    cli.add_command(demo_command)
    groups["export"].add_command(export_adult_command)
