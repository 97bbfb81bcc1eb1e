"""The one declarative base, shared column helpers and enums."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Restriction(enum.StrEnum):
    """A DSL decision about contacting one adult. Restrictions are absolute."""

    NONE = "none"
    NO_CONTACT = "no_contact"
    DSL_APPROVAL = "dsl_approval"


class Literacy(enum.StrEnum):
    STANDARD = "standard"
    PLAIN = "plain"
    VOICE = "voice"


class ContactKind(enum.StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    WORK = "work"
    EMAIL = "email"
    # A Minicom textphone (CTF telephone type D): recorded and shown to staff, never called or texted
    # (a voice call or an SMS cannot reach a textphone; staff use a relay service).
    MINICOM = "minicom"


class StaffRole(enum.StrEnum):
    OFFICE = "office"
    ATTENDANCE_LEAD = "attendance_lead"
    DSL = "dsl"
    ADMIN = "admin"


class Session(enum.StrEnum):
    AM = "AM"
    PM = "PM"
