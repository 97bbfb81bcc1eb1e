"""What every command shares: JSON output, one clear line per problem, a session on the configured DB."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any

import click


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(document, default=_default, ensure_ascii=False, indent=2))


def parse_date(value: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=option) from exc


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
