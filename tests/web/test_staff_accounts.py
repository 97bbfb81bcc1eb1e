"""Staff accounts: argon2 hashes, the lock-out and its expiry, and the ``gateway staff`` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AuditEntry, StaffRole, StaffUser
from gateway.staff import (
    LOCK_MINUTES,
    MAX_FAILED_LOGINS,
    SignInOutcome,
    StaffError,
    create_staff,
    verify_sign_in,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_password_is_stored_as_an_argon2_hash(session: Session) -> None:
    staff = create_staff(session, username="Office", password="a-long-password", role=StaffRole.OFFICE)
    assert staff.username == "office"
    assert staff.password_hash.startswith("$argon2id$") and "a-long-password" not in staff.password_hash
    assert verify_sign_in(session, "OFFICE", "a-long-password", NOW).outcome is SignInOutcome.OK


def test_short_password_duplicate_name_and_unknown_role_are_refused(session: Session) -> None:
    with pytest.raises(StaffError, match="at least"):
        create_staff(session, username="a", password="short", role="office")
    create_staff(session, username="b", password="a-long-password", role="office")
    with pytest.raises(StaffError, match="already exists"):
        create_staff(session, username="B", password="a-long-password", role="office")
    with pytest.raises(StaffError, match="not one of"):
        create_staff(session, username="c", password="a-long-password", role="head")


def test_lock_after_repeated_failures_then_expiry(session: Session) -> None:
    create_staff(session, username="dsl", password="a-long-password", role=StaffRole.DSL)
    outcomes = [verify_sign_in(session, "dsl", "wrong", NOW).outcome for _ in range(MAX_FAILED_LOGINS)]
    assert outcomes[-1] is SignInOutcome.LOCKED and set(outcomes[:-1]) == {SignInOutcome.WRONG}
    assert verify_sign_in(session, "dsl", "a-long-password", NOW).outcome is SignInOutcome.LOCKED
    later = NOW + timedelta(minutes=LOCK_MINUTES, seconds=1)
    assert verify_sign_in(session, "dsl", "a-long-password", later).outcome is SignInOutcome.OK


def test_inactive_account_cannot_sign_in(session: Session) -> None:
    staff = create_staff(session, username="gone", password="a-long-password", role=StaffRole.OFFICE)
    staff.active = False
    assert verify_sign_in(session, "gone", "a-long-password", NOW).outcome is SignInOutcome.INACTIVE


def test_staff_commands(database_url: str, session: Session) -> None:
    from click.testing import CliRunner

    from gateway.cli.main import cli

    runner = CliRunner()
    added = runner.invoke(cli, ["staff", "add", "lead", "--role", "attendance_lead", "--name", "Pat Lead",
                                "--password-stdin"], input="a-long-password\n")
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["staff", "list"])
    assert "lead\tattendance_lead\tactive\tPat Lead" in listed.output
    staff = session.scalars(select(StaffUser).where(StaffUser.username == "lead")).one()
    assert staff.role is StaffRole.ATTENDANCE_LEAD
    assert session.scalars(select(AuditEntry.action)).all() == ["create_staff"]
    unlocked = runner.invoke(cli, ["staff", "unlock", "lead"])
    assert unlocked.exit_code == 0
