"""The delivery pipeline's tables: absence cases, the outbox, inbound replies, DSL alerts, milestone batches.

The outbox is the source of truth for every message the gateway sends; the broker only carries its ids.
Times named ``*_at`` are gateway time (``gateway.clock.now()``) unless the column says otherwise:
``claimed_at`` and ``enqueued_at`` are *real* wall-clock time, because "stuck for N minutes" must not speed up
with an accelerated demo clock.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, UTCDateTime, utcnow
from gateway.models.people import Pupil


class CaseState(enum.StrEnum):
    """Where one family's absence follow-up for one day stands."""

    OPEN = "open"
    REPLIED = "replied"
    CLOSED = "closed"
    ESCALATED = "escalated"
    DSL_ALERTED = "dsl_alerted"
    # The parent asked to be called back: the ladder has stopped, a staff task is open (gateway.pipeline.casework)
    CALL_BACK = "call_back"


ACTIVE_CASE_STATES = (CaseState.OPEN, CaseState.ESCALATED)


class OutboxState(enum.StrEnum):
    """An outbox message's life: planned → queued → sending → accepted → delivered (or a failure state)."""

    PLANNED = "planned"  # awaiting staff approval (milestone batches)
    QUEUED = "queued"  # ready to send once send_after has come
    SENDING = "sending"  # claimed by a worker; the provider may or may not have it yet
    ACCEPTED = "accepted"  # the provider took it (provider_id known)
    DELIVERED = "delivered"  # final
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    CANCELLED = "cancelled"  # no longer wanted (the case closed first)
    SUPPRESSED = "suppressed"  # routing decided not to send (kept for the record)


PENDING_STATES = (OutboxState.PLANNED, OutboxState.QUEUED)
FINAL_STATES = frozenset(
    {OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.UNDELIVERED, OutboxState.CANCELLED,
     OutboxState.SUPPRESSED}
)


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16)


