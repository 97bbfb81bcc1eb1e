"""Absences CSV (register marks) and term dates (TOML and iCalendar)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InputError
from gateway.importing import import_absences, import_ctf, import_terms
from gateway.models import AttendanceMark, HalfTerm, InsetDay
from gateway.resources import config_dir
from tests.importing.helpers import FIXTURES, row_counts

DAY = date(2026, 11, 23)


def _register(tmp_path: Path, lines: list[str], name: str = "register.csv") -> Path:
    path = tmp_path / name
    path.write_text("upn,date,session,code\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def school(session: Session) -> Session:
    import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    return session


def test_marks_are_recorded_and_reimport_changes_nothing(school: Session, tmp_path: Path) -> None:
    path = _register(tmp_path, ["A123456789012,2026-11-23,AM,N", "A123456789012,2026-11-23,PM,N",
                                "B123456789012,2026-11-23,AM,/", "C123456789012,2026-11-23,AM,i"])
    summary = import_absences(school, path)
    school.commit()
    assert (summary.created, summary.updated, summary.unchanged) == (4, 0, 0)
    assert summary.dates == {DAY}
    assert len(summary.new_unexplained) == 2
    again = import_absences(school, path)
    school.commit()
    assert (again.created, again.updated, again.unchanged, again.dates) == (0, 0, 4, set())
    codes = {(m.session, m.code) for m in school.scalars(select(AttendanceMark))}
    assert ("AM", "I") in codes


def test_a_changed_mark_is_updated_in_place_and_reported_when_now_present(school: Session, tmp_path: Path) -> None:
    import_absences(school, _register(tmp_path, ["A123456789012,2026-11-23,AM,N", "B123456789012,2026-11-23,AM,N"]))
    school.commit()
    summary = import_absences(school, _register(tmp_path, ["A123456789012,2026-11-23,AM,L",
                                                           "B123456789012,2026-11-23,AM,I"]))
    school.commit()
    assert (summary.created, summary.updated) == (0, 2)
    assert [(c.upn, c.date, c.session, c.old_code, c.new_code) for c in summary.now_present] == [
        ("A123456789012", DAY, "AM", "N", "L")]
    assert len(school.scalars(select(AttendanceMark)).all()) == 2
    assert summary.to_json()["now_present"][0]["upn"] == "A123456789012"


def test_unknown_upn_and_invalid_codes_are_errors_by_row(school: Session, tmp_path: Path) -> None:
    before = row_counts(school)
    path = _register(tmp_path, ["A123456789012,2026-11-23,AM,N", "Z999999999999,2026-11-23,AM,N",
                                "B123456789012,2026-11-23,AM,ZZ", "B123456789012,23/11/2026,XM,N"])
    with pytest.raises(InputError) as caught:
        import_absences(school, path)
    school.rollback()
    assert [str(p) for p in caught.value.problems] == [
        "register.csv: row 4: code: 'ZZ' is not a national attendance code",
        "register.csv: row 5: date: '23/11/2026' is not a date (use YYYY-MM-DD)",
        "register.csv: row 5: session: 'XM' is not AM or PM",
        "register.csv: row 3: upn: no pupil with UPN Z999999999999 (import the CTF or contacts first)",
    ]
    assert row_counts(school) == before


def test_conflicting_marks_for_one_session_and_missing_columns(school: Session, tmp_path: Path) -> None:
    path = _register(tmp_path, ["A123456789012,2026-11-23,AM,N", "A123456789012,2026-11-23,AM,/"])
    with pytest.raises(InputError, match="row 3: code"):
        import_absences(school, path)
    bad = tmp_path / "bad.csv"
    bad.write_text("upn,date,code\nA123456789012,2026-11-23,N\n")
    with pytest.raises(InputError) as caught:
        import_absences(school, bad)
    assert [str(p) for p in caught.value.problems] == ["bad.csv: row 1: session: missing column"]


def test_terms_from_the_example_toml(session: Session) -> None:
    summary = import_terms(session, config_dir() / "terms.example.toml")
    session.commit()
    assert (summary.half_terms.created, summary.inset_days.created) == (6, 5)
    spring = session.scalars(select(HalfTerm).where(HalfTerm.name == "Spring 1")).one()
    assert (spring.start, spring.end) == (date(2027, 1, 5), date(2027, 2, 12))
    again = import_terms(session, config_dir() / "terms.example.toml")
    assert (again.half_terms.unchanged, again.half_terms.created, again.inset_days.created) == (6, 0, 0)


def test_terms_from_ics_follow_the_documented_convention(session: Session) -> None:
    summary = import_terms(session, FIXTURES / "terms_2026.ics")
    session.commit()
    terms = {t.name: (t.start, t.end) for t in session.scalars(select(HalfTerm))}
    assert terms == {"Autumn 1": (date(2026, 9, 3), date(2026, 10, 23)),
                     "Autumn 2": (date(2026, 11, 2), date(2026, 12, 18))}
    assert set(session.scalars(select(InsetDay.date))) == {date(2026, 9, 1), date(2026, 9, 2)}
    assert [w.message for w in summary.warnings] == ["neither a half-term nor an INSET day: ignored"]


def test_bad_terms_are_all_reported(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    path.write_text('[[half_term]]\nname = "Autumn 1"\nstart = 2026-09-03\nend = 2026-08-01\n'
                    '[[half_term]]\nname = "Autumn 2"\nstart = 2026-09-10\nend = 2026-12-18\n'
                    '[[inset]]\ndate = "soon"\n')
    with pytest.raises(InputError) as caught:
        import_terms(session, path)
    messages = [str(p) for p in caught.value.problems]
    assert "terms.toml: inset[1]: date: 'soon' is not a date (YYYY-MM-DD)" in messages
    assert "terms.toml: half_term[1]: end: 2026-08-01 is before the start 2026-09-03" in messages
    assert len(session.scalars(select(HalfTerm)).all()) == 0
