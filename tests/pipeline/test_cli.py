"""`gateway absences start` and `gateway export reasons`."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.main import cli
from gateway.models import InboundMessage, OutboxMessage, OutboxState
from gateway.pipeline.replies import process_inbound_message, record_inbound
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family


def test_absences_start_opens_one_case_and_sends(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    result = CliRunner().invoke(cli, ["absences", "start", "--date", DAY.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["cases_opened"], summary["messages_queued"]) == (1, 1)
    pipeline.drain()
    session.expire_all()
    assert session.scalars(select(OutboxMessage)).one().state is OutboxState.ACCEPTED
    again = CliRunner().invoke(cli, ["absences", "start", "--date", DAY.isoformat()])
    assert again.exit_code == 0 and "0 case(s) opened" in again.stdout


def test_bad_date_is_one_clear_line(pipeline: Pipeline) -> None:
    result = CliRunner().invoke(cli, ["absences", "start", "--date", "23/11/2026"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_export_reasons_lists_each_pupil_and_session(session: Session, pipeline: Pipeline) -> None:
    add_family(session)
    CliRunner().invoke(cli, ["absences", "start", "--date", DAY.isoformat()])
    pipeline.drain()
    inbound_id, _ = record_inbound(session, provider_sid="SM-x", from_number=MUM_MOBILE, to_number=None,
                                   body="Ola jest chora, Kuba też")
    session.commit()
    process_inbound_message(inbound_id)
    staff_row = session.get(InboundMessage, inbound_id)
    assert staff_row is not None
    staff_row.confirmed_code, staff_row.confirmed_by = "I", 1
    session.commit()
    result = CliRunner().invoke(cli, ["export", "reasons", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["upn"], r["session"], r["suggested_code"], r["source"]) for r in rows] == [
        ("A123456789012", "AM", "I", "sms"), ("B123456789012", "AM", "I", "sms")]
    assert rows[0]["reason_text"] == "Ola jest chora, Kuba też"
    assert rows[0]["confirmed_by"] == "Ms Patel" and rows[0]["confirmed_code"] == "I"
