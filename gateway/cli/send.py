"""Commands of this group are not built yet (placeholder replaced by its issue's work)."""

from __future__ import annotations

import click


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Nothing registered yet."""
