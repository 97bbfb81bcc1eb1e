"""``gateway contacts problems [--json]``: every adult the gateway cannot reach as their preferences ask."""

from __future__ import annotations

import click

from gateway.cli.common import emit_json


@click.command("problems")
@click.option("--json", "as_json", is_flag=True, help="Print the list as one JSON document.")
def problems_command(as_json: bool) -> None:
    """List every adult the gateway cannot reach as their preferences ask, and why (contacts to fix)."""
    from gateway.contact_problems import find_contact_problems
    from gateway.db import session_scope

    with session_scope() as session:
        problems = find_contact_problems(session)
    if as_json:
        emit_json({"count": len(problems), "adults": [p.as_dict() for p in problems]})
        return
    if not problems:
        click.echo("Every adult can be reached as their preferences ask.")
        return
    click.echo(f"{len(problems)} adult(s) to fix:")
    for problem in problems:
        click.echo(f"{problem.name} (adult {problem.adult_id}; pupils {', '.join(problem.pupils) or 'none'})")
        for reason in problem.reasons:
            click.echo(f"  - {reason}")


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Add the ``contacts`` group and ``contacts problems``."""
    group = groups.get("contacts")
    if group is None:
        group = groups["contacts"] = click.Group("contacts", help="Contact details the office should fix.")
        cli.add_command(group)
    group.add_command(problems_command)
