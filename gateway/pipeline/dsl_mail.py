"""E-mailing the Designated Safeguarding Leads: the one place a DSL alert e-mail becomes outbox rows.

Every active DSL with an address gets one ready-written e-mail per alert; the idempotency key names the alert and
the DSL, so a retried step or a second scheduler never sends it twice. Callers decide what the alert says (never
a parent's message body) and enqueue the returned ids after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import OutboxState, StaffRole, StaffUser
from gateway.pipeline import collaborators
from gateway.pipeline.outbox import NewMessage, add_message


def email_dsls(session: Session, *, key: Callable[[int], str], subject: str, text: str, why: str,
               case_id: int | None = None, pupil_ids: Sequence[int] = ()) -> list[int]:
    """Queue the alert for every active DSL with an address; ``key(dsl_id)`` is each row's idempotency key.
    Returns the outbox ids still to hand to a worker."""
    content = collaborators.Content(text=text, subject=subject)
    ids: list[int] = []
    dsls = session.scalars(select(StaffUser).where(StaffUser.role == StaffRole.DSL, StaffUser.active.is_(True),
                                                   StaffUser.email.is_not(None))).all()
    for dsl in dsls:
        assert dsl.email is not None
        row = add_message(session, NewMessage(
            idempotency_key=key(dsl.id), kind="dsl_alert", channel="email", to_address=dsl.email, locale="en-GB",
            variant="standard", context={}, case_id=case_id, staff_id=dsl.id, pupil_ids=list(pupil_ids), why=why,
            prerendered=content))
        if row.enqueued_at is None and row.state is OutboxState.QUEUED:
            ids.append(row.id)
    return ids
