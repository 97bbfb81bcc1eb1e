"""All tables, on one DeclarativeBase. Import models from here."""

from gateway.models.attendance import AttendanceMark, HalfTerm, InsetDay
from gateway.models.base import Base, ContactKind, Literacy, Restriction, StaffRole, utcnow
from gateway.models.people import Adult, ContactPoint, Pupil, PupilContact, School
from gateway.models.staff import AuditEntry, StaffUser
from gateway.models.system import ClockAnchor, Lease

__all__ = [
    "Adult",
    "AttendanceMark",
    "AuditEntry",
    "Base",
    "ClockAnchor",
    "ContactKind",
    "ContactPoint",
    "HalfTerm",
    "InsetDay",
    "Lease",
    "Literacy",
    "Pupil",
    "PupilContact",
    "Restriction",
    "School",
    "StaffRole",
    "StaffUser",
    "utcnow",
]
