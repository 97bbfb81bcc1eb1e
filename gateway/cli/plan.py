"""``gateway plan absence`` and ``gateway plan fresh-start``: who would be contacted, how, when; sends nothing."""

from __future__ import annotations

from datetime import datetime

import click

from gateway.cli.common import parse_date
from gateway.config import get_settings
from gateway.routing import Plan
from gateway.routing.plan import write_plan_json


def _now() -> datetime:
    from gateway.clock import now

    return now()


@click.command("absence")
@click.option("--date", "day", required=True, help="The day of the absences (YYYY-MM-DD).")
@click.option("--pupil", "upns", multiple=True, help="Only this pupil (UPN), planned as absent; repeatable.")
@click.option("--step", default=1, show_default=True, type=int, help="Ladder step (config/escalation.toml).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON document.")
def absence_command(day: str, upns: tuple[str, ...], step: int, as_json: bool) -> None:
    """Who would be contacted about the unexplained absences (code N) on --date, at ladder step --step."""
    from gateway.db import session_factory
    from gateway.routing import EscalationLadder, capabilities_from_rendering, plan_absence
    from gateway.routing.loader import (
        load_continuing_absences,
        load_households,
        load_unexplained_absences,
        pupil_ids_for_upns,
    )

    settings = get_settings()
    on = parse_date(day)
    ladder = EscalationLadder.load(settings.escalation_path())
    ladder.step(step)  # an unknown step is an error before touching the database
    tz = settings.tz
    now = _now()
    with session_factory()() as session:
        if upns:
            pupil_ids = list(pupil_ids_for_upns(session, list(upns)).values())
        else:
            pupil_ids = load_unexplained_absences(session, on)
        households = load_households(session, pupil_ids)
        continuing = load_continuing_absences(session, on, pupil_ids)
    # Planning today: messages go from now on. Any other day: as the ladder would schedule it.
    planning_now = now if now.astimezone(tz).date() == on else None
    plan = plan_absence(households, date=on, step=step, ladder=ladder, now=planning_now, tz=tz,
                        capabilities=capabilities_from_rendering(), absent_pupil_ids=pupil_ids,
                        continuing_pupil_ids=continuing)
    _print(plan, as_json)


@click.command("fresh-start")
@click.option("--date", "day", required=True, help="Plan the half-term starting on or after this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON document.")
def fresh_start_command(day: str, as_json: bool) -> None:
    """The fresh-start nudges the half-term starting on or after --date would send (days missed last
    half-term, only below 95% attendance)."""
    from gateway.db import session_factory
    from gateway.routing import EscalationLadder, capabilities_from_rendering
    from gateway.routing.school_plans import plan_fresh_start_for_school

    settings = get_settings()
    on = parse_date(day)
    ladder = EscalationLadder.load(settings.escalation_path())
    from gateway.pipeline.milestones import recent_counts

    with session_factory()() as session:
        now = _now()
        # The weekly cap counts routine messages the outbox has sent each adult in the last seven days.
        plan = plan_fresh_start_for_school(session, on_or_after=on, now=now, tz=settings.tz, ladder=ladder,
                                           capabilities=capabilities_from_rendering(),
                                           recent_counts=recent_counts(session, now),
                                           weekly_cap=settings.weekly_routine_cap)
    _print(plan, as_json)


def _print(plan: Plan, as_json: bool) -> None:
    if as_json:
        # Streamed entry by entry: a trust-wide plan is too big to build as one document in memory.
        write_plan_json(plan, lambda text: click.echo(text, nl=False))
        return
    step = f" step {plan.step}" if plan.step is not None else ""
    click.echo(f"{plan.kind}{step} for {plan.date.isoformat()}: {len(plan.deliveries)} deliveries, "
               f"{len(plan.suppressed)} suppressed")
    for d in plan.deliveries:
        click.echo(f"  {d.send_at:%Y-%m-%d %H:%M} {d.channel:<5} {d.contact_name} ({d.relationship}) "
                   f"{d.to} [{d.locale}, {d.variant}] pupils {', '.join(d.pupils)}: {d.why}")
    for s in plan.suppressed:
        click.echo(f"  not contacted: {s.contact_name} (pupils {', '.join(s.pupils)}): {s.reason}"
                   + (f" ({s.detail})" if s.detail else ""))
    if plan.alert_dsl:
        click.echo("  the DSL is alerted about: " + ", ".join(plan.unreached))
    elif plan.unreached:
        click.echo("  nobody is contacted about: " + ", ".join(plan.unreached))


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Register ``plan absence`` and ``plan fresh-start``."""
    groups["plan"].add_command(absence_command)
    groups["plan"].add_command(fresh_start_command)
