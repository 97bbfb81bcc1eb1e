"""``gateway serve`` (the web app and webhooks) and ``gateway staff …`` (staff accounts)."""

from __future__ import annotations

import os
import sys

import click

from gateway.models import StaffRole

ROLE_NAMES = [role.value for role in StaffRole]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--with-worker", is_flag=True,
              help="Also run the worker and the scheduler in this process (one machine, memory:// broker).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Web processes sharing the port (busy sites; not with --with-worker).")
def serve_command(host: str, port: int, with_worker: bool, workers: int) -> None:
    """Serve the staff web app and the Twilio webhooks."""
    from gateway.web.server import serve

    if workers > 1 and with_worker:
        raise click.UsageError("--workers above 1 cannot be combined with --with-worker "
                               "(run `gateway worker` beside it with a redis:// or amqp:// broker)")
    serve(host, port, with_worker=with_worker, workers=workers, announce=lambda line: click.echo(line))


staff_group = click.Group("staff", help="Staff accounts for the web app.")


def _read_password(from_stdin: bool) -> str:
    # The environment variable serves scripts (the demo); stdin serves pipes; otherwise ask, twice, hidden.
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("GATEWAY_STAFF_PASSWORD")
    if env:
        return env
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@staff_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES), help="What the account may do.")
@click.option("--name", "display_name", default=None, help="Name shown in the app (default: the username).")
@click.option("--email", default=None, help="E-mail address (for DSL alerts).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def staff_add(username: str, role: str, display_name: str | None, email: str | None, password_stdin: bool) -> None:
    """Create a staff account (the password is hashed with argon2; it is never stored or shown)."""
    from gateway.db import session_scope
    from gateway.staff import create_staff, record_audit

    password = _read_password(password_stdin)
    with session_scope() as session:
        staff = create_staff(session, username=username, password=password, role=role,
                             display_name=display_name, email=email)
        record_audit(session, None, "create_staff", "staff_user", staff.id, {"role": role, "via": "cli"})
        click.echo(f"created {staff.username} ({role})")


@staff_group.command("list")
def staff_list() -> None:
    """List staff accounts."""
    from sqlalchemy import select

    from gateway.db import session_scope
    from gateway.models import StaffUser

    with session_scope() as session:
        for staff in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            state = "inactive" if not staff.active else ("locked" if staff.locked_until else "active")
            click.echo(f"{staff.username}\t{staff.role.value}\t{state}\t{staff.display_name}")


@staff_group.command("unlock")
@click.argument("username")
def staff_unlock(username: str) -> None:
    """Lift a sign-in lock-out."""
    from sqlalchemy import select

    from gateway.db import session_scope
    from gateway.errors import NotFoundError
    from gateway.models import StaffUser
    from gateway.staff import record_audit

    with session_scope() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
        if staff is None:
            raise NotFoundError(f"no staff account named {username!r}")
        staff.locked_until, staff.failed_logins = None, 0
        record_audit(session, None, "unlock_account", "staff_user", staff.id, {"via": "cli"})
        click.echo(f"unlocked {staff.username}")


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """``gateway serve`` and the ``gateway staff`` group."""
    cli.add_command(serve_command)
    cli.add_command(staff_group)
    groups["staff"] = staff_group
