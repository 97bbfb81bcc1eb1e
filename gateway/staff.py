"""Staff accounts: argon2 password hashes, creation, sign-in with account lock-out, and the audit log.

An account is locked for ``LOCK_MINUTES`` after ``MAX_FAILED_LOGINS`` wrong passwords in a row; a correct
password while locked still fails, so a guesser learns nothing from the lock. Every attempt verifies one
argon2 hash (the account's, or a dummy one for an unknown username), locked or not, so every failure takes
as long. The web layer adds a per-IP limiter on top (see ``gateway.web.auth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.models import AuditEntry, StaffRole, StaffUser

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verifying against this when the username is unknown keeps the response time the same as for a real account.
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-timing")


class StaffError(GatewayError):
    """A staff account could not be created or changed (the message says why)."""


class SignInOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown user or wrong password: never say which
    LOCKED = "locked"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    staff: StaffUser | None = None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted, parameters embedded in the string)."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    role: StaffRole | str,
    display_name: str | None = None,
    email: str | None = None,
) -> StaffUser:
    """Add a staff account (flushes; the caller commits). Usernames are case-insensitive."""
    username = username.strip().lower()
    if not username:
        raise StaffError("username must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    try:
        role = StaffRole(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in StaffRole)
        raise StaffError(f"role {role!r} is not one of {choices}") from exc
    if session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.username == username)):
        raise StaffError(f"a staff account named {username!r} already exists")
    staff = StaffUser(
        username=username,
        display_name=display_name or username,
        email=email,
        role=role,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
    )
    session.add(staff)
    session.flush()
    return staff


def set_password(session: Session, staff: StaffUser, password: str) -> None:
    """Replace a password and lift any lock."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    session.flush()


def is_locked(staff: StaffUser, now: datetime) -> bool:
    return staff.locked_until is not None and staff.locked_until > now


def verify_sign_in(session: Session, username: str, password: str, now: datetime) -> SignInResult:
    """Check a sign-in attempt and update the failure count / lock (flushes; the caller commits)."""
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if staff is None:
        password_matches(_DUMMY_HASH, password)
        return SignInResult(SignInOutcome.WRONG)
    if is_locked(staff, now):
        # Verify anyway (the result is ignored): a locked account must take as long to answer as a wrong
        # password, or the timing would tell a guesser that the username exists.
        password_matches(staff.password_hash, password)
        return SignInResult(SignInOutcome.LOCKED, staff)
    if not password_matches(staff.password_hash, password):
        staff.failed_logins = (staff.failed_logins or 0) + 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            staff.failed_logins = 0
            session.flush()
            return SignInResult(SignInOutcome.LOCKED, staff)
        session.flush()
        return SignInResult(SignInOutcome.WRONG, staff)
    if not staff.active:
        return SignInResult(SignInOutcome.INACTIVE, staff)
    staff.failed_logins = 0
    staff.locked_until = None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    session.flush()
    return SignInResult(SignInOutcome.OK, staff)


def record_audit(
    session: Session,
    staff: StaffUser | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry. ``detail`` must never carry a message body, phone number or e-mail address."""
    from gateway import clock

    entry = AuditEntry(
        at=clock.now(),  # the gateway's clock, as every other time staff see (an accelerated demo day included)
        staff_id=staff.id if staff is not None else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry
