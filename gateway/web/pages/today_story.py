"""What happened to a family's case and what happens next, in the words Today shows.

"Texted Mrs Nowak 09:31 · next: everyone with parental responsibility at 10:10". Before follow-up starts,
``planned_contacts`` asks routing whom the first step would contact (one plan for every waiting family).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.models import AbsenceCase, Adult, CaseState, OutboxMessage, OutboxState
from gateway.web.labels import CHANNEL_NAMES, CHANNEL_VERBS, delivery_state, language_name

log = logging.getLogger(__name__)

CLOSE_REASONS = {
    "phoned_office": "the parent phoned the office",
    "present": "the pupil is in school",
    "present_mark": "marked present in the register",
    "reply": "the family replied",
    "keypad": "answered on the phone keypad",
    "staff": "stopped by staff",
    "arrived_late": "the pupil arrived late",
}
DONE_STATES = (OutboxState.ACCEPTED, OutboxState.DELIVERED, OutboxState.SENDING)
FAILED_STATES = (OutboxState.FAILED, OutboxState.UNDELIVERED)


def short_name(adult: Adult) -> str:
    """"Mrs Nowak" when a title is known, else the full name."""
    return f"{adult.title} {adult.surname}" if adult.title else adult.full_name


def _when(row: OutboxMessage) -> datetime | None:
    return row.sent_at or row.failed_at or row.send_after or row.created_at


def last_action(rows: Sequence[OutboxMessage], names: Mapping[int, str], tz: ZoneInfo) -> str | None:
    """The latest thing done for the family, e.g. "Texted Mrs Nowak 09:31"."""
    parent_rows = [r for r in rows if r.kind not in ("reply_thanks", "dsl_alert") and r.adult_id in names]
    if not parent_rows:
        return None
    latest = max(parent_rows, key=lambda r: (_when(r) or r.created_at, r.id))
    when = _when(latest)
    at = when.astimezone(tz).strftime("%H:%M") if when else ""
    who = names[latest.adult_id] if latest.adult_id is not None else "a parent"
    if latest.state in DONE_STATES:
        return f"{CHANNEL_VERBS.get(latest.channel, latest.channel)} {who} {at}".strip()
    what = CHANNEL_NAMES.get(latest.channel, latest.channel)
    return f"{what.capitalize()} to {who}: {delivery_state(latest.state, latest.error_reason)} ({at})"


def next_action(case: AbsenceCase, ladder: Any, tz: ZoneInfo) -> str | None:
    """What the follow-up does next and when, or why it does nothing more."""
    if case.state is CaseState.CLOSED:
        return f"stopped: {CLOSE_REASONS.get(case.close_reason or '', case.close_reason or 'closed')}"
    if case.state is CaseState.REPLIED:
        return "no more messages: the family replied"
    if case.state is CaseState.CALL_BACK:  # pipeline.casework: a staff task until somebody has called
        return "no more messages: they asked to be called back"
    if case.state is CaseState.DSL_ALERTED:
        return "next: the DSL decides what to do"
    if case.unreachable_at is not None:
        return "next: waits until someone can be reached"
    if case.next_step_at is None or case.current_step >= len(ladder.steps):
        return None
    step = ladder.step(case.current_step + 1)
    return f"next: {step.name} at {case.next_step_at.astimezone(tz).strftime('%H:%M')}"


def planned_contacts(session: Any, families: Iterable[list[int]], on: date, now: datetime) -> dict[tuple[int, ...],
                                                                                                   list[str]]:
    """For each waiting family (its pupil ids), who the first step would contact: "text to Mrs Nowak (Polish)";
    a family nobody could be contacted for gets the reason. Empty when routing cannot plan (logged)."""
    from gateway.pipeline import ports

    family_list = [tuple(sorted(f)) for f in families]
    pupil_ids = sorted({p for f in family_list for p in f})
    if not pupil_ids:
        return {}
    try:
        used = ports.current()
        plan = used.routing.plan_absence(session, pupil_ids=pupil_ids, on=on, step=1, now=now, ladder=used.ladder(),
                                         exclude_channels={}, tried_channels={}, continuing_pupil_ids=set())
    except Exception:  # a preview must never break Today
        log.exception("could not plan who would be contacted")
        return {}
    adults = {a.id: a for a in session.query(Adult).filter(
        Adult.id.in_({d.adult_id for d in plan.deliveries})).all()} if plan.deliveries else {}
    found: dict[tuple[int, ...], list[str]] = {f: [] for f in family_list}
    for delivery in plan.deliveries:
        family = next((f for f in family_list if set(f) & set(delivery.pupil_ids)), None)
        if family is None:
            continue
        adult = adults.get(delivery.adult_id)
        who = short_name(adult) if adult is not None else delivery.contact_name
        line = f"{CHANNEL_NAMES.get(delivery.channel, delivery.channel)} to {who} ({language_name(delivery.locale)})"
        if line not in found[family]:
            found[family].append(line)
    return found