absence_case_pupil = Table(
    "absence_case_pupil",
    Base.metadata,
    Column("case_id", ForeignKey("absence_case.id", ondelete="CASCADE"), primary_key=True),
    Column("pupil_id", ForeignKey("pupil.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AbsenceCase(Base):
    """One family's unexplained absence on one day (siblings absent together share one case)."""

    __tablename__ = "absence_case"
    __table_args__ = (
        UniqueConstraint("date", "family_key"),
        Index("ix_absence_case_state_next_step_at", "state", "next_step_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    # Sorted pupil ids joined by commas: with (date, family_key) unique, a case can never be opened twice.
    family_key: Mapped[str] = mapped_column(String(200))
    state: Mapped[CaseState] = mapped_column(_enum(CaseState, "case_state"), default=CaseState.OPEN)
    days_absent: Mapped[int] = mapped_column(Integer, default=1)  # >1: later day of the same absence
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(64))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    thanked: Mapped[bool] = mapped_column(Boolean, default=False)  # reply_thanks sent (once per case)
    # Nobody in the case's audience can be contacted (gateway.pipeline.reachability): since when, and why per
    # adult in words fit for every member of staff (a restriction reads only "no contact allowed (safeguarding)").
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unreachable_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    resumes: Mapped[int] = mapped_column(Integer, default=0)  # times the ladder resumed after being unreachable

    pupils: Mapped[list[Pupil]] = relationship(secondary=absence_case_pupil, order_by=Pupil.id)


class MilestoneBatch(Base):
    """A half-term's fresh-start nudges, held as ``planned`` until a member of staff approves them."""

    __tablename__ = "milestone_batch"
    __table_args__ = (UniqueConstraint("kind", "half_term_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    half_term_id: Mapped[int] = mapped_column(ForeignKey("half_term.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One message to one adult on one channel, with the rendered content it was (or will be) sent with."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_state_send_after", "state", "send_after"),
        Index("ix_outbox_message_adult_id_created_at", "adult_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("absence_case.id", ondelete="SET NULL"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("milestone_batch.id", ondelete="SET NULL"), index=True)
    adult_id: Mapped[int | None] = mapped_column(ForeignKey("adult.id", ondelete="SET NULL"))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    pupil_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(8))
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(16), default="en-GB")
    variant: Mapped[str] = mapped_column(String(16), default="standard")
    step: Mapped[int | None] = mapped_column(Integer)
    why: Mapped[str | None] = mapped_column(Text)
    fallback_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    same_day: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "outbox_state"), default=OutboxState.QUEUED)
    # Content snapshot: exactly what was sent, kept for staff and subject-access requests.
    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    voice_language: Mapped[str | None] = mapped_column(String(16))
    voice_name: Mapped[str | None] = mapped_column(String(64))
    voice_prompt: Mapped[str | None] = mapped_column(Text)  # the keypad question spoken after the message
    # The render context (JSON-safe): a fallback to another channel re-renders the same message from it.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_reason: Mapped[str | None] = mapped_column(String(200))
    # The provider's last status word for a message still in flight, as sent (also one it added later and we
    # do not act on); a final state keeps the word that made it final.
    provider_status: Mapped[str | None] = mapped_column(String(32))
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # real time: handed to the broker
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # real time: a worker took it
    # Real time of the first claim: the start of the window in which the provider may already hold this message
    # (the reconciler's provider lookup searches from here; claimed_at moves on with each re-claim).
    first_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class InboundMessage(Base):
    """A text or keypad answer from a parent (or an unknown sender). ``body`` is health data: never logged."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        Index("ix_inbound_message_handled_received_at", "handled", "received_at"),
        # The few rows not yet processed (the scheduler's re-delivery sweep and the lag gauges): a partial index.
        Index("ix_inbound_message_unprocessed", "received_at",
              postgresql_where=sa_text("processed_at IS NULL"), sqlite_where=sa_text("processed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(120), unique=True)  # Twilio's retries carry the same sid
    source: Mapped[str] = mapped_column(String(8), default="sms")  # sms | voice | email
    from_number: Mapped[str] = mapped_column(String(254), index=True)  # E.164, or an e-mail address
    to_number: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))
    adult_id: Mapped[int | None] = mapped_column(ForeignKey("adult.id", ondelete="SET NULL"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("absence_case.id", ondelete="SET NULL"), index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    keyword: Mapped[str | None] = mapped_column(String(16))  # STOP / START / HELP when it was one
    # Twilio's Advanced Opt-Out verdict (OptOutType: STOP / START / HELP), trusted over our own keyword list.
    opt_out_type: Mapped[str | None] = mapped_column(String(16))
    num_media: Mapped[int] = mapped_column(Integer, default=0)  # MMS attachments (never fetched: see media_note)
    suggested_code: Mapped[str | None] = mapped_column(String(2))
    matched_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    confirmed_code: Mapped[str | None] = mapped_column(String(2))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    # From a number (or a keypad answer on a call to a number) held by an adult who may not be contacted: it
    # never touches the case, is never thanked nor exported, and is shown to the DSL only, not in the Inbox.
    dsl_only: Mapped[bool] = mapped_column(Boolean, default=False)
    dsl_reason: Mapped[str | None] = mapped_column(String(32))  # restricted | awaiting_dsl_approval
    # What staff should know about how it arrived (an e-mail too large or unreadable, attachments not opened).
    note: Mapped[str | None] = mapped_column(String(300))
    # An English translation from GATEWAY_TRANSLATE_URL, when configured and it answered (staff also see the gloss).
    translation: Mapped[str | None] = mapped_column(Text)

    @property
    def media_note(self) -> str | None:
        """What staff see for an MMS ("a picture was sent"); its MediaUrl is never fetched nor kept."""
        count = self.num_media or 0
        if count <= 0:
            return None
        return "a picture was sent" if count == 1 else f"{count} pictures were sent"


class DslAlert(Base):
    """The ladder ran out, or nobody can be reached: the DSL must consider the case (in the app, also e-mailed)."""

    __tablename__ = "dsl_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("absence_case.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)  # set when raised because nobody can be reached: why, in words
    # Set when raised by casework (gateway.pipeline.casework): a welfare concern in a reply, a call-back not made.
    concern: Mapped[str | None] = mapped_column(String(300))
