"""``gateway import …`` exit codes, stderr lines and JSON; the synthetic school round-trips through imports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cli.main import main
from gateway.devtools.synthetic_school import generate_school
from gateway.importing import import_contacts, import_ctf
from gateway.models import Adult, PupilContact
from tests.importing.helpers import FIXTURES, contact_row, row_counts, write_contacts


def _gateway(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_import_ctf_json_summary(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _gateway(["import", "ctf", str(FIXTURES / "ctf_small.xml"), "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert {k: document[k] for k in ("pupils", "contacts", "links", "warnings")} == {
        "pupils": 3, "contacts": 4, "links": 6, "warnings": []}
    assert document["created"]["pupils"] == 3


def test_import_contacts_human_summary(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _gateway(["import", "contacts", str(FIXTURES / "contacts_small.csv")], capsys)
    assert code == 0
    assert out.splitlines()[0] == "contacts_small.csv: 3 pupils, 4 contacts, 6 links"


def test_strict_bad_file_exits_non_zero_with_one_line_per_problem(
    database_url: str, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [contact_row(n) for n in range(1, 60)]
    rows[55]["mobile"] = "not a phone"
    rows[10]["email"] = "x@"
    path = write_contacts(tmp_path / "contacts.csv", rows)
    code, out, err = _gateway(["import", "contacts", str(path), "--json", "--strict"], capsys)
    assert code != 0 and out == ""
    assert err.splitlines() == ["contacts.csv: row 12: email: not a valid e-mail address: There must be something "
                                "after the @-sign.",
                                "contacts.csv: row 57: mobile: 'not a phone' contains characters that are not digits"]
    assert sum(row_counts(session).values()) == 0


def test_absences_and_terms_commands(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _gateway(["import", "ctf", str(FIXTURES / "ctf_small.xml")], capsys)[0] == 0
    register = tmp_path / "register.csv"
    register.write_text("upn,date,session,code\nA123456789012,2026-11-23,AM,N\n")
    code, out, _err = _gateway(["import", "absences", str(register), "--json"], capsys)
    assert code == 0 and json.loads(out)["created"] == 1 and json.loads(out)["dates"] == ["2026-11-23"]
    code, out, _err = _gateway(["import", "terms", str(FIXTURES / "terms_2026.ics"), "--json"], capsys)
    assert code == 0 and json.loads(out)["half_terms"] == 2
    code, _out, err = _gateway(["import", "absences", str(tmp_path / "missing.csv")], capsys)
    assert code != 0 and "does not exist" in err


def test_synthetic_school_is_deterministic() -> None:
    first, second = generate_school(300, seed=5), generate_school(300, seed=5)
    assert [p.upn for p in first.pupils] == [p.upn for p in second.pupils]
    assert [(a.forename, a.mobile, a.email) for a in first.adults] == [(a.forename, a.mobile, a.email)
                                                                         for a in second.adults]
    assert generate_school(300, seed=6).adults[0].forename != first.adults[0].forename or \
        generate_school(300, seed=6).pupils[0].surname != first.pupils[0].surname


def test_synthetic_school_round_trips_through_ctf_and_csv(session: Session, tmp_path: Path) -> None:
    school = generate_school(400, seed=11)
    ctf = import_ctf(session, school.write_ctf(tmp_path / "school.xml"))
    session.commit()
    assert (ctf.pupils.created, ctf.contacts.created, ctf.links.created) == (
        400, len(school.adults), school.link_count)
    csv_summary = import_contacts(session, school.write_contacts_csv(tmp_path / "contacts.csv"))
    session.commit()
    assert csv_summary.contacts.created == 0 and csv_summary.links.created == 0
    restricted = session.scalar(select(func.count()).select_from(PupilContact)
                                .where(PupilContact.restriction != "none"))
    expected = sum(1 for p in school.pupils for link in p.links if link.restriction != "none")
    assert restricted == expected
    assert session.scalar(select(func.count()).select_from(Adult)) == len(school.adults)
    register = school.write_absences_csv(tmp_path / "register.csv", date(2026, 11, 23))
    assert len(register.read_text().splitlines()) == 1 + 2 * 400


def test_bad_contact_points_are_warnings_with_file_path_field_value_and_why(
    database_url: str, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [contact_row(n) for n in range(1, 60)]
    rows[55]["mobile"] = "not a phone"
    rows[10]["email"] = "x@"
    path = write_contacts(tmp_path / "contacts.csv", rows)
    code, out, _err = _gateway(["import", "contacts", str(path), "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["pupils"] == 59 and document["contacts"] == 59
    problems = [{k: p[k] for k in ("source", "where", "field", "value", "severity")} for p in document["problems"]]
    assert problems == [
        {"source": "contacts.csv", "where": "row 12", "field": "email", "value": "x@", "severity": "warning"},
        {"source": "contacts.csv", "where": "row 57", "field": "mobile", "value": "not a phone",
         "severity": "warning"}]
    assert all("dropped" in p["message"] for p in document["problems"])
    assert row_counts(session)["contact_point"] == 2 * 59 - 2
