"""Reports: for a chosen period, families contacted, reply rate and time to the first reply by channel and by
language, how far the ladder went, and messages and SMS cost per month. Charts are SVG drawn on the server,
each with its numbers in a table beside it. Attendance lead, DSL and administrator."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from gateway import clock
from gateway.models import StaffRole, StaffUser
from gateway.web.deps import STAFF_DEPENDENCIES, DbSession, app_settings, require_role
from gateway.web.svg_charts import bar_chart
from gateway.web.templating import render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
Readers = Annotated[StaffUser, Depends(require_role(StaffRole.ATTENDANCE_LEAD, StaffRole.DSL, StaffRole.ADMIN))]


def _parse(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(status_code=404, detail="That is not a date (use YYYY-MM-DD).") from exc


@router.get("/reports")
def reports_page(request: Request, db: DbSession, staff: Readers,
                 start: Annotated[str | None, Query(alias="from")] = None,
                 end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    """The figures for ``from``..``to`` (default: the last 30 days up to today)."""
    from gateway.pipeline import ports
    from gateway.web.pages.milestones import segment_price
    from gateway.web.reports_data import build_report

    tz = app_settings(request).tz
    today = clock.now().astimezone(tz).date()
    last = _parse(end, today)
    first = _parse(start, last - timedelta(days=29))
    if first > last:
        first, last = last, first
    report = build_report(db, first, last, tz=tz, ladder=ports.current().ladder(), segment_price=segment_price())
    charts = {
        "channel": bar_chart("chart-channel", "Reply rate by channel of the first message",
                             [(r.label, r.rate) for r in report.by_channel], unit="%", maximum=100),
        "language": bar_chart("chart-language", "Reply rate by language",
                              [(r.label, r.rate) for r in report.by_language], unit="%", maximum=100),
        "ladder": bar_chart("chart-ladder", "How far the follow-up went: cases by the last step reached",
                            [(name, n) for name, n, _ in report.ladder]),
        "months": bar_chart("chart-months", "Messages sent per month",
                            [(month, n) for month, n, _, _ in report.months]),
    }
    return render(request, "reports.html", {"report": report, "charts": charts, "first": first, "last": last})
