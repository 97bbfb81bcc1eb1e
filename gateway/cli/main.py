"""Entry point: ``gateway <command>``. Errors become one clear line per problem and a non-zero exit."""

from __future__ import annotations

import importlib
import logging
import sys

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.config import ConfigError
from gateway.errors import GatewayError, InputError

# Each module has ``register(cli, groups)``; see the module for its commands.
COMMAND_MODULES = (
    "gateway.cli.db",
    "gateway.cli.importing",
    "gateway.cli.templates",
    "gateway.cli.send",
    "gateway.cli.plan",
    "gateway.cli.pipeline",
    "gateway.cli.serve",
    "gateway.cli.operations",
    "gateway.cli.contacts",
    "gateway.cli.translations",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="More log output (never personal data).")
def cli(verbose: bool) -> None:
    """The parent communication gateway."""
    from gateway.logging_setup import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


GROUPS: dict[str, click.Group] = {}
for _name, _help in (
    ("db", "The database."),
    ("import", "Import school data (CTF, CSV, term dates)."),
    ("plan", "Who would be contacted, how and when; sends nothing."),
    ("templates", "Message templates."),
    ("absences", "Same-day absence follow-up."),
    ("export", "Exports for the office and for subject-access requests."),
):
    GROUPS[_name] = click.Group(_name, help=_help)
    cli.add_command(GROUPS[_name])

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(cli, GROUPS)


def database_problem(exc: DBAPIError) -> str:
    """What went wrong with the database, in one line an operator can act on."""
    text = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "the database has no tables yet: run `gateway db upgrade` first"
    if isinstance(exc, OperationalError):
        return f"cannot reach the database ({text}); check GATEWAY_DATABASE_URL and that the server is running"
    return f"database error: {text}"


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="gateway", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except InputError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    except (GatewayError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except DBAPIError as exc:  # one line, not a traceback: the database is missing, unreachable or not set up
        click.echo(f"error: {database_problem(exc)}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    sys.exit(0)


if __name__ == "__main__":
    main()
