"""Translation review by people: who may review which language, and every text a reviewer approved.

A staff member reviews the languages granted to them (``StaffTranslatorLocale``; administrators may review
any). Approving a message stores its text (one row per plural form) with who approved it and when; the
renderer uses approved texts in place of the catalog's draft (``gateway.rendering.approved_texts``) and
``gateway translations export`` writes them back into the ``.po`` catalogs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, UTCDateTime, utcnow


class StaffTranslatorLocale(Base):
    """One language a staff member may review (the ``translator`` permission, per language)."""

    __tablename__ = "staff_translator_locale"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TranslationApproval(Base):
    """The approved text of one catalog message (one plural form of it) in one language.

    ``msgctxt`` is empty for a message without context; ``plural_index`` is 0 for a singular message and
    the form's number (``msgstr[n]``) for a plural one. Approving again replaces the text, who and when (the
    audit log keeps the history).
    """

    __tablename__ = "translation_approval"
    __table_args__ = (UniqueConstraint("locale", "msgctxt", "msgid", "plural_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(String(20), index=True)
    msgctxt: Mapped[str] = mapped_column(String(400), default="")
    msgid: Mapped[str] = mapped_column(Text)
    plural_index: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
