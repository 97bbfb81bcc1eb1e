"""All tables, on one DeclarativeBase. Import models from here."""

from gateway.models.attendance import AttendanceMark, HalfTerm, InsetDay
from gateway.models.base import Base, ContactKind, Literacy, Restriction, StaffRole, utcnow
from gateway.models.casework import CaseTask, ConfirmedCode, TaskKind
from gateway.models.followup import FollowupDay, FollowupExclusion
from gateway.models.import_issues import DroppedContactPoint
from gateway.models.messaging import (
    AbsenceCase,
    CaseState,
    DslAlert,
    InboundMessage,
    MilestoneBatch,
    OutboxMessage,
    OutboxState,
)
from gateway.models.people import Adult, ContactPoint, Pupil, PupilContact, School
from gateway.models.staff import AuditEntry, StaffSession, StaffUser
from gateway.models.system import ClockAnchor, Lease
from gateway.models.translations import StaffTranslatorLocale, TranslationApproval

__all__ = [
    "AbsenceCase",
    "Adult",
    "AttendanceMark",
    "AuditEntry",
    "Base",
    "CaseState",
    "CaseTask",
    "ClockAnchor",
    "ConfirmedCode",
    "ContactKind",
    "ContactPoint",
    "DroppedContactPoint",
    "DslAlert",
    "FollowupDay",
    "FollowupExclusion",
    "HalfTerm",
    "InboundMessage",
    "InsetDay",
    "Lease",
    "Literacy",
    "MilestoneBatch",
    "OutboxMessage",
    "OutboxState",
    "Pupil",
    "PupilContact",
    "Restriction",
    "School",
    "StaffRole",
    "StaffSession",
    "StaffTranslatorLocale",
    "StaffUser",
    "TaskKind",
    "TranslationApproval",
    "utcnow",
]
