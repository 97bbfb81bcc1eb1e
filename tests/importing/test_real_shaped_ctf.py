"""Real-shaped CTFs (SIMS CTF 19.0 layout, hand-written): messy contact data is a warning, never a refusal.

One mistyped number in another school's export must not hold back a whole file: the number is dropped and
reported (file, element path, field, value, why); the pupil and the adult are imported. The same file,
namespaced, with a byte-order mark or in ISO-8859-1, imports to exactly the same records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InputError
from gateway.importing import import_ctf
from gateway.models import Adult, ContactKind, ContactPoint, Pupil, PupilContact
from gateway.relationships import RELATIONSHIPS_V2
from tests.importing.helpers import FIXTURES, row_counts

SIMS = FIXTURES / "ctf_sims19.xml"
PUPILS = "/CTfile/CTFpupilData/Pupil"


def _snapshot(session: Session) -> dict[str, Any]:
    """Everything an import stores about pupils, adults, links and contact points, comparable across files."""
    pupils = sorted((p.upn, p.forename, p.surname, p.year_group, p.home_language, p.home_language_dfe)
                    for p in session.scalars(select(Pupil)))
    adults = sorted((a.forename, a.surname, a.title, a.address,
                     tuple((p.kind.value, p.value, p.sms_capable) for p in a.contact_points),
                     tuple(sorted((link.pupil.upn, link.relationship_code, link.priority, link.parental_responsibility,
                                   link.lives_with_pupil) for link in a.links)))
                    for a in session.scalars(select(Adult)))
    return {"pupils": pupils, "adults": adults}


def _warnings(summary: Any) -> list[tuple[str, str | None, str | None]]:
    return [(w.where, w.field, w.value) for w in summary.warnings]


def _adult(session: Session, forename: str) -> Adult:
    return session.scalars(select(Adult).where(Adult.forename == forename)).one()


def test_sims_ctf_with_bad_numbers_imports_every_pupil_and_adult_with_warnings(session: Session) -> None:
    summary = import_ctf(session, SIMS)
    session.commit()
    assert (summary.pupils.created, summary.contacts.created, summary.links.created) == (8, 21, 21)
    assert _warnings(summary) == [
        (f"{PUPILS}[1]/Contacts/Contact[1]/Phones/Phone[1]", "PhoneNo", "07749 21789"),
        (f"{PUPILS}[2]", "BasicDetails/Languages", None),
        (f"{PUPILS}[2]/Contacts/Contact[2]/Phones/Phone[1]", "PhoneNo", "0400 123 4567"),
        (f"{PUPILS}[2]/Contacts/Contact[2]/Phones/Phone[2]", "TelephoneType", "01632 960553"),
        (f"{PUPILS}[3]/Contacts/Contact[1]/Phones/Phone[1]", "PhoneNo", "234981"),
    ]
    assert all(w.source == "ctf_sims19.xml" and w.severity == "warning" for w in summary.warnings)
    messages = [w.message for w in summary.warnings]
    assert "a UK mobile has 11 digits, this one is 1 digit short" in messages[0] and "dropped" in messages[0]
    assert "Shahmukhi" in messages[1] and "Urdu" in messages[1]
    assert "not an allocated number range" in messages[2]
    assert "fax" in messages[3]
    assert "a local number without its area code: 6 digits" in messages[4]


def test_a_dropped_number_leaves_the_rest_of_the_contact(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    mother = _adult(session, "Agnieszka")  # her mobile was a digit short
    assert [(p.kind, p.value) for p in mother.contact_points] == [
        (ContactKind.EMAIL, "agnieszka.nowak@example.org"), (ContactKind.LANDLINE, "+441632960441")]
    jersey = _adult(session, "Brigitte")  # a six-digit local number, no area code
    assert [p.value for p in jersey.contact_points] == ["brigitte.lm@example.je"]
    tariq = _adult(session, "Tariq")  # unallocated mobile range dropped, fax ignored, alternate home kept
    assert [(p.kind, p.value) for p in tariq.contact_points] == [
        (ContactKind.LANDLINE, "+441632960554"), (ContactKind.EMAIL, "tariq.hussain@example.org")]


def test_household_phones_belong_to_the_adults_at_the_pupils_address(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    home = "+441632960441"  # Pupil/Phones in SIMS: the family's landline
    holders = {a.forename for a in session.scalars(select(Adult).join(ContactPoint).where(ContactPoint.value == home))}
    assert holders == {"Agnieszka", "Steven"}  # AddressAsPupil: mother and step-father, not the father elsewhere
    steven = _adult(session, "Steven")
    assert [(p.kind, p.sms_capable) for p in steven.contact_points] == [(ContactKind.LANDLINE, False)]


def test_a_minicom_is_recorded_never_as_a_phone_to_call_or_text(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    nasreen = _adult(session, "Nasreen")
    assert [(p.kind, p.value, p.sms_capable) for p in nasreen.contact_points] == [
        (ContactKind.MOBILE, "+447700900551", True), (ContactKind.MINICOM, "+441632960552", False)]


def test_every_relationship_v2_code_is_imported_as_given(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    codes = set(session.scalars(select(PupilContact.relationship_code)))
    assert codes == set(RELATIONSHIPS_V2)


def test_dfe_language_codes_are_the_dfes_not_iso_guesses(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    languages = {p.forename: (p.home_language, p.home_language_dfe) for p in session.scalars(select(Pupil))}
    assert languages["Josué"] == ("rn", "KIR")  # Kirundi, not Kyrgyz
    assert languages["Bence"] == ("hu", "HGR")
    assert languages["Anna"] == ("lv", "LTV")
    assert languages["Nethmi"] == ("si", "SNH")
    assert languages["Selam"] == ("ti", "TGR")
    assert languages["Amaan"] == ("ur", "PNJM")  # Mirpuri families read Shahmukhi: Urdu, not Gurmukhi
    assert languages["Zoë"] == ("pl", "POL")


def _variant(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode(encoding, errors="xmlcharrefreplace")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


@pytest.mark.parametrize("variant", ["namespaced", "utf-8 with BOM", "ISO-8859-1"])
def test_namespaced_bom_and_latin1_files_import_exactly_like_the_plain_one(
    session: Session, tmp_path: Path, variant: str
) -> None:
    import_ctf(session, SIMS)
    expected = _snapshot(session)
    session.rollback()
    assert row_counts(session)["pupil"] == 0
    text = SIMS.read_text(encoding="utf-8")
    if variant == "namespaced":
        path = _variant(tmp_path, "ns.xml", text.replace("<CTfile>", '<CTfile xmlns="urn:dfe:ctf:19.0">'))
    elif variant == "utf-8 with BOM":
        path = _variant(tmp_path, "bom.xml", text, bom=True)
    else:
        latin = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        path = _variant(tmp_path, "latin1.xml", latin, encoding="iso-8859-1")
        assert "Zo\xeb".encode("iso-8859-1") in path.read_bytes()  # a real Latin-1 byte, not a reference
    summary = import_ctf(session, path)
    session.commit()
    assert _snapshot(session) == expected
    assert len(summary.warnings) == 5
    assert summary.pupils.created == 8 and summary.contacts.created == 21


def test_latin1_bytes_without_an_encoding_declaration_are_refused_with_a_hint(
    session: Session, tmp_path: Path
) -> None:
    text = re.sub(r"<\?xml[^>]*\?>", "", SIMS.read_text(encoding="utf-8"))
    path = _variant(tmp_path, "undeclared.xml", text, encoding="iso-8859-1")
    with pytest.raises(InputError) as caught:
        import_ctf(session, path)
    (problem,) = caught.value.problems
    assert "not well-formed XML" in problem.message and "must name its encoding" in problem.message
    session.rollback()
    assert row_counts(session)["pupil"] == 0


def test_strict_refuses_the_sims_file_and_writes_nothing(session: Session) -> None:
    with pytest.raises(InputError) as caught:
        import_ctf(session, SIMS, strict=True)
    assert [p.value for p in caught.value.problems] == ["07749 21789", "0400 123 4567", "234981"]
    assert all(p.severity == "error" for p in caught.value.problems)
    session.rollback()
    assert sum(row_counts(session).values()) == 0


def test_reimporting_the_sims_file_changes_nothing(session: Session) -> None:
    import_ctf(session, SIMS)
    session.commit()
    again = import_ctf(session, SIMS)
    session.commit()
    assert not again.changed
