"""CTF import: structure, sibling dedupe, idempotence, updates in place, and hostile or malformed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InputError
from gateway.importing import import_ctf
from gateway.models import Adult, ContactKind, ContactPoint, Pupil, PupilContact, Restriction, School
from tests.importing.helpers import FIXTURES, ctf_contact, ctf_document, ctf_phone, ctf_pupil, row_counts


def _write(tmp_path: Path, text: str, name: str = "school.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rejected(session: Session, path: Path, *, strict: bool = False) -> list[str]:
    before = row_counts(session)
    with pytest.raises(InputError) as caught:
        import_ctf(session, path, strict=strict)
    session.rollback()
    assert row_counts(session) == before, "an import that fails must write nothing"
    return [str(problem) for problem in caught.value.problems]


def test_sample_ctf_imports_pupils_languages_and_contacts(session: Session) -> None:
    summary = import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    assert summary.to_json()["pupils"] == 3
    assert summary.to_json()["contacts"] == 4  # Anna and Piotr once each, for two siblings
    assert summary.to_json()["links"] == 6
    ola = session.scalars(select(Pupil).where(Pupil.upn == "A123456789012")).one()
    assert (ola.forename, ola.preferred_forename, ola.year_group) == ("Aleksandra", "Ola", "4")
    assert (ola.home_language, ola.home_language_dfe) == ("pl", "POL")
    assert ola.school is not None and session.get(School, ola.school_id).urn == "100001"  # type: ignore[union-attr]
    amira = session.scalars(select(Pupil).where(Pupil.upn == "C123456789012")).one()
    assert amira.home_language == "so"


def test_siblings_share_one_adult_with_several_links(session: Session) -> None:
    import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    anna = session.scalars(select(Adult).where(Adult.forename == "Anna")).one()
    assert sorted(link.pupil.upn for link in anna.links) == ["A123456789012", "B123456789012"]
    assert anna.language is None  # CTF adults have no language: routing uses the pupil's
    assert anna.match_key == "anna nowak"
    points = {(p.kind, p.value, p.sms_capable) for p in anna.contact_points}
    assert points == {(ContactKind.MOBILE, "+447700900123", True), (ContactKind.LANDLINE, "+441134960001", False),
                      (ContactKind.EMAIL, "anna.nowak@example.com", False)}
    piotr = session.scalars(select(Adult).where(Adult.forename == "Piotr")).one()
    assert {link.lives_with_pupil for link in piotr.links} == {False}  # a non-resident parent
    assert all(link.parental_responsibility for link in piotr.links)
    grandma = session.scalars(select(Adult).where(Adult.surname == "Kowalska")).one()
    (link,) = grandma.links
    assert (link.relationship_code, link.priority, link.parental_responsibility) == ("GRM", 3, False)


def test_reimporting_the_same_file_changes_nothing(session: Session) -> None:
    import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    before = row_counts(session)
    summary = import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    assert not summary.changed
    assert summary.pupils.unchanged == 3 and summary.contacts.unchanged == 4 and summary.links.unchanged == 6
    assert row_counts(session) == before


def test_an_updated_file_updates_in_place(session: Session, tmp_path: Path) -> None:
    import_ctf(session, FIXTURES / "ctf_small.xml")
    restricted = session.scalars(select(PupilContact).join(Adult).where(Adult.forename == "Piotr")).first()
    assert restricted is not None
    restricted.restriction = Restriction.NO_CONTACT  # a DSL decision the CTF must never undo
    session.commit()
    before = row_counts(session)
    text = (FIXTURES / "ctf_small.xml").read_text()
    text = text.replace("07700 900789", "07700 900790")  # Hodan has a new mobile
    text = text.replace("<Order>3</Order><Title>Mrs</Title><Forename>Maria",
                        "<Order>2</Order><Title>Mrs</Title><Forename>Maria")  # grandma moves up
    summary = import_ctf(session, _write(tmp_path, text))
    session.commit()
    assert summary.pupils.created == 0 and summary.contacts.created == 0 and summary.links.created == 0
    assert summary.contacts.updated == 1 and summary.links.updated == 1
    assert summary.contact_points.created == 1 and summary.contact_points.removed == 1
    assert row_counts(session) == before
    hodan = session.scalars(select(Adult).where(Adult.forename == "Hodan")).one()
    assert [p.value for p in hodan.contact_points] == ["+447700900790"]
    maria = session.scalars(select(PupilContact).join(Adult).where(Adult.forename == "Maria")).one()
    assert maria.priority == 2
    session.refresh(restricted)
    assert restricted.restriction is Restriction.NO_CONTACT


def test_broken_xml_is_reported_with_its_position_and_writes_nothing(session: Session, tmp_path: Path) -> None:
    good = ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak", ctf_phone("07700 900123")))
    path = _write(tmp_path, ctf_document(good + "<Pupil><UPN>B123456789012</UPN><Surname>Nowak</Pupil>"))
    problems = _rejected(session, path)
    assert len(problems) == 1
    assert problems[0].startswith("school.xml: line ") and "not well-formed XML" in problems[0]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE CTfile [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<CTfile><Header/><CTFpupilData><Pupil><UPN>A123456789012</UPN><Surname>&lol9;</Surname>
<Forename>Ola</Forename></Pupil></CTFpupilData></CTfile>
"""


def test_entity_expansion_bomb_is_refused(session: Session, tmp_path: Path) -> None:
    problems = _rejected(session, _write(tmp_path, BILLION_LAUGHS))
    assert len(problems) == 1 and "refused" in problems[0] and "entities" in problems[0]


