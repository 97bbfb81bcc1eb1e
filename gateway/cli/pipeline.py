"""``gateway absences start``, ``gateway worker``, ``gateway scheduler`` and ``gateway export reasons``."""

from __future__ import annotations

import sys

import click

from gateway.cli.common import emit_json, parse_date


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Add the pipeline's commands to the ``gateway`` command."""
    groups["absences"].add_command(absences_start)
    groups["export"].add_command(export_reasons)
    cli.add_command(worker)
    cli.add_command(scheduler)


@click.command("start")
@click.option("--date", "day", help="The day of the absences (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def absences_start(day: str | None, as_json: bool) -> None:
    """Start same-day follow-up for the day's unexplained absences (one case per family)."""
    from gateway import clock
    from gateway.config import get_settings
    from gateway.db import session_scope
    from gateway.pipeline.absence import start_followup
    from gateway.pipeline.broker import is_in_memory

    on = parse_date(day) if day else clock.now().astimezone(get_settings().tz).date()
    with session_scope() as session:
        summary = start_followup(session, on)
    if is_in_memory():
        _drain_in_process()
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(f"{on.isoformat()}: {summary.cases_opened} case(s) opened, "
                   f"{summary.messages_queued} message(s) queued")


def _drain_in_process() -> None:
    """With memory:// nothing outside this process can send: run a worker here until the queue is empty."""
    from gateway.pipeline.actors import QUEUES
    from gateway.pipeline.broker import get_pipeline_broker
    from gateway.pipeline.worker import running_worker, start_worker, stop_worker

    broker = get_pipeline_broker()
    existing = running_worker()
    worker = existing or start_worker()
    try:
        for queue in QUEUES:
            broker.join(queue, timeout=300_000)
        worker.join()
    finally:
        if existing is None:
            stop_worker(worker)


@click.command("worker")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Worker threads in this process (default: GATEWAY_WORKER_THREADS, else sized from TWILIO_MPS "
                   "x TWILIO_EXPECTED_LATENCY, 8 to 64).")
def worker(threads: int | None) -> None:
    """Run a Dramatiq worker for the configured broker (stops cleanly on SIGTERM)."""
    from gateway.pipeline.broker import is_in_memory
    from gateway.pipeline.worker import run_worker

    if is_in_memory():
        click.echo("warning: GATEWAY_BROKER_URL is memory://: this worker only sees messages sent inside "
                   "this process; use `gateway serve --with-worker`, or redis:// / amqp://", err=True)
    run_worker(threads=threads)


@click.command("scheduler")
@click.option("--tick", type=float, default=None, help="Seconds of real time between passes (default 2).")
def scheduler(tick: float | None) -> None:
    """Find due work (ladder steps, scheduled messages, half-term nudges) and enqueue it; safe to run twice."""
    from gateway.pipeline.broker import is_in_memory
    from gateway.pipeline.scheduler import run_scheduler

    if is_in_memory():
        click.echo("warning: GATEWAY_BROKER_URL is memory://: work this scheduler enqueues is only seen by "
                   "workers in this process; use `gateway serve --with-worker`, or redis:// / amqp://", err=True)
    run_scheduler(tick_seconds=tick)


@click.command("reasons")
@click.option("--date", "day", required=True, help="The day of the absences (YYYY-MM-DD).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="CSV file (default stdout).")
def export_reasons(day: str, output: str | None) -> None:
    """Parents' reasons for a day's absences as CSV (upn, date, session, suggested code, reason, source,
    confirmed by) for the MIS register notes."""
    from gateway.db import session_scope
    from gateway.operations.reasons import write_reasons

    on = parse_date(day)
    with session_scope() as session:
        if output:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                count = write_reasons(session, on, handle)
            click.echo(f"{count} row(s) written to {output}", err=True)
        else:
            write_reasons(session, on, sys.stdout)
