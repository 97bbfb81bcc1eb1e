"""Casework after a parent answers: staff tasks (call a parent back, call with an interpreter, a welfare concern
the DSL was alerted to) and the attendance codes staff confirmed per pupil and per session.

A task's ``key`` is unique (``call_back:{case}``, ``interpreter:{case}:{adult}``, ``welfare:{inbound}``), so a
retried message or a step run twice never doubles it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, utcnow


class TaskKind(enum.StrEnum):
    """What a staff task asks for."""

    CALL_BACK = "call_back"  # the parent asked to be called: the case stays open until somebody has
    INTERPRETER = "interpreter"  # routing could not speak the adult's language: call with an interpreter
    WELFARE = "welfare"  # a reply raised a welfare concern: the DSL was alerted and the case is flagged


class CaseTask(Base):
    """One thing a member of staff must do about a family, shown on Today until marked done."""

    __tablename__ = "case_task"
    __table_args__ = (Index("ix_case_task_done_at_created_at", "done_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[TaskKind] = mapped_column(
        Enum(TaskKind, name="task_kind", values_callable=lambda e: [m.value for m in e], native_enum=False,
             length=16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("absence_case.id", ondelete="CASCADE"), index=True)
    adult_id: Mapped[int | None] = mapped_column(ForeignKey("adult.id", ondelete="SET NULL"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))  # "Call Mrs Nowak back — asked at 09:41"
    language: Mapped[str | None] = mapped_column(String(16))  # BCP 47, for an interpreter
    detail: Mapped[str | None] = mapped_column(String(300))  # the words that raised it (never the whole reply)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    dsl_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a call-back nobody made in time


class ConfirmedCode(Base):
    """The attendance code a member of staff confirmed for one pupil and one session from one reply."""

    __tablename__ = "confirmed_code"
    __table_args__ = (UniqueConstraint("inbound_id", "pupil_id", "session"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), index=True)
    session: Mapped[str] = mapped_column(String(2))  # AM | PM
    code: Mapped[str] = mapped_column(String(2))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