def test_external_entity_is_refused(session: Session, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    document = (f'<?xml version="1.0"?>\n<!DOCTYPE CTfile [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
                "<CTfile><CTFpupilData><Pupil><UPN>A123456789012</UPN><Surname>&xxe;</Surname>"
                "<Forename>Ola</Forename></Pupil></CTFpupilData></CTfile>")
    problems = _rejected(session, _write(tmp_path, document))
    assert len(problems) == 1 and "refused" in problems[0]


def test_not_a_ctf_is_refused(session: Session, tmp_path: Path) -> None:
    problems = _rejected(session, _write(tmp_path, "<html><body/></html>"))
    assert problems == ["school.xml: /html: not a Common Transfer File (the root element is not CTfile)"]


def test_duplicate_upn_with_conflicting_names_names_both_places(session: Session, tmp_path: Path) -> None:
    pupils = (ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak", ctf_phone("07700 900123")))
              + ctf_pupil("A123456789012", "Olga", "Novak"))
    problems = _rejected(session, _write(tmp_path, ctf_document(pupils)))
    assert problems == ["school.xml: /CTfile/CTFpupilData/Pupil[2]: UPN: UPN A123456789012 is also "
                        "/CTfile/CTFpupilData/Pupil[1] with a different name (Ola Nowak / Olga Novak)"]


def test_strict_reports_every_problem_not_only_the_first(session: Session, tmp_path: Path) -> None:
    pupils = (ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak", ctf_phone("12345")))
              + ctf_pupil("bad-upn", "Jan", "Nowak")
              + ctf_pupil("C123456789012", "Amira", "Warsame", ctf_contact("Hodan", "Warsame", email="hodan@@x")))
    path = _write(tmp_path, ctf_document(pupils))
    # Without --strict the bad phone and e-mail are warnings, and the bad UPN alone refuses the file.
    assert [p.split(": ")[1] for p in _rejected(session, path)] == ["/CTfile/CTFpupilData/Pupil[2]"]
    problems = _rejected(session, path, strict=True)
    assert len(problems) == 3
    assert problems[0].startswith("school.xml: /CTfile/CTFpupilData/Pupil[1]/Contacts/Contact[1]/Phones/Phone[1]: "
                                  "PhoneNo: '12345' is not a valid phone number")
    assert problems[1].startswith("school.xml: /CTfile/CTFpupilData/Pupil[2]: UPN: 'BAD-UPN' is not a UPN")
    assert problems[2].startswith("school.xml: /CTfile/CTFpupilData/Pupil[3]/Contacts/Contact[1]: Email: "
                                  "not a valid e-mail address")


def test_unknown_language_code_is_a_warning_and_falls_back_to_english(session: Session, tmp_path: Path) -> None:
    pupils = ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak", ctf_phone("07700 900123")),
                       language="QQQ")
    summary = import_ctf(session, _write(tmp_path, ctf_document(pupils)))
    session.commit()
    assert [str(w) for w in summary.warnings] == [
        "school.xml: /CTfile/CTFpupilData/Pupil[1]: BasicDetails/Languages: unknown DfE language code 'QQQ' "
        "(not in the DfE code set; never read as an ISO code): using en-GB"]
    pupil = session.scalars(select(Pupil)).one()
    assert (pupil.home_language, pupil.home_language_dfe) == ("en-GB", "QQQ")


def test_oddly_typed_phones_are_classed_by_the_number_itself(session: Session, tmp_path: Path) -> None:
    phones = ctf_phone("0113 496 0555", "M") + ctf_phone("07700 900222", "H") + ctf_phone("01632 960111", "F")
    pupils = ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak", phones))
    summary = import_ctf(session, _write(tmp_path, ctf_document(pupils)))
    session.commit()
    warnings = [w.message for w in summary.warnings]
    assert "given as a mobile but is a landline number: no SMS to it" in warnings
    assert "a fax number cannot be called or texted: ignored" in warnings
    points = {(p.value, p.kind, p.sms_capable) for p in session.scalars(select(ContactPoint))}
    assert points == {("+441134960555", ContactKind.LANDLINE, False), ("+447700900222", ContactKind.MOBILE, True)}


def test_a_contact_with_no_phone_or_email_is_a_warning(session: Session, tmp_path: Path) -> None:
    pupils = ctf_pupil("A123456789012", "Ola", "Nowak", ctf_contact("Anna", "Nowak"))
    summary = import_ctf(session, _write(tmp_path, ctf_document(pupils)))
    assert [w.message for w in summary.warnings] == ["no usable phone number or e-mail address"]
    assert summary.contacts.created == 1


def test_same_name_different_people_stay_apart(session: Session, tmp_path: Path) -> None:
    pupils = (ctf_pupil("A123456789012", "Ola", "Smith", ctf_contact("John", "Smith", ctf_phone("07700 900001")))
              + ctf_pupil("B123456789012", "Tom", "Smith", ctf_contact("John", "Smith", ctf_phone("07700 900002"))))
    summary = import_ctf(session, _write(tmp_path, ctf_document(pupils)))
    assert summary.contacts.created == 2


def test_file_is_left_untouched(session: Session, tmp_path: Path) -> None:
    copy = shutil.copy(FIXTURES / "ctf_small.xml", tmp_path / "copy.xml")
    import_ctf(session, copy)
    assert Path(copy).read_bytes() == (FIXTURES / "ctf_small.xml").read_bytes()


def test_statistics_refresh_before_big_imports_is_harmless(session: Session) -> None:
    from gateway.importing.writer import refresh_statistics

    import_ctf(session, FIXTURES / "ctf_small.xml")
    refresh_statistics(session, 1_000_000)  # PostgreSQL: ANALYZE inside the import's transaction
    session.commit()
    assert row_counts(session)["pupil"] == 3
