"""A present mark imported after follow-up began explains the absence: the case closes, pending messages stop."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.main import cli
from gateway.models.messaging import AbsenceCase, CaseState
from gateway.pipeline.absence import start_followup
from tests.pipeline.conftest import DAY, Pipeline, add_family


def test_late_present_marks_for_every_sibling_close_the_case(pipeline: Pipeline, session: Session,
                                                             tmp_path: Path) -> None:
    add_family(session)
    start_followup(session, DAY)
    session.commit()
    pipeline.drain()
    register = tmp_path / "register.csv"
    register.write_text(f"upn,date,session,code\nA123456789012,{DAY},AM,L\nB123456789012,{DAY},AM,L\n")

    result = CliRunner().invoke(cli, ["import", "absences", str(register)])

    assert result.exit_code == 0, result.output
    session.expire_all()
    case = session.scalars(select(AbsenceCase)).one()
    assert case.state is CaseState.CLOSED


def test_one_sibling_arriving_late_leaves_the_case_open(pipeline: Pipeline, session: Session, tmp_path: Path) -> None:
    add_family(session)
    start_followup(session, DAY)
    session.commit()
    pipeline.drain()
    register = tmp_path / "register.csv"
    register.write_text(f"upn,date,session,code\nA123456789012,{DAY},AM,L\n")

    result = CliRunner().invoke(cli, ["import", "absences", str(register)])

    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.scalars(select(AbsenceCase)).one().state is not CaseState.CLOSED
