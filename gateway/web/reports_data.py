"""The figures on the Reports page, for a chosen period (dates in the school's time zone, gateway clock).

- families contacted: absence cases with at least one message that left the gateway;
- reply rate and median time to the first reply, by the channel and the language of each case's first message;
- how far the ladder went: cases by the last step they reached (and how many of them replied);
- messages sent and SMS cost per month (segments x ``GATEWAY_SMS_SEGMENT_PRICE``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, InboundMessage, OutboxMessage, OutboxState

LEFT_THE_GATEWAY = (OutboxState.SENDING, OutboxState.ACCEPTED, OutboxState.DELIVERED, OutboxState.FAILED,
                    OutboxState.UNDELIVERED)
PARENT_KINDS = ("absence_first_day", "absence_followup", "absence_emergency_contact", "absence_continuing")


@dataclass
class ReplyRow:
    label: str
    contacted: int
    replied: int
    median_minutes: float | None

    @property
    def rate(self) -> int:
        return round(100 * self.replied / self.contacted) if self.contacted else 0


@dataclass
class Report:
    start: date
    end: date
    families_contacted: int = 0
    replied: int = 0
    by_channel: list[ReplyRow] = field(default_factory=list)
    by_language: list[ReplyRow] = field(default_factory=list)
    ladder: list[tuple[str, int, int]] = field(default_factory=list)  # (step name, cases, of which replied)
    months: list[tuple[str, int, int, float]] = field(default_factory=list)  # (month, messages, segments, cost)


def _bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(0), tz), datetime.combine(end + timedelta(days=1), time(0), tz))


def build_report(session: Session, start: date, end: date, *, tz: ZoneInfo, ladder: object,
                 segment_price: float) -> Report:
    """Every figure for cases dated ``start``..``end`` and messages sent in that period."""
    from gateway.rendering import sms_segments
    from gateway.web.labels import CHANNEL_TITLES, language_name

    report = Report(start, end)
    cases = list(session.scalars(select(AbsenceCase).where(AbsenceCase.date >= start, AbsenceCase.date <= end)))
    case_ids = [c.id for c in cases]
    first_message: dict[int, OutboxMessage] = {}
    if case_ids:
        for row in session.scalars(select(OutboxMessage).where(
                OutboxMessage.case_id.in_(case_ids), OutboxMessage.kind.in_(PARENT_KINDS),
                OutboxMessage.state.in_(LEFT_THE_GATEWAY)).order_by(OutboxMessage.id)):
            if row.case_id is not None and row.case_id not in first_message:
                first_message[row.case_id] = row
    first_reply: dict[int, InboundMessage] = {}
    if case_ids:
        for reply in session.scalars(select(InboundMessage).where(
                InboundMessage.case_id.in_(case_ids), InboundMessage.keyword.is_(None),
                InboundMessage.dsl_only.is_(False)).order_by(InboundMessage.received_at, InboundMessage.id)):
            if reply.case_id is not None and reply.case_id not in first_reply:
                first_reply[reply.case_id] = reply
    contacted = [c for c in cases if c.id in first_message]
    report.families_contacted = len(contacted)
    report.replied = sum(1 for c in contacted if c.id in first_reply)

    def rows(key: str) -> list[ReplyRow]:
        groups: dict[str, list[AbsenceCase]] = defaultdict(list)
        for case in contacted:
            message = first_message[case.id]
            label = CHANNEL_TITLES.get(message.channel, message.channel) if key == "channel" \
                else language_name(message.locale)
            groups[label].append(case)
        found = []
        for label, members in groups.items():
            waits = []
            for case in members:
                reply, sent = first_reply.get(case.id), first_message[case.id]
                began = sent.sent_at or sent.created_at
                if reply is not None and began is not None:
                    waits.append(max(0.0, (reply.received_at - began).total_seconds() / 60))
            found.append(ReplyRow(label, len(members), sum(1 for c in members if c.id in first_reply),
                                  round(median(waits), 1) if waits else None))
        return sorted(found, key=lambda r: (-r.contacted, r.label))

    report.by_channel = rows("channel")
    report.by_language = rows("language")
    steps = list(getattr(ladder, "steps", ()))
    reached = Counter(min(c.current_step, len(steps)) for c in cases if c.current_step > 0)
    replied_at = Counter(min(c.current_step, len(steps)) for c in cases if c.current_step > 0 and c.id in first_reply)
    report.ladder = [(f"{n}. {step.name}", reached.get(n, 0), replied_at.get(n, 0))
                     for n, step in enumerate(steps, start=1)]
    low, high = _bounds(start, end, tz)
    per_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sent in session.scalars(select(OutboxMessage).where(
            OutboxMessage.sent_at >= low, OutboxMessage.sent_at < high, OutboxMessage.state.in_(LEFT_THE_GATEWAY),
            OutboxMessage.kind != "dsl_alert")):
        assert sent.sent_at is not None
        month = sent.sent_at.astimezone(tz).strftime("%Y-%m")
        per_month[month][0] += 1
        if sent.channel == "sms":
            per_month[month][1] += sms_segments(sent.text).segments
    report.months = [(datetime.strptime(m, "%Y-%m").strftime("%B %Y"), v[0], v[1], round(v[1] * segment_price, 2))
                     for m, v in sorted(per_month.items())]
    return report
