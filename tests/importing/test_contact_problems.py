"""Contacts to fix (``gateway contacts problems``): every adult the gateway cannot reach as their preferences
ask, with the reason, built on routing's own reach rules, from a real-shaped CTF and what happened since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.cli.main import main
from gateway.contact_problems import ContactProblem, find_contact_problems
from gateway.importing import import_ctf
from gateway.models import Adult, ContactKind, ContactPoint, DroppedContactPoint, PupilContact, Restriction
from tests.importing.helpers import FIXTURES

SIMS = FIXTURES / "ctf_sims19.xml"


def _adult(session: Session, forename: str) -> Adult:
    return session.scalars(select(Adult).where(Adult.forename == forename)).one()


def _by_name(problems: list[ContactProblem]) -> dict[str, list[str]]:
    return {p.name.split()[0]: list(p.reasons) for p in problems}


def test_dropped_numbers_and_landline_only_adults_are_listed_with_their_reason(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    problems = _by_name(find_contact_problems(session))
    mother = problems["Agnieszka"]
    assert "landline only, but texts are preferred" in mother
    assert any(r.startswith("PhoneNo dropped at import: '07749 21789' is not a valid phone number (too short")
               and "ctf_sims19.xml" in r
               and "/CTfile/CTFpupilData/Pupil[1]/Contacts/Contact[1]/Phones/Phone[1]" in r for r in mother)
    assert any("'234981' is not a valid phone number (a local number without its area code" in r
               for r in problems["Brigitte"])
    assert any("'0400 123 4567' is not a valid phone number (not an allocated number range" in r
               for r in problems["Tariq"])
    assert "prefers sms, but no SMS-capable mobile" in problems["Brigitte"]
    assert "Paweł" not in problems and "Nasreen" not in problems  # mobiles on file: nothing to fix
    recorded = session.scalars(select(DroppedContactPoint.value).order_by(DroppedContactPoint.value)).all()
    assert recorded == ["0400 123 4567", "07749 21789", "234981"]


def test_stop_permanent_failure_shared_restricted_address_and_minicom_only(session: Session) -> None:
    import_ctf(session, SIMS)
    now = clock.now()
    pierre = _adult(session, "Pierre")
    pierre.contact_points[0].opted_out_at = now
    kelly = _adult(session, "Kelly")
    kelly.contact_points[0].last_permanent_failure_at, kelly.contact_points[0].last_failure_reason = now, "invalid"
    eszter = _adult(session, "Eszter")
    for link in eszter.links:
        link.restriction = Restriction.NO_CONTACT
    ilze = _adult(session, "Ilze")
    session.add(ContactPoint(adult_id=ilze.id, kind=ContactKind.MOBILE, value="+447700900881", sms_capable=True,
                             position=1))  # Eszter's mobile typed onto Ilze's record
    nasreen = _adult(session, "Nasreen")
    session.execute(delete(ContactPoint).where(ContactPoint.adult_id == nasreen.id,
                                               ContactPoint.kind == ContactKind.MOBILE))
    session.commit()
    problems = _by_name(find_contact_problems(session))
    assert "texted STOP: no texts, and no routine messages at all" in problems["Pierre"]
    assert problems["Kelly"][0].startswith("no usable phone number or e-mail address (sms: mobile failed permanently")
    assert "mobile +447700900884 failed permanently" in problems["Kelly"]
    assert "Eszter" not in problems  # restricted: nobody is meant to reach her
    assert problems["Ilze"] == [
        "mobile +447700900881 is shared with an adult who may not be contacted: never used"]
    assert problems["Nasreen"][0].startswith("no usable phone number or e-mail address")
    assert problems["Nasreen"][-1].startswith("only a Minicom textphone")


def test_a_number_fixed_in_the_mis_drops_off_the_list_on_the_next_import(session: Session, tmp_path: Path) -> None:
    import_ctf(session, SIMS)
    session.commit()
    fixed = tmp_path / "fixed.xml"
    fixed.write_text(SIMS.read_text(encoding="utf-8").replace("07749 21789", "07700 900440"), encoding="utf-8")
    summary = import_ctf(session, fixed)
    session.commit()
    assert "07749 21789" not in {w.value for w in summary.warnings}
    assert "Agnieszka" not in _by_name(find_contact_problems(session))
    assert "07749 21789" not in session.scalars(select(DroppedContactPoint.value)).all()
    assert len(session.scalars(select(DroppedContactPoint)).all()) == 2  # the others are still to fix


def test_contacts_problems_command_lists_adults_as_json(
    database_url: str, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    import_ctf(session, SIMS)
    session.commit()
    with pytest.raises(SystemExit) as exited:
        main(["contacts", "problems", "--json"])
    assert exited.value.code in (0, None)
    document = json.loads(capsys.readouterr().out)
    by_name = {a["name"]: a for a in document["adults"]}
    assert document["count"] == len(document["adults"]) > 0
    assert by_name["Brigitte Le Marquand"]["pupils"] == ["H801200001033"]
    assert any("234981" in r for r in by_name["Brigitte Le Marquand"]["reasons"])
    restricted = session.scalars(select(PupilContact).join(Adult).where(Adult.forename == "Brigitte")).one()
    restricted.restriction = Restriction.NO_CONTACT
    session.commit()
    with pytest.raises(SystemExit):
        main(["contacts", "problems"])
    out = capsys.readouterr().out
    assert "adult(s) to fix" in out and "Brigitte" not in out and "Tariq Hussain" in out


def test_subject_access_export_includes_numbers_dropped_at_import(session: Session) -> None:
    from gateway.operations.subject_access import export_adult

    import_ctf(session, SIMS)
    session.commit()
    document = export_adult(session, _adult(session, "Brigitte"))
    assert [(d["field"], d["value"], d["file"]) for d in document["dropped_at_import"]] == [
        ("PhoneNo", "234981", "ctf_sims19.xml")]
