"""``gateway db upgrade``."""

from __future__ import annotations

import click

from gateway.config import get_settings


@click.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database (Alembic)."""
    from gateway.migrate import upgrade

    upgrade(get_settings().database_url)
    click.echo("database is up to date")


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    groups["db"].add_command(upgrade_command)
