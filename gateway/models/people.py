"""Schools, pupils, the adults around them and how each adult may be reached."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, ContactKind, Literacy, Restriction, UTCDateTime, utcnow

_restriction = Enum(Restriction, name="restriction", values_callable=lambda e: [m.value for m in e],
                    native_enum=False, length=16)
_literacy = Enum(Literacy, name="literacy", values_callable=lambda e: [m.value for m in e],
                 native_enum=False, length=16)
_contact_kind = Enum(ContactKind, name="contact_kind", values_callable=lambda e: [m.value for m in e],
                     native_enum=False, length=16)


class School(Base):
    __tablename__ = "school"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    urn: Mapped[str | None] = mapped_column(String(16), unique=True)
    estab: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    attendance_officer: Mapped[str | None] = mapped_column(String(120))

    pupils: Mapped[list[Pupil]] = relationship(back_populates="school")


class Pupil(Base):
    __tablename__ = "pupil"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"), index=True)
    upn: Mapped[str] = mapped_column(String(13), unique=True)
    forename: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100))
    preferred_forename: Mapped[str | None] = mapped_column(String(100))
    year_group: Mapped[str | None] = mapped_column(String(8))
    home_language: Mapped[str] = mapped_column(String(16), default="en-GB")
    home_language_dfe: Mapped[str | None] = mapped_column(String(8))
    # Never nudge about attendance where the family is bereaved or the child long-term ill.
    bereaved: Mapped[bool] = mapped_column(Boolean, default=False)
    long_term_ill: Mapped[bool] = mapped_column(Boolean, default=False)
    support_plan: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    school: Mapped[School | None] = relationship(back_populates="pupils")
    links: Mapped[list[PupilContact]] = relationship(back_populates="pupil", cascade="all, delete-orphan")

    @property
    def display_forename(self) -> str:
        return self.preferred_forename or self.forename


class Adult(Base):
    """A parent, carer or emergency contact; one row however many children they are linked to.

    Preferences live here: channel order, language (BCP 47), literacy and the routine contact window.
    """

    __tablename__ = "adult"

    id: Mapped[int] = mapped_column(primary_key=True)
    # contact_ref from the MIS CSV, or a key derived from name + phone/e-mail for CTF contacts.
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    match_key: Mapped[str | None] = mapped_column(String(200), index=True)
    title: Mapped[str | None] = mapped_column(String(20))
    forename: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16))
    literacy: Mapped[Literacy] = mapped_column(_literacy, default=Literacy.STANDARD)
    channel_order: Mapped[str] = mapped_column(String(40), default="sms,email,voice")
    window_start: Mapped[time | None] = mapped_column(Time())
    window_end: Mapped[time | None] = mapped_column(Time())
    address: Mapped[str | None] = mapped_column(String(400))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    links: Mapped[list[PupilContact]] = relationship(back_populates="adult", cascade="all, delete-orphan")
    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="adult", cascade="all, delete-orphan", order_by="ContactPoint.position"
    )

    @property
    def full_name(self) -> str:
        return f"{self.forename} {self.surname}".strip()

    @property
    def channels(self) -> list[str]:
        return [c for c in self.channel_order.split(",") if c]


class PupilContact(Base):
    """The link between a pupil and an adult: relationship, priority, responsibility, restriction."""

    __tablename__ = "pupil_contact"
    __table_args__ = (UniqueConstraint("pupil_id", "adult_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), index=True)
    adult_id: Mapped[int] = mapped_column(ForeignKey("adult.id", ondelete="CASCADE"), index=True)
    relationship_code: Mapped[str] = mapped_column(String(3), default="NOT")
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)
    parental_responsibility: Mapped[bool] = mapped_column(Boolean, default=False)
    lives_with_pupil: Mapped[bool | None] = mapped_column(Boolean)
    restriction: Mapped[Restriction] = mapped_column(_restriction, default=Restriction.NONE)
    dsl_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dsl_approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    # An adult who lives with the pupil and cares for them (lives_with_pupil and a caring relationship, see
    # gateway.relationships.CARING_RELATIONSHIPS) is in the audience of the parental-responsibility steps and
    # routine messages, as the guidance asks, unless the DSL sets this to False for the link.
    household_carer_in_audience: Mapped[bool] = mapped_column(Boolean, default=True)

    pupil: Mapped[Pupil] = relationship(back_populates="links")
    adult: Mapped[Adult] = relationship(back_populates="links")


class ContactPoint(Base):
    """One way to reach an adult: a phone in E.164 or an e-mail address."""

    __tablename__ = "contact_point"
    __table_args__ = (UniqueConstraint("adult_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    adult_id: Mapped[int] = mapped_column(ForeignKey("adult.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ContactKind] = mapped_column(_contact_kind)
    value: Mapped[str] = mapped_column(String(254), index=True)
    sms_capable: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_permanent_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_reason: Mapped[str | None] = mapped_column(String(64))

    adult: Mapped[Adult] = relationship(back_populates="contact_points")
